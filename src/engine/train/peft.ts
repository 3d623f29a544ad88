/**
 * Adapter files as Hugging Face PEFT writes and reads them (`adapter_config.json` +
 * `adapter_model.safetensors`, tensors named `base_model.model.<module>.lora_A.weight` [r, in]
 * and `…lora_B.weight` [out, r]), so adapters move freely between this engine and
 * `PeftModel.from_pretrained`; and a merged model in the Hub layout (config.json +
 * model.safetensors) that transformers loads as a plain checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import * as v from 'valibot';
import type { ModelConfig } from '../model/config';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile } from '../model/safetensors';
import type { ModelWeights } from '../model/weights';
import { unpackHalves } from '../model/float16';
import { checkModulesFit, LoraAdapter, type LoraSettings } from './lora';
import { isLoraTarget, LORA_TARGETS } from './targets';
import {
  dropoutSchema,
  isDistinct,
  parseOrThrow,
  plainObjectSchema,
  positiveNumberSchema,
  shownValue,
  wholeNumberSchema,
} from '../validation';

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

const wrong =
  (field: string, rule: string) =>
  (issue: v.BaseIssue<unknown>): string =>
    `"${field}" must be ${rule}, got ${shownValue(issue.input)}`;

/** A PEFT option this engine lacks: accepted only when it is off (absent, null, false, empty). */
const unsupported = (field: string, meaning: string) =>
  v.optional(
    v.custom(
      (value) =>
        value === null ||
        value === false ||
        (Array.isArray(value) && value.length === 0) ||
        (typeof value === 'object' && Object.keys(value as object).length === 0),
      `"${field}" asks for ${meaning}, which this engine does not support`,
    ),
  );

const TARGETS_RULE = `a list of the projections LoRA applies to (${LORA_TARGETS.join(', ')})`;

/**
 * The keys of adapter_config.json this engine reads; the many others PEFT writes are ignored.
 * A LoRA feature that would change the adapter's meaning (DoRA, per-module ranks, …) is refused
 * rather than silently dropped.
 */
const AdapterConfigSchema = v.pipe(
  plainObjectSchema('expected a JSON object'),
  v.looseObject(
    {
      peft_type: v.literal(
        'LORA',
        (issue) => `peft_type is ${shownValue(issue.input)}, only "LORA" loads`,
      ),
      r: wholeNumberSchema(wrong('r', 'a whole number ≥ 1'), 1),
      lora_alpha: positiveNumberSchema(wrong('lora_alpha', 'a number > 0')),
      lora_dropout: v.nullish(dropoutSchema(wrong('lora_dropout', 'a number in [0, 1)')), 0),
      target_modules: v.pipe(
        v.array(v.string(), wrong('target_modules', TARGETS_RULE)),
        v.nonEmpty(wrong('target_modules', TARGETS_RULE)),
        v.check(
          (targets) => targets.every((target) => isLoraTarget(target)),
          wrong('target_modules', TARGETS_RULE),
        ),
        v.check(
          (targets) => isDistinct(targets),
          wrong('target_modules', 'a list that names each projection once'),
        ),
      ),
      bias: v.optional(
        v.literal(
          'none',
          (issue) => `"bias" is ${shownValue(issue.input)}, only "none" is supported`,
        ),
      ),
      use_dora: unsupported('use_dora', 'DoRA'),
      use_rslora: unsupported('use_rslora', 'rank-stabilised scaling'),
      fan_in_fan_out: unsupported('fan_in_fan_out', 'transposed (Conv1D) weights'),
      modules_to_save: unsupported('modules_to_save', 'fully trained extra modules'),
      rank_pattern: unsupported('rank_pattern', 'per-module ranks'),
      alpha_pattern: unsupported('alpha_pattern', 'per-module alphas'),
      lora_bias: unsupported('lora_bias', 'LoRA biases'),
      base_model_name_or_path: v.optional(v.unknown()),
    },
    (issue) => `"${String(issue.path?.at(-1)?.key)}" is missing`,
  ),
);

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
  const config = parseOrThrow(AdapterConfigSchema, json, where);
  const baseModel = config.base_model_name_or_path;
  return {
    settings: {
      targets: config.target_modules,
      rank: config.r,
      alpha: config.lora_alpha,
      dropout: config.lora_dropout,
    },
    baseModel: typeof baseModel === 'string' ? baseModel : null,
  };
}

interface AdapterModuleEntry {
  path: string;
  aName: string;
  bName: string;
  aShape: [number, number];
  bShape: [number, number];
}

/** The A/B pairs of the weights file, every name and shape checked against `settings`. */
function adapterModuleEntries(file: SafetensorsFile, settings: LoraSettings): AdapterModuleEntry[] {
  const fail = (message: string): never => {
    throw new Error(`${ADAPTER_WEIGHTS_FILE}: ${message}`);
  };
  const matrices = new Map<string, { A?: string; B?: string }>();
  for (const name of file.entries.keys()) {
    const match = TENSOR_NAME.exec(name);
    if (!match) fail(`'${name}' is not a LoRA A or B weight`);
    const [, path, matrix] = match as unknown as [string, string, 'A' | 'B'];
    matrices.set(path, { ...matrices.get(path), [matrix]: name });
  }
  if (matrices.size === 0) throw new Error(`${ADAPTER_WEIGHTS_FILE} holds no LoRA weights`);
  const { rank } = settings;
  return [...matrices].map(([path, { A, B }]) => {
    if (A === undefined || B === undefined) {
      return fail(`'${path}' has no ${A === undefined ? 'lora_A' : 'lora_B'} weight`);
    }
    const [aShape, bShape] = [file.entries.get(A)!.shape, file.entries.get(B)!.shape];
    if (aShape.length !== 2 || bShape.length !== 2 || aShape[0] !== rank || bShape[1] !== rank) {
      fail(
        `'${path}' has A [${aShape.join(', ')}] and B [${bShape.join(', ')}], expected [${rank}, in] and [out, ${rank}]`,
      );
    }
    return {
      path,
      aName: A,
      bName: B,
      aShape: aShape as [number, number],
      bShape: bShape as [number, number],
    };
  });
}

/** The tensor's values, refused when one is NaN or infinite (it would poison every output). */
function finiteValues(file: SafetensorsFile, name: string): Float32Array {
  const values = file.readFloat32(name);
  const index = values.findIndex((value) => !Number.isFinite(value));
  if (index >= 0) {
    throw new Error(
      `${ADAPTER_WEIGHTS_FILE}: '${name}' holds ${values[index]} at element ${index}; an adapter's weights must be finite`,
    );
  }
  return values;
}

/**
 * Builds an adapter for `weights` from PEFT's two files. Everything is checked (config, names,
 * ranks, values, fit to the model) before a tensor is made, so a refused import leaves nothing.
 */
export function importPeftAdapter(files: AdapterFiles, weights: ModelWeights): LoraAdapter {
  const { settings } = parsePeftAdapterConfig(files.config);
  const file = parseSafetensors(files.weights, ADAPTER_WEIGHTS_FILE);
  const entries = adapterModuleEntries(file, settings);
  checkModulesFit(
    entries.map(({ path, aShape, bShape }) => ({
      path,
      inFeatures: aShape[1],
      outFeatures: bShape[0],
    })),
    settings.targets,
    weights,
  );
  const values = entries.map(({ path, aName, bName, aShape, bShape }) => ({
    path,
    a: { data: finiteValues(file, aName), shape: aShape },
    b: { data: finiteValues(file, bName), shape: bShape },
  }));
  return LoraAdapter.fromTensors(
    settings,
    values.map(({ path, a, b }) => ({
      path,
      a: tf.tensor2d(a.data, a.shape),
      b: tf.tensor2d(b.data, b.shape),
    })),
  );
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
    const merged =
      adapter?.mergedWeight(name.replace(/\.weight$/, ''), variable) ?? unpackHalves(variable);
    tensors.push({ name, shape: merged.shape, data: await floats(merged) });
    if (merged !== variable) merged.dispose();
  }
  return {
    config: JSON.stringify(hubConfig(config), null, 2) + '\n',
    weights: serializeSafetensors(tensors, { format: 'pt' }),
  };
}
