/**
 * Adapter files as Hugging Face PEFT writes and reads them (`adapter_config.json` +
 * `adapter_model.safetensors`, tensors named `base_model.model.<module>.lora_A.weight` [r, in]
 * and `…lora_B.weight` [out, r]), so adapters move freely between this engine and
 * `PeftModel.from_pretrained`; and a merged model in the Hub layout (config.json +
 * model.safetensors) that transformers loads as a plain checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config';
import { parseSafetensors, serializeSafetensors } from '../model/safetensors';
import type { ModelWeights } from '../model/weights';
import { LoraAdapter, type LoraSettings } from './lora';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** The PEFT version whose config layout is written (every key it writes, in its order). */
const PEFT_VERSION = '0.21.0';

export interface AdapterFiles {
  /** adapter_config.json, as text. */
  config: string;
  /** adapter_model.safetensors */
  weights: Uint8Array;
}

const TENSOR_NAME = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

function tensorName(path: string, matrix: 'A' | 'B'): string {
  return `base_model.model.${path}.lora_${matrix}.weight`;
}

/** The config PEFT 0.21 saves for a plain LoRA with these settings (keys sorted, as it does). */
export function peftAdapterConfig(settings: LoraSettings, baseModel: string): object {
  return {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: settings.alpha,
    lora_bias: false,
    lora_dropout: settings.dropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    monteclora_config: null,
    peft_type: 'LORA',
    peft_version: PEFT_VERSION,
    qalora_group_size: 16,
    r: settings.rank,
    rank_pattern: {},
    revision: null,
    target_modules: [...settings.targets],
    target_parameters: null,
    task_type: 'CAUSAL_LM',
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: false,
    velora_config: null,
  };
}

export async function exportPeftAdapter(
  adapter: LoraAdapter,
  baseModel: string,
): Promise<AdapterFiles> {
  const tensors = [];
  for (const { path, a, b } of adapter.modules.values()) {
    tensors.push({ name: tensorName(path, 'A'), shape: a.shape, data: await floats(a) });
    tensors.push({ name: tensorName(path, 'B'), shape: b.shape, data: await floats(b) });
  }
  return {
    config: JSON.stringify(peftAdapterConfig(adapter.settings, baseModel), null, 2) + '\n',
    weights: serializeSafetensors(tensors, { format: 'pt' }),
  };
}

async function floats(tensor: tf.Tensor): Promise<Float32Array> {
  return (await tensor.data()) as Float32Array;
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

/** Reads the LoRA settings out of adapter_config.json, refusing features this engine lacks. */
export function parsePeftAdapterConfig(text: string): {
  settings: LoraSettings;
  baseModel: string | null;
} {
  const where = ADAPTER_CONFIG_FILE;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${where}: expected a JSON object`);
  }
  const config = json as Record<string, unknown>;
  if (config.peft_type !== 'LORA') {
    throw new Error(
      `${where}: peft_type is ${JSON.stringify(config.peft_type)}, only "LORA" loads`,
    );
  }
  const number = (field: string, fallback?: number): number => {
    const value = config[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`${where}: "${field}" must be a number, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  for (const [field, meaning] of [
    ['use_dora', 'DoRA'],
    ['use_rslora', 'rank-stabilised scaling'],
    ['fan_in_fan_out', 'transposed (Conv1D) weights'],
    ['modules_to_save', 'fully trained extra modules'],
    ['rank_pattern', 'per-module ranks'],
    ['alpha_pattern', 'per-module alphas'],
    ['lora_bias', 'LoRA biases'],
  ] as const) {
    if (!isEmpty(config[field])) {
      throw new Error(
        `${where}: "${field}" asks for ${meaning}, which this engine does not support`,
      );
    }
  }
  if (config.bias !== undefined && config.bias !== 'none') {
    throw new Error(`${where}: "bias" is ${JSON.stringify(config.bias)}, only "none" is supported`);
  }
  const targets = config.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) {
    throw new Error(
      `${where}: "target_modules" must be a list of module names, got ${JSON.stringify(targets)}`,
    );
  }
  const baseModel = config.base_model_name_or_path;
  return {
    settings: {
      targets: targets as string[],
      rank: number('r'),
      alpha: number('lora_alpha'),
      dropout: number('lora_dropout', 0),
    },
    baseModel: typeof baseModel === 'string' ? baseModel : null,
  };
}

/** Builds an adapter for `weights` from PEFT's two files; shapes are checked against the model. */
export function importPeftAdapter(files: AdapterFiles, weights: ModelWeights): LoraAdapter {
  const { settings } = parsePeftAdapterConfig(files.config);
  const file = parseSafetensors(files.weights, ADAPTER_WEIGHTS_FILE);
  const matrices = new Map<string, { A?: string; B?: string }>();
  for (const name of file.entries.keys()) {
    const match = TENSOR_NAME.exec(name);
    if (!match) {
      throw new Error(`${ADAPTER_WEIGHTS_FILE}: '${name}' is not a LoRA A or B weight`);
    }
    const [, path, matrix] = match as unknown as [string, string, 'A' | 'B'];
    matrices.set(path, { ...matrices.get(path), [matrix]: name });
  }
  if (matrices.size === 0) throw new Error(`${ADAPTER_WEIGHTS_FILE} holds no LoRA weights`);
  const tensors: { path: string; a: tf.Tensor2D; b: tf.Tensor2D }[] = [];
  for (const [path, { A, B }] of matrices) {
    const missing = A === undefined ? 'lora_A' : B === undefined ? 'lora_B' : null;
    if (missing) throw new Error(`${ADAPTER_WEIGHTS_FILE}: '${path}' has no ${missing} weight`);
    const [aShape, bShape] = [file.entries.get(A!)!.shape, file.entries.get(B!)!.shape];
    if (aShape.length !== 2 || bShape.length !== 2 || aShape[0] !== settings.rank) {
      throw new Error(
        `${ADAPTER_WEIGHTS_FILE}: '${path}' has A [${aShape.join(', ')}] and B [${bShape.join(', ')}], expected [${settings.rank}, in] and [out, ${settings.rank}]`,
      );
    }
    tensors.push({
      path,
      a: tf.tensor2d(file.readFloat32(A!), aShape as [number, number]),
      b: tf.tensor2d(file.readFloat32(B!), bShape as [number, number]),
    });
  }
  const adapter = LoraAdapter.fromTensors(settings, tensors);
  try {
    adapter.checkFits(weights);
  } catch (error) {
    adapter.dispose();
    throw error;
  }
  return adapter;
}

/** config.json for `config`, with the keys transformers reads for Llama and Qwen2. */
export function hubConfig(config: ModelConfig): Record<string, unknown> {
  const isQwen2 = config.architecture === 'Qwen2ForCausalLM';
  const rope = config.ropeScaling;
  return {
    architectures: [config.architecture],
    model_type: isQwen2 ? 'qwen2' : 'llama',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: rope && {
      rope_type: rope.type,
      factor: rope.factor,
      low_freq_factor: rope.lowFreqFactor,
      high_freq_factor: rope.highFreqFactor,
      original_max_position_embeddings: rope.originalMaxPositionEmbeddings,
    },
    max_position_embeddings: config.maxPositionEmbeddings,
    tie_word_embeddings: config.tieWordEmbeddings,
    ...(isQwen2 ? {} : { attention_bias: config.attentionBias, mlp_bias: config.mlpBias }),
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    torch_dtype: 'float32',
  };
}

export interface HubModelFiles {
  /** config.json, as text. */
  config: string;
  /** model.safetensors, every weight in float32. */
  weights: Uint8Array;
}

/**
 * The model with `adapter` folded in (W + scale·B·A for each adapted linear), in the Hub layout.
 * The loaded weights are left as they are.
 */
export async function exportMergedModel(
  config: ModelConfig,
  weights: ModelWeights,
  adapter: LoraAdapter | null,
): Promise<HubModelFiles> {
  adapter?.checkFits(weights);
  const tensors = [];
  for (const [name, variable] of weights) {
    const merged = adapter?.mergedWeight(name.replace(/\.weight$/, ''), variable) ?? null;
    tensors.push({ name, shape: variable.shape, data: await floats(merged ?? variable) });
    merged?.dispose();
  }
  return {
    config: JSON.stringify(hubConfig(config), null, 2) + '\n',
    weights: serializeSafetensors(tensors, { format: 'pt' }),
  };
}
