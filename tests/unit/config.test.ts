import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/engine/model/config';

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
      /num_hidden_layers must be a positive integer, got 2\.5/,
    ],
    [
      'a size given as a string',
      { ...base, vocab_size: '400' },
      /vocab_size must be a positive integer, got "400"/,
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
