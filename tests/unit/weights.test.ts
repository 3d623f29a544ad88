import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { parseModelConfig, type ModelConfig } from '../../src/engine/model/config';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/model/safetensors';
import {
  countParameters,
  disposeModelWeights,
  estimateModelMemory,
  loadModelWeights,
  parameterShapes,
} from '../../src/engine/model/weights';

beforeAll(async () => {
  await selectBackend('wasm');
});

function fixtureText(path: string): string {
  return readFileSync(new URL(`../fixtures/models/${path}`, import.meta.url), 'utf8');
}

function fixtureModel(model: string) {
  const config = parseModelConfig(JSON.parse(fixtureText(`${model}/config.json`)));
  const bytes = readFileSync(
    new URL(`../fixtures/models/${model}/model.safetensors`, import.meta.url),
  );
  return { config, file: parseSafetensors(new Uint8Array(bytes), 'model.safetensors') };
}

/** A copy of `file`'s F32 tensors with some renamed, dropped, reshaped or added. */
function edited(
  source: ReturnType<typeof fixtureModel>['file'],
  edit: (tensors: { name: string; shape: number[]; data: Float32Array }[]) => void,
  fileName = 'edited.safetensors',
) {
  const tensors = [...source.entries.values()].map((entry) => ({
    name: entry.name,
    shape: entry.shape,
    data: source.readFloat32(entry.name),
  }));
  edit(tensors);
  return parseSafetensors(serializeSafetensors(tensors), fileName);
}

describe('parameter counts and memory estimates', () => {
  it('counts exactly the tensors transformers saved', () => {
    for (const model of ['tiny-llama', 'tiny-llama3', 'tiny-qwen2']) {
      const { config, file } = fixtureModel(model);
      const saved = [...file.entries.values()].reduce(
        (total, entry) => total + entry.shape.reduce((a, b) => a * b, 1),
        0,
      );
      expect(countParameters(config)).toBe(saved);
      expect(
        parameterShapes(config)
          .map(([name]) => name)
          .sort(),
      ).toEqual([...file.entries.keys()].sort());
    }
  });

  const qwen25 = parseModelConfig({
    architectures: ['Qwen2ForCausalLM'],
    vocab_size: 151936,
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    max_position_embeddings: 32768,
    rope_theta: 1000000.0,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    eos_token_id: 151643,
  });

  it('matches the published sizes of Qwen2.5-0.5B and Llama-3.2-1B', () => {
    expect(countParameters(qwen25)).toBe(494_032_768);
    const llama32: ModelConfig = {
      ...qwen25,
      architecture: 'LlamaForCausalLM',
      vocabSize: 128256,
      hiddenSize: 2048,
      intermediateSize: 8192,
      numLayers: 16,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      attentionBias: false,
    };
    expect(countParameters(llama32)).toBe(1_235_814_400);
  });

  it('estimates float32 parameter bytes, the KV cache and the largest tensor', () => {
    const estimate = estimateModelMemory(qwen25, 1024, 2);
    expect(estimate.parameterBytes).toBe(494_032_768 * 4);
    // keys + values × 24 layers × batch 2 × 2 KV heads × 64 dims × 1024 tokens × 4 bytes
    expect(estimate.kvCacheBytes).toBe(2 * 24 * 2 * 2 * 64 * 1024 * 4);
    expect(estimate.largestTensorName).toBe('model.embed_tokens.weight');
    expect(estimate.largestTensorBytes).toBe(151936 * 896 * 4);
    expect(estimate.totalBytes).toBe(estimate.parameterBytes + estimate.kvCacheBytes);
  });
});

describe('loadModelWeights', () => {
  it('builds non-trainable float32 variables holding the stored values', async () => {
    const { config, file } = fixtureModel('tiny-llama3');
    const { weights, warnings } = await loadModelWeights(config, [file]);
    expect(warnings).toEqual([]);
    expect(weights.has('lm_head.weight')).toBe(false);
    const q = weights.get('model.layers.1.self_attn.q_proj.weight')!;
    expect(q.shape).toEqual([64, 32]);
    expect(q.dtype).toBe('float32');
    expect(q.trainable).toBe(false);
    expect(await q.data()).toEqual(file.readFloat32('model.layers.1.self_attn.q_proj.weight'));
    disposeModelWeights(weights);
  });

  it('widens F16 checkpoints and joins shards', async () => {
    const { config, file } = fixtureModel('tiny-llama-f16');
    const { weights } = await loadModelWeights(config, [file]);
    expect(weights.size).toBe(parameterShapes(config).length);
    disposeModelWeights(weights);

    const qwen = fixtureModel('tiny-qwen2');
    const index = JSON.parse(fixtureText('tiny-qwen2-sharded/model.safetensors.index.json')) as {
      weight_map: Record<string, string>;
    };
    const shards = [...new Set(Object.values(index.weight_map))].map((shard) =>
      parseSafetensors(
        new Uint8Array(
          readFileSync(new URL(`../fixtures/models/tiny-qwen2-sharded/${shard}`, import.meta.url)),
        ),
        shard,
      ),
    );
    expect(shards.length).toBe(4);
    const sharded = await loadModelWeights(qwen.config, shards);
    const bias = sharded.weights.get('model.layers.0.self_attn.k_proj.bias')!;
    expect(await bias.data()).toEqual(
      qwen.file.readFloat32('model.layers.0.self_attn.k_proj.bias'),
    );
    disposeModelWeights(sharded.weights);
  });

  it('names a missing tensor and its expected shape', async () => {
    const { config, file } = fixtureModel('tiny-qwen2');
    const broken = edited(file, (tensors) => {
      tensors.splice(
        tensors.findIndex((t) => t.name === 'model.layers.1.self_attn.v_proj.bias'),
        1,
      );
    });
    await expect(loadModelWeights(config, [broken])).rejects.toThrow(
      "the checkpoint has no tensor 'model.layers.1.self_attn.v_proj.bias' (expected shape [16]; looked in edited.safetensors)",
    );
  });

  it('names a tensor whose shape disagrees with the config, with both shapes', async () => {
    const { config, file } = fixtureModel('tiny-llama');
    await expect(loadModelWeights({ ...config, intermediateSize: 48 }, [file])).rejects.toThrow(
      "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [64, 32] but config.json implies [48, 32]",
    );
  });

  it('refuses a tensor present in two shards', async () => {
    const { config, file } = fixtureModel('tiny-llama');
    const other = edited(file, () => {}, 'other.safetensors');
    await expect(loadModelWeights(config, [file, other])).rejects.toThrow(
      /tensor '.+' appears in both model\.safetensors and other\.safetensors/,
    );
  });

  it('warns about, and ignores, tensors the model does not use', async () => {
    const { config, file } = fixtureModel('tiny-llama3');
    const extra = edited(file, (tensors) => {
      tensors.push({ name: 'lm_head.weight', shape: [400, 32], data: new Float32Array(400 * 32) });
      tensors.push({
        name: 'model.layers.0.self_attn.rotary_emb.inv_freq',
        shape: [8],
        data: new Float32Array(8),
      });
    });
    const { weights, warnings } = await loadModelWeights(config, [extra]);
    expect(weights.has('lm_head.weight')).toBe(false);
    expect(warnings).toEqual([
      "edited.safetensors: ignored tensor 'lm_head.weight', which the model does not use (tie_word_embeddings is true, so the embedding matrix is used instead)",
      "edited.safetensors: ignored tensor 'model.layers.0.self_attn.rotary_emb.inv_freq', which the model does not use",
    ]);
    disposeModelWeights(weights);
  });

  it('disposes what it built when cancelled part-way, and leaks nothing across loads', async () => {
    const { config, file } = fixtureModel('tiny-qwen2');
    const before = tf.memory().numTensors;
    let calls = 0;
    const cancelAtTen = async () => {
      calls += 1;
      if (calls === 10) throw new Error('cancelled');
    };
    await expect(loadModelWeights(config, [file], cancelAtTen)).rejects.toThrow('cancelled');
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < 3; i++) {
      const { weights } = await loadModelWeights(config, [file]);
      expect(tf.memory().numTensors).toBe(before + weights.size);
      disposeModelWeights(weights);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
