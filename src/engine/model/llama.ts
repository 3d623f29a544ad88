/**
 * The decoder-only transformer of Llama and Qwen2 (LlamaForCausalLM, Qwen2ForCausalLM), one
 * forward pass read top to bottom. The two differ only in details the config carries (Qwen2 has
 * q/k/v biases; Llama 3 scales RoPE and may tie the output layer to the embedding).
 *
 *   embed tokens
 *   for each layer:
 *     h = h + o_proj(attention(rope(q_proj(norm(h))), rope(k_proj(norm(h))), v_proj(norm(h))))
 *     h = h + down_proj(silu(gate_proj(norm(h))) · up_proj(norm(h)))
 *   logits = lm_head(norm(h))
 *
 * Weights keep Hugging Face's names and layouts (a linear's weight is [out, in]), and every
 * linear goes through an optional `LinearAdapter` so LoRA can plug in without touching this file.
 * A matrix may be stored as float16 pairs (float16.ts): products then read it packed, and the
 * embedding's gathered rows are widened.
 * `forward` runs a whole sequence and is differentiable (training uses it); `forwardCached`
 * appends tokens to a `KvCache` and returns only the last position's logits (generation uses it).
 * With our kernels on, `forwardCached` runs RMSNorm, RoPE with the split into heads, attention
 * and SwiGLU as one kernel each on every backend (decodeOps.ts), which have no gradients;
 * `forward`'s RMSNorm, RoPE with the split into heads, attention's softmax, the merge of its heads
 * and SwiGLU are one kernel each with a gradient of our own (trainingOps.ts) where the backend
 * has those kernels (webgpu all of them; cpu and wasm some). Otherwise both run the same stock ops.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import type { KvCache } from './kvCache';
import { multiplyByTransposedWeight } from '../wasmKernels';
import { gatherRows, isPackedHalves, multiplyByTransposedHalves } from './float16';
import {
  fusedAttention,
  fusedHeads,
  fusedRmsNorm,
  fusedSwiGlu,
  ownInferenceKernelsActive,
} from '../decodeOps';
import {
  headsWithGradient,
  mergeHeadsWithGradient,
  ownTrainingOpActive,
  rmsNormWithGradient,
  scaledSoftmax,
  swiGluWithGradient,
  type RotaryPositions,
} from '../trainingOps';
import { applyRotary, rotaryAt, rotaryTable, type RotaryTable4D } from './rope';
import type { ModelWeights } from './weights';

/**
 * Every nn.Linear of the model goes through this hook when given: `path` is the HF module path
 * without '.weight' (e.g. 'model.layers.3.self_attn.q_proj', or 'lm_head'); `input` is the
 * linear's input [B, T, in], `output` the base result [B, T, out] (bias included); the hook
 * returns the output to use.
 */
export interface LinearAdapter {
  adapt(path: string, input: tf.Tensor, output: tf.Tensor): tf.Tensor;
}

export interface ForwardOptions {
  /** [B, T]: 1 for a real token, 0 for padding, which no token attends to. Default: all 1. */
  attentionMask?: tf.Tensor2D;
  adapter?: LinearAdapter;
}

/**
 * Logits [B, T, vocab] for token ids [B, T] (int32), positions numbered 0…T-1 in every row as
 * transformers does without a cache (padding is masked, not skipped). Differentiable; reads no
 * data back.
 */
export function forward(
  config: ModelConfig,
  weights: ModelWeights,
  inputIds: tf.Tensor2D,
  options: ForwardOptions = {},
): tf.Tensor3D {
  const [batch, length] = inputIds.shape;
  return tf.tidy(() => {
    const keyMask = options.attentionMask?.toFloat() ?? tf.ones([batch, length]);
    const positions = tf.range(0, length, 1, 'int32').expandDims(0).tile([batch, 1]) as tf.Tensor2D;
    const model = new Decoder(config, weights, options.adapter);
    const table = rotaryTable(config, length);
    const hidden = model.run(inputIds, {
      rotary: ownTrainingOpActive('heads') ? { ...table, positions } : rotaryAt(table, positions),
      bias: attentionBias(keyMask, 0, length),
      keysAndValues: (_layer, keys, values) => [keys, values],
    });
    return model.logits(hidden);
  });
}

/**
 * Appends token ids [B, T] to the cache (running them through the model) and returns the
 * logits of the last position [B, vocab]. `attentionMask` [B, T] marks padding in a
 * left-padded prompt; position ids count each row's real tokens, as in transformers' generate.
 */
export function forwardCached(
  config: ModelConfig,
  weights: ModelWeights,
  inputIds: tf.Tensor2D,
  cache: KvCache,
  options: ForwardOptions = {},
): tf.Tensor2D {
  const [batch, length] = inputIds.shape;
  return tf.tidy(() => {
    const tokenMask = options.attentionMask ?? (tf.ones([batch, length]) as tf.Tensor2D);
    const { start, positions } = cache.append(tokenMask);
    const fused = ownInferenceKernelsActive(cache.capacity);
    const model = new Decoder(config, weights, options.adapter, fused);
    const keysAndValues: AttentionInputs['keysAndValues'] = (layer, keys, values) =>
      cache.store(layer, keys, values, start);
    const hidden = model.run(
      inputIds,
      fused
        ? {
            fused: { ...cache.rotary, positions, slotMask: cache.slotMask, queryStart: start },
            keysAndValues,
          }
        : {
            rotary: rotaryAt(cache.rotary, positions),
            bias: attentionBias(cache.slotMask, start, length),
            keysAndValues,
          },
    );
    const last = hidden.slice([0, length - 1, 0], [batch, 1, config.hiddenSize]);
    return model.logits(last).reshape([batch, config.vocabSize]);
  });
}

interface StockAttentionInputs {
  /** The table at each token's position (stock ops), or the table and the positions (ours). */
  rotary: RotaryTable4D | RotaryPositions;
  /** Added to the attention scores: [B, 1, T, S], 0 where allowed, very negative elsewhere. */
  bias: tf.Tensor4D;
}

/** What our fused programs take instead: they look the rotary table and the mask up themselves. */
interface FusedAttentionInputs {
  fused: {
    /** The rotary table [positions, headDim/2]. */
    cos: tf.Tensor2D;
    sin: tf.Tensor2D;
    /** Position ids [B, T] (int32). */
    positions: tf.Tensor2D;
    /** [B, S]: 1 where a key slot holds a real token. */
    slotMask: tf.Tensor2D;
    /** The slot of the first query. */
    queryStart: number;
  };
}

type AttentionInputs = (StockAttentionInputs | FusedAttentionInputs) & {
  /** The keys and values to attend to: the new ones alone, or the cache they were written to. */
  keysAndValues(layer: number, keys: tf.Tensor4D, values: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D];
};

/**
 * Query t (in slot `queryStart + t`) may see key slot s when s is not padding and s ≤ its own
 * slot. Masked scores get -1e9 rather than -Infinity so that a query with nothing to see (a pad
 * query) averages evenly instead of turning into NaN.
 */
export function attentionBias(
  keyMask: tf.Tensor2D,
  queryStart: number,
  queries: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, slots] = keyMask.shape;
    const keySlots = tf.range(0, slots, 1, 'int32').reshape([1, slots]);
    const querySlots = tf.range(queryStart, queryStart + queries, 1, 'int32').reshape([queries, 1]);
    const causal = keySlots.lessEqual(querySlots).toFloat();
    const allowed = causal
      .reshape([1, 1, queries, slots])
      .mul(keyMask.reshape([batch, 1, 1, slots]));
    return allowed.sub(1).mul(1e9) as tf.Tensor4D;
  });
}

class Decoder {
  constructor(
    private readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    private readonly adapter: LinearAdapter | undefined,
    /** Whether to run our fused inference programs (no gradients). */
    private readonly fused = false,
  ) {}

  /** Final-norm hidden states [B, T, hidden] for token ids [B, T]. */
  run(inputIds: tf.Tensor2D, attention: AttentionInputs): tf.Tensor3D {
    const embedding = this.param('model.embed_tokens.weight');
    let hidden = gatherRows(embedding, inputIds) as tf.Tensor3D;
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      // Each layer in its own tidy: a layer's intermediates are freed before the next one runs
      // (a gradient tape keeps what backpropagation needs).
      const input = hidden;
      hidden = tf.tidy(() => this.layer(layer, input, attention));
    }
    return this.rmsNorm('model.norm', hidden);
  }

  private layer(layer: number, hidden: tf.Tensor3D, attention: AttentionInputs): tf.Tensor3D {
    const { attentionBias: qkvBias, mlpBias, architecture } = this.config;
    const prefix = `model.layers.${layer}`;

    const x = this.rmsNorm(`${prefix}.input_layernorm`, hidden);
    const context = this.selfAttention(layer, x, attention);
    // Llama's attention_bias covers o_proj too; Qwen2 biases q/k/v only.
    const outputBias = qkvBias && architecture === 'LlamaForCausalLM';
    hidden = hidden.add(this.linear(`${prefix}.self_attn.o_proj`, context, outputBias));

    const y = this.rmsNorm(`${prefix}.post_attention_layernorm`, hidden);
    const gate = this.linear(`${prefix}.mlp.gate_proj`, y, mlpBias);
    const up = this.linear(`${prefix}.mlp.up_proj`, y, mlpBias);
    return hidden.add(this.linear(`${prefix}.mlp.down_proj`, this.swiGlu(gate, up), mlpBias));
  }

  /** silu(gate) · up. */
  private swiGlu(gate: tf.Tensor3D, up: tf.Tensor3D): tf.Tensor3D {
    if (this.fused) return fusedSwiGlu(gate, up);
    if (ownTrainingOpActive('swiGlu')) return swiGluWithGradient(gate, up);
    return gate.mul(tf.sigmoid(gate)).mul(up);
  }

  /** Attention of normed hidden states x [B, T, hidden] over the layer's keys and values. */
  private selfAttention(layer: number, x: tf.Tensor3D, attention: AttentionInputs): tf.Tensor3D {
    const qkvBias = this.config.attentionBias;
    const prefix = `model.layers.${layer}.self_attn`;
    if ('fused' in attention) {
      const { numHeads, numKvHeads } = this.config;
      const { cos, sin, positions, slotMask, queryStart } = attention.fused;
      const rotary = { cos, sin, positions };
      const queries = fusedHeads(this.linear(`${prefix}.q_proj`, x, qkvBias), numHeads, rotary);
      const keys = fusedHeads(this.linear(`${prefix}.k_proj`, x, qkvBias), numKvHeads, rotary);
      const values = this.linear(`${prefix}.v_proj`, x, qkvBias);
      const [batch, length] = values.shape;
      // One token's heads [B, 1, heads·d] already lie in [B, heads, 1, d] order.
      const valueHeads =
        length === 1
          ? (values.reshape([batch, numKvHeads, 1, this.config.headDim]) as tf.Tensor4D)
          : fusedHeads(values, numKvHeads);
      const [allKeys, allValues] = attention.keysAndValues(layer, keys, valueHeads);
      return fusedAttention(queries, allKeys, allValues, slotMask, queryStart);
    }
    const { rotary } = attention;
    if ('positions' in rotary) {
      const { numHeads, numKvHeads } = this.config;
      const heads = (path: string, count: number, rotated?: RotaryPositions) =>
        headsWithGradient(this.linear(`${prefix}.${path}`, x, qkvBias), count, rotated);
      const queries = heads('q_proj', numHeads, rotary);
      const [allKeys, allValues] = attention.keysAndValues(
        layer,
        heads('k_proj', numKvHeads, rotary),
        heads('v_proj', numKvHeads),
      );
      return groupedQueryAttention(queries, allKeys, allValues, attention.bias);
    }
    const queries = this.splitHeads(this.linear(`${prefix}.q_proj`, x, qkvBias));
    const keys = this.splitHeads(this.linear(`${prefix}.k_proj`, x, qkvBias));
    const values = this.splitHeads(this.linear(`${prefix}.v_proj`, x, qkvBias));
    const [allKeys, allValues] = attention.keysAndValues(layer, applyRotary(keys, rotary), values);
    return groupedQueryAttention(applyRotary(queries, rotary), allKeys, allValues, attention.bias);
  }

  /** Output layer: lm_head, or the embedding matrix itself when the two are tied. */
  logits(hidden: tf.Tensor3D): tf.Tensor3D {
    const weight = this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    return this.project('lm_head', hidden, this.param(weight), null);
  }

  private param(name: string): tf.Tensor {
    const tensor = this.weights.get(name);
    if (!tensor) throw new Error(`the model's weights have no '${name}'`);
    return tensor;
  }

  private linear(path: string, x: tf.Tensor3D, hasBias: boolean): tf.Tensor3D {
    const bias = hasBias ? this.param(`${path}.bias`) : null;
    return this.project(path, x, this.param(`${path}.weight`), bias);
  }

  /** x [B, T, in] · weightᵀ (+ bias), weight in HF's [out, in] layout, through the adapter. */
  private project(
    path: string,
    x: tf.Tensor3D,
    weight: tf.Tensor,
    bias: tf.Tensor | null,
  ): tf.Tensor3D {
    const [batch, length, features] = x.shape;
    const multiply = isPackedHalves(weight)
      ? multiplyByTransposedHalves
      : multiplyByTransposedWeight;
    let rows = multiply(x.reshape([batch * length, features]), weight as tf.Tensor2D);
    if (bias) rows = rows.add(bias);
    const output = rows.reshape([batch, length, weight.shape[0]!]) as tf.Tensor3D;
    return this.adapter ? (this.adapter.adapt(path, x, output) as tf.Tensor3D) : output;
  }

  /** RMSNorm: x / sqrt(mean(x²) + eps) · weight. */
  private rmsNorm(path: string, x: tf.Tensor3D): tf.Tensor3D {
    const weight = this.param(`${path}.weight`);
    if (this.fused) return fusedRmsNorm(x, weight, this.config.rmsNormEps);
    if (ownTrainingOpActive('rmsNorm'))
      return rmsNormWithGradient(x, weight, this.config.rmsNormEps);
    return tf.tidy(() =>
      x.mul(x.square().mean(-1, true).add(this.config.rmsNormEps).rsqrt()).mul(weight),
    );
  }

  /** [B, T, heads·headDim] → [B, heads, T, headDim]. */
  private splitHeads(x: tf.Tensor3D): tf.Tensor4D {
    const [batch, length, width] = x.shape;
    const { headDim } = this.config;
    return x.reshape([batch, length, width / headDim, headDim]).transpose([0, 2, 1, 3]);
  }
}

/**
 * softmax(q·kᵀ/√d + bias)·v with fewer key/value heads than query heads: the `group` query heads
 * that share a key/value head are stacked along the time axis, so one batched matmul per layer
 * serves them all without copying the keys and values. q [B, H, T, d], keys/values
 * [B, kvHeads, S, d], bias [B, 1, T, S]; returns [B, T, H·d].
 */
export function groupedQueryAttention(
  queries: tf.Tensor4D,
  keys: tf.Tensor4D,
  values: tf.Tensor4D,
  bias: tf.Tensor4D,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, heads, length, headDim] = queries.shape;
    const kvHeads = keys.shape[1];
    const group = heads / kvHeads;
    const grouped = queries.reshape([batch, kvHeads, group * length, headDim]);
    const scores = tf.matMul(grouped, keys, false, true);
    const scale = 1 / Math.sqrt(headDim);
    const probs = ownTrainingOpActive('softmax')
      ? scaledSoftmax(scores as tf.Tensor4D, bias, scale)
      : tf.softmax(scores.mul(scale).add(group > 1 ? bias.tile([1, 1, group, 1]) : bias));
    const context = tf.matMul(probs, values).reshape([batch, heads, length, headDim]);
    if (ownTrainingOpActive('heads')) return mergeHeadsWithGradient(context as tf.Tensor4D);
    return context.transpose([0, 2, 1, 3]).reshape([batch, length, heads * headDim]) as tf.Tensor3D;
  });
}
