/**
 * Reads a Hugging Face `config.json` into the fields the Llama/Qwen2 forward pass needs, refusing
 * anything it would compute wrongly (other architectures, RoPE variants, sliding windows).
 * Accepts both config layouts found on the Hub: `rope_theta` + `rope_scaling`, and the newer
 * `rope_parameters`.
 */
import * as v from 'valibot';
import {
  parseOrThrow,
  plainObjectSchema,
  positiveNumberSchema,
  shownValue,
  wholeNumberSchema,
} from '../validation';
import { countParameters } from './weights';

export interface RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export type Architecture = 'LlamaForCausalLM' | 'Qwen2ForCausalLM';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = [
  'LlamaForCausalLM',
  'Qwen2ForCausalLM',
];
const ARCHITECTURE_OF_MODEL_TYPE: Record<string, Architecture> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (always for Qwen2, `attention_bias` for Llama). */
  attentionBias: boolean;
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/**
 * The largest sizes config.json may give. Each is well above any Llama/Qwen2 checkpoint published
 * so far (Llama 3.1 405B has 126 layers, hidden 16384, intermediate 53248, 128 heads and a
 * 128256-token vocabulary; context windows reach 131072), so a real config passes and a mistyped
 * or hostile one (a billion layers) is refused before anything is sized from it.
 */
export const MODEL_CONFIG_LIMITS = {
  num_hidden_layers: 256,
  hidden_size: 65_536,
  intermediate_size: 262_144,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  vocab_size: 1_048_576,
  max_position_embeddings: 1_048_576,
  /**
   * Parameters the sizes imply: 20 billion is 80 GB as float32, beyond any memory a browser or
   * this engine's Node scripts can give a model, while every 14B model still passes.
   */
  parameters: 20e9,
} as const;

/** The message for `field` breaking `rule`; a field that is absent or null is missing. */
const wrong =
  (field: string, rule: string) =>
  (issue: v.BaseIssue<unknown>): string =>
    issue.input === undefined || issue.input === null
      ? `missing required field ${field}`
      : `${field} must be ${rule}, got ${shownValue(issue.input)}`;

/** The message of an object schema: a required key it lacks (the input is an object by then). */
const missingKey =
  (prefix = '') =>
  (issue: v.BaseIssue<unknown>): string =>
    `missing required field ${prefix}${String(issue.path?.at(-1)?.key)}`;

const size = (field: keyof typeof MODEL_CONFIG_LIMITS, prefix = '') => {
  const limit = MODEL_CONFIG_LIMITS[field];
  const rule = `a positive integer ≤ ${limit.toLocaleString('en-US')}`;
  return wholeNumberSchema(wrong(`${prefix}${field}`, rule), 1, limit);
};

const positiveNumber = (field: string) => positiveNumberSchema(wrong(field, 'a positive number'));

const flag = (field: string, fallback: boolean) =>
  v.nullish(v.boolean(wrong(field, 'true or false')), fallback);

function isTokenId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * The fields of config.json this engine reads, with their defaults when absent or null; other
 * keys are ignored. Checks that need several fields follow the fields' own.
 */
const ConfigJsonSchema = v.pipe(
  plainObjectSchema(() => 'must hold a JSON object'),
  v.looseObject(
    {
      architectures: v.optional(
        v.pipe(
          v.array(v.unknown(), wrong('architectures', 'a non-empty list')),
          v.nonEmpty(wrong('architectures', 'a non-empty list')),
        ),
      ),
      model_type: v.optional(v.unknown()),
      hidden_size: size('hidden_size'),
      intermediate_size: size('intermediate_size'),
      num_hidden_layers: size('num_hidden_layers'),
      num_attention_heads: size('num_attention_heads'),
      num_key_value_heads: v.nullish(size('num_key_value_heads')),
      head_dim: v.nullish(size('head_dim')),
      vocab_size: size('vocab_size'),
      max_position_embeddings: v.nullish(size('max_position_embeddings'), 2048),
      rms_norm_eps: v.nullish(positiveNumber('rms_norm_eps'), 1e-6),
      rope_theta: v.nullish(positiveNumber('rope_theta'), 10000),
      rope_scaling: v.nullish(
        plainObjectSchema(
          (issue) => `rope_scaling must be an object or null, got ${shownValue(issue.input)}`,
        ),
      ),
      rope_parameters: v.nullish(
        plainObjectSchema(
          (issue) => `rope_parameters must be an object, got ${shownValue(issue.input)}`,
        ),
      ),
      hidden_act: v.nullish(
        v.literal(
          'silu',
          (issue) => `hidden_act ${shownValue(issue.input)} is not supported (only "silu")`,
        ),
      ),
      pretraining_tp: v.nullish(
        v.literal(1, (issue) => `pretraining_tp ${shownValue(issue.input)} must be 1`),
      ),
      use_sliding_window: v.optional(v.unknown()),
      tie_word_embeddings: flag('tie_word_embeddings', false),
      attention_bias: flag('attention_bias', false),
      mlp_bias: flag('mlp_bias', false),
      bos_token_id: v.nullish(
        v.custom<number>(
          isTokenId,
          wrong('bos_token_id', 'a token id (non-negative integer) or null'),
        ),
        null,
      ),
      eos_token_id: v.nullish(
        v.custom<number | number[]>(
          (value) => isTokenId(value) || (Array.isArray(value) && value.every(isTokenId)),
          wrong('eos_token_id', 'a token id or a list of token ids'),
        ),
        [],
      ),
    },
    missingKey(),
  ),
  v.check(
    (json) =>
      json.num_attention_heads % (json.num_key_value_heads ?? json.num_attention_heads) === 0,
    (issue) =>
      `num_attention_heads (${issue.input.num_attention_heads}) must be a multiple of num_key_value_heads (${issue.input.num_key_value_heads})`,
  ),
  v.check(
    (json) =>
      (json.head_dim !== undefined && json.head_dim !== null) ||
      json.hidden_size % json.num_attention_heads === 0,
    (issue) =>
      `hidden_size (${issue.input.hidden_size}) is not divisible by num_attention_heads (${issue.input.num_attention_heads}) and no head_dim is given`,
  ),
  v.check(
    (json) => headDimOf(json) % 2 === 0,
    (issue) => `head_dim must be even for rotary embeddings, got ${headDimOf(issue.input)}`,
  ),
  v.check(
    (json) => tokenIdsOf(json).every(([, id]) => id < json.vocab_size),
    (issue) => {
      const [field, id] = tokenIdsOf(issue.input).find(([, id]) => id >= issue.input.vocab_size)!;
      return `${field} ${id} is outside the vocabulary (vocab_size ${issue.input.vocab_size})`;
    },
  ),
);
type ConfigJson = v.InferOutput<typeof ConfigJsonSchema>;

function headDimOf(json: {
  head_dim?: number | null | undefined;
  hidden_size: number;
  num_attention_heads: number;
}): number {
  return json.head_dim ?? json.hidden_size / json.num_attention_heads;
}

function tokenIdsOf(json: {
  bos_token_id: number | null;
  eos_token_id: number | number[];
}): [string, number][] {
  return [
    ...(json.bos_token_id === null
      ? []
      : [['bos_token_id', json.bos_token_id] as [string, number]]),
    ...[json.eos_token_id].flat().map((id): [string, number] => ['eos_token_id', id]),
  ];
}

/**
 * Parses config.json's contents; every error names the file and the field. Sizes beyond
 * `MODEL_CONFIG_LIMITS` are refused here, before anything is sized or allocated from them.
 */
export function parseModelConfig(json: unknown, fileName = 'config.json'): ModelConfig {
  const fail = (message: string): never => {
    throw new Error(`${fileName}: ${message}`);
  };
  const fields = parseOrThrow(ConfigJsonSchema, json, fileName);
  const architecture = readArchitecture(fields, fail);
  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  if (isQwen2 && fields.use_sliding_window === true) {
    fail('use_sliding_window: true is not supported (only full attention is implemented)');
  }
  const config: ModelConfig = {
    architecture,
    vocabSize: fields.vocab_size,
    hiddenSize: fields.hidden_size,
    intermediateSize: fields.intermediate_size,
    numLayers: fields.num_hidden_layers,
    numHeads: fields.num_attention_heads,
    numKvHeads: fields.num_key_value_heads ?? fields.num_attention_heads,
    headDim: headDimOf(fields),
    rmsNormEps: fields.rms_norm_eps,
    ...readRope(fields, fileName),
    maxPositionEmbeddings: fields.max_position_embeddings,
    tieWordEmbeddings: fields.tie_word_embeddings,
    attentionBias: isQwen2 ? true : fields.attention_bias,
    mlpBias: isQwen2 ? false : fields.mlp_bias,
    bosTokenId: fields.bos_token_id,
    eosTokenIds: [fields.eos_token_id].flat(),
  };
  const parameters = countParameters(config);
  if (parameters > MODEL_CONFIG_LIMITS.parameters) {
    fail(
      `its sizes imply ${formatBillions(parameters)} parameters, more than the ${formatBillions(MODEL_CONFIG_LIMITS.parameters)} this engine can hold as float32`,
    );
  }
  return config;
}

function formatBillions(count: number): string {
  return `${(count / 1e9).toLocaleString('en-US', { maximumFractionDigits: 1 })} billion`;
}

function readArchitecture(config: ConfigJson, fail: (message: string) => never): Architecture {
  const supported = SUPPORTED_ARCHITECTURES.join(', ');
  const { architectures, model_type: modelType } = config;
  if (architectures !== undefined) {
    const found = architectures.find(isSupportedArchitecture);
    if (found) return found;
    const listed = architectures.map((name) => JSON.stringify(name)).join(', ');
    return fail(`architecture ${listed} is not supported (supported: ${supported})`);
  }
  if (typeof modelType === 'string' && modelType in ARCHITECTURE_OF_MODEL_TYPE) {
    return ARCHITECTURE_OF_MODEL_TYPE[modelType]!;
  }
  return fail(
    `model_type ${JSON.stringify(modelType)} with no architectures field is not supported (supported: ${supported})`,
  );
}

function isSupportedArchitecture(name: unknown): name is Architecture {
  return SUPPORTED_ARCHITECTURES.includes(name as Architecture);
}

const llama3ScalingSchema = (field: string) =>
  v.pipe(
    v.looseObject(
      {
        factor: positiveNumber(`${field}.factor`),
        low_freq_factor: positiveNumber(`${field}.low_freq_factor`),
        high_freq_factor: positiveNumber(`${field}.high_freq_factor`),
        original_max_position_embeddings: size('max_position_embeddings', `${field}.original_`),
      },
      missingKey(`${field}.`),
    ),
    v.check(
      (scaling) => scaling.high_freq_factor > scaling.low_freq_factor,
      (issue) =>
        `${field}.high_freq_factor (${issue.input.high_freq_factor}) must exceed low_freq_factor (${issue.input.low_freq_factor})`,
    ),
  );

function readRope(
  config: ConfigJson,
  fileName: string,
): { ropeTheta: number; ropeScaling: RopeScaling | null } {
  // The newer layout folds rope_theta into rope_parameters, with rope_type 'default' for none.
  const parameters = config.rope_parameters;
  const scaling = parameters ?? config.rope_scaling;
  const scalingField = parameters ? 'rope_parameters' : 'rope_scaling';
  const ropeTheta = parameters
    ? parseOrThrow(
        v.nullish(positiveNumber('rope_parameters.rope_theta'), config.rope_theta),
        parameters.rope_theta,
        fileName,
      )
    : config.rope_theta;
  if (!scaling) return { ropeTheta, ropeScaling: null };
  const ropeType = scaling.rope_type ?? scaling.type;
  if (ropeType === 'default') return { ropeTheta, ropeScaling: null };
  if (ropeType !== 'llama3') {
    throw new Error(
      `${fileName}: ${scalingField} type ${JSON.stringify(ropeType)} is not supported (supported: "llama3" and unscaled "default")`,
    );
  }
  const llama3 = parseOrThrow(llama3ScalingSchema(scalingField), scaling, fileName);
  return {
    ropeTheta,
    ropeScaling: {
      type: 'llama3',
      factor: llama3.factor,
      lowFreqFactor: llama3.low_freq_factor,
      highFreqFactor: llama3.high_freq_factor,
      originalMaxPositionEmbeddings: llama3.original_max_position_embeddings,
    },
  };
}
