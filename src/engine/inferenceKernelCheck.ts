/**
 * Our webgpu inference kernels (webgpuDecodeKernels.ts) checked against the stock op sequences on
 * the running backend, in the same process: each kernel on shapes of its own, then a small random
 * model's logits through a KV cache and its greedy decoding, with the kernel calls per decoded
 * token, tensor growth over repeated generations and the buffer pool left after them. The browser
 * tests call it through the engine (`compareWebGpuInference`) on SwiftShader.
 */
import * as tf from '@tensorflow/tfjs';
import { countKernelCalls } from './kernelCalls';
import type { ModelConfig } from './model/config';
import { generate, type GenerationModel } from './model/generate';
import { KvCache } from './model/kvCache';
import { attentionBias, forwardCached, groupedQueryAttention } from './model/llama';
import { applyRotary, rotaryAt, rotaryTable } from './model/rope';
import { GREEDY } from './model/sampling';
import { disposeModelWeights } from './model/weights';
import { streamSeed } from './random';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from './train/randomModel';
import {
  fusedAttention,
  fusedHeads,
  fusedRmsNorm,
  fusedSwiGlu,
  fusedWriteSlots,
  ownInferenceKernelRuns,
} from './webgpuDecodeKernels';
import { ownWebGpuKernelsEnabled, setOwnWebGpuKernels } from './webgpuKernels';
import { webGpuMemory } from './webgpuMemory';

export interface KernelAgreement {
  label: string;
  /** max |ours − stock| / max |stock|. */
  relativeError: number;
  /** Whether our program ran (false: the stock ops did both). */
  ranOwnProgram: boolean;
}

export interface InferenceComparison {
  kernels: KernelAgreement[];
  /** Logits of a left-padded batch through the KV cache, prompt pass and decode steps. */
  logitsRelativeError: number;
  /** Greedy continuations, stock and ours, of each prompt (a padded batch, then one alone). */
  stockTokens: number[][];
  ownTokens: number[][];
  /** GPU dispatches per decoded token, stock and ours. */
  dispatchesPerToken: { stock: number; own: number };
  /** Tensors alive after several generations minus before them, with our kernels. */
  tensorGrowth: number;
  /** Bytes the webgpu buffer pool still kept for reuse after a generation. */
  pooledBytesAfterGeneration: number;
}

const CONFIG: ModelConfig = SMALL_LLAMA_CONFIG;
const PROMPTS = [
  [5, 17, 99, 3, 250, 41, 7, 77, 12, 200, 8, 64],
  [9, 31, 2, 140, 66],
];
const NEW_TOKENS = 12;

function relativeError(ours: Float32Array, stock: Float32Array): number {
  let difference = 0;
  let scale = 0;
  for (let i = 0; i < stock.length; i++) {
    difference = Math.max(difference, Math.abs(ours[i]! - stock[i]!));
    scale = Math.max(scale, Math.abs(stock[i]!));
  }
  return scale === 0 ? difference : difference / scale;
}

async function valuesOf(result: tf.Tensor): Promise<Float32Array> {
  try {
    return (await result.data()) as Float32Array;
  } finally {
    result.dispose();
  }
}

async function compareKernel(
  label: string,
  stock: () => tf.Tensor,
  ours: () => tf.Tensor,
): Promise<KernelAgreement> {
  const expected = await valuesOf(tf.tidy(stock));
  const runsBefore = ownInferenceKernelRuns();
  const actual = await valuesOf(tf.tidy(ours));
  return {
    label,
    relativeError: relativeError(actual, expected),
    ranOwnProgram: ownInferenceKernelRuns() > runsBefore,
  };
}

function uniform(shape: number[], seed: number, stream: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', streamSeed(seed, stream));
}

/** x [B, T, heads·d] → [B, heads, T, d], as llama.ts splits heads. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [batch, length, width] = x.shape as [number, number, number];
  return x.reshape([batch, length, heads, width / heads]).transpose([0, 2, 1, 3]);
}

async function compareKernels(): Promise<KernelAgreement[]> {
  const { headDim, numHeads, numKvHeads, rmsNormEps } = CONFIG;
  const [batch, length, slots, start] = [2, 3, 64, 10];
  const x = uniform([batch, 5, numHeads * headDim], 1, 0);
  const weight = uniform([numHeads * headDim], 1, 1);
  const gate = uniform([batch, length, 128], 2, 0).mul(4);
  const up = uniform([batch, length, 128], 2, 1);
  const table = rotaryTable(CONFIG, 32);
  const positions = tf.tensor2d([3, 4, 5, 0, 0, 1], [batch, length], 'int32');
  const heads = uniform([batch, length, numHeads * headDim], 3, 0);
  // A cache holds zeros from the next free slot on.
  const filled = tf.tidy(() => {
    const used = tf.range(0, slots).less(start).toFloat().reshape([1, 1, slots, 1]);
    return uniform([batch, numKvHeads, slots, headDim], 4, 0).mul(used);
  });
  const entries = uniform([batch, numKvHeads, length, headDim], 4, 1);
  const queries = uniform([batch, numHeads, length, headDim], 5, 0).mul(3);
  const keys = uniform([batch, numKvHeads, slots, headDim], 5, 1);
  const values = uniform([batch, numKvHeads, slots, headDim], 5, 2);
  // Slots up to the queries' hold tokens; row 1 is left-padded, its first four slots hold none.
  const slotMask = tf.tensor2d(
    [0, 4].flatMap((padding) =>
      Array.from({ length: slots }, (_, s) => (s >= padding && s < start + length ? 1 : 0)),
    ),
    [batch, slots],
  );
  const rotary = { ...table, positions };
  try {
    return [
      await compareKernel(
        'rmsNorm',
        () => x.mul(x.square().mean(-1, true).add(rmsNormEps).rsqrt()).mul(weight),
        () => fusedRmsNorm(x, weight, rmsNormEps),
      ),
      await compareKernel(
        'swiGlu',
        () => gate.mul(tf.sigmoid(gate)).mul(up),
        () => fusedSwiGlu(gate, up),
      ),
      await compareKernel(
        'heads with rotary',
        () => applyRotary(splitHeads(heads, numHeads), rotaryAt(table, positions)),
        () => fusedHeads(heads as tf.Tensor3D, numHeads, rotary),
      ),
      await compareKernel(
        'heads',
        () => splitHeads(heads, numHeads),
        () => fusedHeads(heads as tf.Tensor3D, numHeads),
      ),
      await compareKernel(
        'write slots',
        () =>
          filled.add(
            tf.pad(entries, [
              [0, 0],
              [0, 0],
              [start, slots - start - length],
              [0, 0],
            ]),
          ),
        () => fusedWriteSlots(filled, entries, start, 2),
      ),
      await compareKernel(
        'attention',
        () =>
          groupedQueryAttention(
            queries as tf.Tensor4D,
            keys as tf.Tensor4D,
            values as tf.Tensor4D,
            attentionBias(slotMask, start, length),
          ),
        () =>
          fusedAttention(
            queries as tf.Tensor4D,
            keys as tf.Tensor4D,
            values as tf.Tensor4D,
            slotMask,
            start,
          ),
      ),
    ];
  } finally {
    tf.dispose([x, weight, gate, up, table.cos, table.sin, positions, heads, filled, entries]);
    tf.dispose([queries, keys, values, slotMask]);
  }
}

/** Logits [B, vocab] of the padded prompts' pass and of each decode step, feeding fixed tokens. */
async function cachedLogits(own: boolean, model: GenerationModel): Promise<Float32Array> {
  setOwnWebGpuKernels(own);
  const length = Math.max(...PROMPTS.map((p) => p.length));
  const ids = PROMPTS.flatMap((p) => [...Array<number>(length - p.length).fill(0), ...p]);
  const mask = PROMPTS.flatMap((p) => [
    ...Array<number>(length - p.length).fill(0),
    ...p.map(() => 1),
  ]);
  const cache = new KvCache(CONFIG, PROMPTS.length, 64);
  try {
    const steps = tf.tidy(() => {
      const logits = [
        forwardCached(
          model.config,
          model.weights,
          tf.tensor2d(ids, [PROMPTS.length, length], 'int32'),
          cache,
          { attentionMask: tf.tensor2d(mask, [PROMPTS.length, length], 'int32') },
        ),
      ];
      for (let step = 0; step < 6; step++) {
        const next = PROMPTS.map((_, row) => (step * 37 + row * 11) % CONFIG.vocabSize);
        logits.push(
          forwardCached(
            model.config,
            model.weights,
            tf.tensor2d(next, [PROMPTS.length, 1], 'int32'),
            cache,
          ),
        );
      }
      return tf.concat(logits);
    });
    return await valuesOf(steps);
  } finally {
    cache.dispose();
  }
}

async function greedyTokens(own: boolean, model: GenerationModel): Promise<number[][]> {
  setOwnWebGpuKernels(own);
  const decode = (prompts: number[][]) =>
    generate(model, prompts, { maxNewTokens: NEW_TOKENS, sampling: GREEDY, stopTokenIds: [] });
  const batch = await decode(PROMPTS);
  const alone = await decode([PROMPTS[0]!]);
  return [...batch.sequences, ...alone.sequences].map((s) => s.tokens);
}

async function dispatchesPerToken(own: boolean, model: GenerationModel): Promise<number> {
  setOwnWebGpuKernels(own);
  const decode = (maxNewTokens: number) =>
    countKernelCalls(() =>
      generate(model, [PROMPTS[0]!], { maxNewTokens, sampling: GREEDY, stopTokenIds: [] }),
    );
  const short = await decode(NEW_TOKENS);
  const long = await decode(2 * NEW_TOKENS);
  return (long.gpuDispatches! - short.gpuDispatches!) / NEW_TOKENS;
}

/** Runs every comparison; needs the webgpu backend. Leaves our kernels switched as it found them. */
export async function compareWebGpuInference(): Promise<InferenceComparison> {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`our webgpu kernels need the webgpu backend, not ${tf.getBackend()}`);
  }
  const wasEnabled = ownWebGpuKernelsEnabled();
  const model = { config: CONFIG, weights: randomModelWeights(CONFIG, 3, 0.2) };
  try {
    setOwnWebGpuKernels(true);
    const kernels = await compareKernels();
    const stockLogits = await cachedLogits(false, model);
    const ownLogits = await cachedLogits(true, model);
    const stockTokens = await greedyTokens(false, model);
    const ownTokens = await greedyTokens(true, model);
    const tensorsBefore = tf.memory().numTensors;
    await greedyTokens(true, model);
    await greedyTokens(true, model);
    const tensorGrowth = tf.memory().numTensors - tensorsBefore;
    return {
      kernels,
      logitsRelativeError: relativeError(ownLogits, stockLogits),
      stockTokens,
      ownTokens,
      dispatchesPerToken: {
        stock: await dispatchesPerToken(false, model),
        own: await dispatchesPerToken(true, model),
      },
      tensorGrowth,
      pooledBytesAfterGeneration: webGpuMemory()!.pooledBytes,
    };
  } finally {
    setOwnWebGpuKernels(wasEnabled);
    disposeModelWeights(model.weights);
  }
}
