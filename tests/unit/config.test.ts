import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODEL_CONFIG_LIMITS, parseModelConfig } from '../../src/engine/model/config';

function fixtureConfig(model: string): Record<string, unknown> {
  const url = new URL(`../fixtures/models/${model}/config.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

describe('parseModelConfig on the transformers-written fixtures', () => {
  it('reads a GQA Llama with untied embeddings', () => {
    expect(parseModelConfig(fixtureConfig('tiny-llama'))).toEqual({
      architecture: 'LlamaForCausalLM',
      vocabSize: 400,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 8,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: null,
      maxPositionEmbeddings: 128,
      tieWordEmbeddings: false,
      attentionBias: false,
      mlpBias: false,
      bosTokenId: 0,
      eosTokenIds: [1],
    });
  });

  it('reads the rope_parameters layout the same as rope_theta + rope_scaling', () => {
    expect(parseModelConfig(fixtureConfig('tiny-llama-f16'))).toEqual(
      parseModelConfig(fixtureConfig('tiny-llama')),
    );
    expect(parseModelConfig(fixtureConfig('tiny-qwen2-bf16'))).toEqual(
      parseModelConfig(fixtureConfig('tiny-qwen2')),
    );
  });

  it('reads llama3 RoPE scaling, tied embeddings, an explicit head_dim and several EOS ids', () => {
    const config = parseModelConfig(fixtureConfig('tiny-llama3'));
    expect(config.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 64,
    });
    expect(config).toMatchObject({ headDim: 16, tieWordEmbeddings: true, eosTokenIds: [1, 4] });
    const newLayout = fixtureConfig('tiny-llama3');
    newLayout.rope_parameters = { ...(newLayout.rope_scaling as object), rope_theta: 10000 };
    delete newLayout.rope_scaling;
    delete newLayout.rope_theta;
    expect(parseModelConfig(newLayout)).toEqual(config);
  });

  it('gives Qwen2 q/k/v biases and no BOS', () => {
    expect(parseModelConfig(fixtureConfig('tiny-qwen2'))).toMatchObject({
      architecture: 'Qwen2ForCausalLM',
      vocabSize: 448,
      attentionBias: true,
      mlpBias: false,
      ropeTheta: 1_000_000,
      rmsNormEps: 1e-6,
      bosTokenId: null,
      eosTokenIds: [2],
    });
  });
});

describe('parseModelConfig defaults', () => {
  const minimal = {
    model_type: 'llama',
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  };
  it('takes num_key_value_heads = heads, head_dim = hidden/heads, architecture from model_type', () => {
    expect(parseModelConfig(minimal)).toMatchObject({
      architecture: 'LlamaForCausalLM',
      numKvHeads: 2,
      headDim: 4,
      ropeTheta: 10000,
      ropeScaling: null,
      tieWordEmbeddings: false,
      bosTokenId: null,
      eosTokenIds: [],
    });
  });
  it('reads a null optional field as absent', () => {
    const nulls = { ...minimal, num_key_value_heads: null, head_dim: null, rope_scaling: null };
    expect(parseModelConfig(nulls)).toEqual(parseModelConfig(minimal));
  });
  it('honours attention_bias and mlp_bias on Llama', () => {
    expect(parseModelConfig({ ...minimal, attention_bias: true, mlp_bias: true })).toMatchObject({
      attentionBias: true,
      mlpBias: true,
    });
  });
});

describe('parseModelConfig refuses what it cannot run, naming file and field', () => {
  const base = fixtureConfig('tiny-llama');
  const qwen = fixtureConfig('tiny-qwen2');
  const llama3 = fixtureConfig('tiny-llama3');
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /^my\.json: must hold a JSON object/],
    [
      'an unsupported architecture',
      { ...base, architectures: ['MistralForCausalLM'] },
      /my\.json: architecture "MistralForCausalLM" is not supported \(supported: LlamaForCausalLM, Qwen2ForCausalLM\)/,
    ],
    [
      'an unknown model_type without architectures',
      { ...base, architectures: undefined, model_type: 'gpt2' },
      /model_type "gpt2" with no architectures field is not supported/,
    ],
    [
      'linear RoPE scaling',
      { ...base, rope_scaling: { type: 'linear', factor: 2 } },
      /rope_scaling type "linear" is not supported/,
    ],
    [
      'dynamic RoPE scaling',
      { ...base, rope_scaling: { rope_type: 'dynamic', factor: 2 } },
      /rope_scaling type "dynamic" is not supported/,
    ],
    [
      'yarn in the rope_parameters layout',
      { ...base, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 4 } },
      /rope_parameters type "yarn" is not supported/,
    ],
    [
      'llama3 scaling missing a field',
      { ...llama3, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1 } },
      /missing required field rope_scaling\.high_freq_factor/,
    ],
    [
      'Qwen2 with a sliding window',
      { ...qwen, use_sliding_window: true },
      /use_sliding_window: true is not supported/,
    ],
    ['a missing size', { ...base, hidden_size: undefined }, /missing required field hidden_size/],
    [
      'a size that is not a positive integer',
      { ...base, num_hidden_layers: 2.5 },
      /num_hidden_layers must be a positive integer ≤ 256, got 2\.5/,
    ],
    [
      'a size given as a string',
      { ...base, vocab_size: '400' },
      /vocab_size must be a positive integer ≤ 1,048,576, got "400"/,
    ],
    [
      'heads not a multiple of KV heads',
      { ...base, num_key_value_heads: 3 },
      /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/,
    ],
    [
      'hidden size not divisible by heads with no head_dim',
      { ...base, hidden_size: 30, head_dim: undefined },
      /hidden_size \(30\) is not divisible by num_attention_heads \(4\)/,
    ],
    ['an odd head_dim', { ...base, head_dim: 7 }, /head_dim must be even/],
    ['another activation', { ...base, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    [
      'a negative eos id',
      { ...base, eos_token_id: [1, -2] },
      /eos_token_id must be a token id or a list of token ids, got \[1,-2\]/,
    ],
    [
      'an EOS id outside the vocabulary',
      { ...base, eos_token_id: [1, 400] },
      /eos_token_id 400 is outside the vocabulary \(vocab_size 400\)/,
    ],
    ['a zero norm epsilon', { ...base, rms_norm_eps: 0 }, /rms_norm_eps must be a positive number/],
  ];
  it.each(cases)('%s', (_label, json, message) => {
    expect(() => parseModelConfig(json, 'my.json')).toThrow(message);
  });
});

describe('parseModelConfig bounds', () => {
  /** Llama 3.1 405B's config.json: the largest sizes of a published Llama/Qwen2 checkpoint. */
  const llama405b = {
    architectures: ['LlamaForCausalLM'],
    vocab_size: 128256,
    hidden_size: 16384,
    intermediate_size: 53248,
    num_hidden_layers: 126,
    num_attention_heads: 128,
    num_key_value_heads: 8,
    max_position_embeddings: 131072,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
    bos_token_id: 128000,
    eos_token_id: [128001, 128008, 128009],
  };
  /** Qwen2.5-14B's sizes: a medium model that passes every bound. */
  const qwen14b = {
    architectures: ['Qwen2ForCausalLM'],
    vocab_size: 152064,
    hidden_size: 5120,
    intermediate_size: 13824,
    num_hidden_layers: 48,
    num_attention_heads: 40,
    num_key_value_heads: 8,
    max_position_embeddings: 131072,
    rope_theta: 1000000,
    eos_token_id: 151643,
  };

  it('reads a 14B model', () => {
    expect(parseModelConfig(qwen14b)).toMatchObject({ numLayers: 48, headDim: 128 });
  });

  it('refuses, by the parameters its sizes imply, a model too large to hold', () => {
    expect(() => parseModelConfig(llama405b)).toThrow(
      'config.json: its sizes imply 405.9 billion parameters, more than the 20 billion this engine can hold as float32',
    );
  });

  const limitCases = (
    [
      'num_hidden_layers',
      'hidden_size',
      'intermediate_size',
      'num_attention_heads',
      'num_key_value_heads',
      'head_dim',
      'vocab_size',
      'max_position_embeddings',
    ] as const
  ).map((field) => [field, MODEL_CONFIG_LIMITS[field]] as const);
  it.each(limitCases)('refuses %s above %d, naming the field', (field, limit) => {
    const message = `${field} must be a positive integer ≤ ${limit.toLocaleString('en-US')}, got ${limit + 1}`;
    expect(() => parseModelConfig({ ...qwen14b, [field]: limit + 1 })).toThrow(message);
  });

  it('refuses original_max_position_embeddings above the position limit', () => {
    const rope_scaling = { ...llama405b.rope_scaling, original_max_position_embeddings: 2 ** 21 };
    expect(() => parseModelConfig({ ...qwen14b, rope_scaling })).toThrow(
      'rope_scaling.original_max_position_embeddings must be a positive integer ≤ 1,048,576',
    );
  });

  it('accepts each size at its limit (the parameter count then decides)', () => {
    const tiny = { ...fixtureConfig('tiny-llama'), head_dim: undefined };
    expect(parseModelConfig({ ...tiny, num_hidden_layers: 256 }).numLayers).toBe(256);
    expect(parseModelConfig({ ...tiny, vocab_size: 1_048_576 }).vocabSize).toBe(1_048_576);
    expect(parseModelConfig({ ...tiny, max_position_embeddings: 1_048_576 })).toMatchObject({
      maxPositionEmbeddings: 1_048_576,
    });
  });

  it('refuses a NaN, Infinity or negative size', () => {
    for (const value of [Number.NaN, Infinity, -4, 0]) {
      expect(() => parseModelConfig({ ...qwen14b, hidden_size: value })).toThrow(
        `hidden_size must be a positive integer ≤ 65,536, got ${value}`,
      );
    }
  });

  it('names a required field that is absent or null', () => {
    const withoutLayers: Record<string, unknown> = { ...qwen14b };
    delete withoutLayers.num_hidden_layers;
    expect(() => parseModelConfig(withoutLayers)).toThrow(
      'config.json: missing required field num_hidden_layers',
    );
    expect(() => parseModelConfig({ ...qwen14b, vocab_size: null })).toThrow(
      'config.json: missing required field vocab_size',
    );
  });

  it('refuses a billion layers at once, before any tensor or shape list is made', () => {
    const before = tf.memory();
    // Sizing the model first (as loading did) builds eleven billion shapes and dies at the heap
    // limit minutes later; the refusal comes from the field's own bound.
    expect(() => parseModelConfig({ ...qwen14b, num_hidden_layers: 1_000_000_000 })).toThrow(
      'config.json: num_hidden_layers must be a positive integer ≤ 256, got 1000000000',
    );
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
  });
});
