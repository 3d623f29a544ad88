/**
 * Reads a Hugging Face `config.json` into the fields the Llama/Qwen2 forward pass needs, refusing
 * anything it would compute wrongly (other architectures, RoPE variants, sliding windows).
 * Accepts both config layouts found on the Hub: `rope_theta` + `rope_scaling`, and the newer
 * `rope_parameters`.
 */

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

type Json = Record<string, unknown>;

/** Parses config.json's contents; every error names the file and the field. */
export function parseModelConfig(json: unknown, fileName = 'config.json'): ModelConfig {
  const fail = (message: string): never => {
    throw new Error(`${fileName}: ${message}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail('must hold a JSON object');
  }
  const config = json as Json;
  const fields = new FieldReader(config, fail);

  const architecture = readArchitecture(config, fail);
  const hiddenSize = fields.positiveInteger('hidden_size');
  const numHeads = fields.positiveInteger('num_attention_heads');
  const numKvHeads = fields.positiveInteger('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail(
      `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`,
    );
  }
  if (config.head_dim === undefined && hiddenSize % numHeads !== 0) {
    fail(
      `hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and no head_dim is given`,
    );
  }
  const headDim = fields.positiveInteger('head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) fail(`head_dim must be even for rotary embeddings, got ${headDim}`);

  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  if (isQwen2 && config.use_sliding_window === true) {
    fail('use_sliding_window: true is not supported (only full attention is implemented)');
  }
  const hiddenAct = config.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') {
    fail(`hidden_act ${JSON.stringify(hiddenAct)} is not supported (only "silu")`);
  }
  const pretrainingTp = config.pretraining_tp ?? 1;
  if (pretrainingTp !== 1) fail(`pretraining_tp ${JSON.stringify(pretrainingTp)} must be 1`);

  const { ropeTheta, ropeScaling } = readRope(config, fields, fail);
  const vocabSize = fields.positiveInteger('vocab_size');
  const bosTokenId = fields.optionalTokenId('bos_token_id');
  const eosTokenIds = fields.tokenIds('eos_token_id');
  for (const [field, id] of [
    ['bos_token_id', bosTokenId],
    ...eosTokenIds.map((id) => ['eos_token_id', id] as const),
  ] as const) {
    if (id !== null && id >= vocabSize) {
      fail(`${field} ${id} is outside the vocabulary (vocab_size ${vocabSize})`);
    }
  }
  return {
    architecture,
    vocabSize,
    hiddenSize,
    intermediateSize: fields.positiveInteger('intermediate_size'),
    numLayers: fields.positiveInteger('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: fields.positiveNumber('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings: fields.positiveInteger('max_position_embeddings', 2048),
    tieWordEmbeddings: fields.boolean('tie_word_embeddings', false),
    attentionBias: isQwen2 ? true : fields.boolean('attention_bias', false),
    mlpBias: isQwen2 ? false : fields.boolean('mlp_bias', false),
    bosTokenId,
    eosTokenIds,
  };
}

function readArchitecture(config: Json, fail: (message: string) => never): Architecture {
  const supported = SUPPORTED_ARCHITECTURES.join(', ');
  const { architectures, model_type: modelType } = config;
  if (architectures !== undefined) {
    if (!Array.isArray(architectures) || architectures.length === 0) {
      fail(`architectures must be a non-empty list, got ${JSON.stringify(architectures)}`);
    }
    const names = architectures as unknown[];
    const found = names.find(isSupportedArchitecture);
    if (found) return found;
    const listed = names.map((name) => JSON.stringify(name)).join(', ');
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

function readRope(
  config: Json,
  fields: FieldReader,
  fail: (message: string) => never,
): { ropeTheta: number; ropeScaling: RopeScaling | null } {
  // The newer layout folds rope_theta into rope_parameters, with rope_type 'default' for none.
  const parameters = config.rope_parameters;
  const scaling = parameters ?? config.rope_scaling ?? null;
  const scalingField = parameters !== undefined ? 'rope_parameters' : 'rope_scaling';
  let ropeTheta: number;
  if (parameters !== undefined && parameters !== null) {
    if (typeof parameters !== 'object' || Array.isArray(parameters)) {
      fail(`rope_parameters must be an object, got ${JSON.stringify(parameters)}`);
    }
    ropeTheta = new FieldReader(parameters as Json, fail, 'rope_parameters.').positiveNumber(
      'rope_theta',
      fields.positiveNumber('rope_theta', 10000),
    );
  } else {
    ropeTheta = fields.positiveNumber('rope_theta', 10000);
  }
  if (scaling === null) return { ropeTheta, ropeScaling: null };
  if (typeof scaling !== 'object' || Array.isArray(scaling)) {
    return fail(`${scalingField} must be an object or null, got ${JSON.stringify(scaling)}`);
  }
  const scalingJson = scaling as Json;
  const ropeType = scalingJson.rope_type ?? scalingJson.type;
  if (ropeType === 'default') return { ropeTheta, ropeScaling: null };
  if (ropeType !== 'llama3') {
    return fail(
      `${scalingField} type ${JSON.stringify(ropeType)} is not supported (supported: "llama3" and unscaled "default")`,
    );
  }
  const scalingFields = new FieldReader(scalingJson, fail, `${scalingField}.`);
  const ropeScaling: RopeScaling = {
    type: 'llama3',
    factor: scalingFields.positiveNumber('factor'),
    lowFreqFactor: scalingFields.positiveNumber('low_freq_factor'),
    highFreqFactor: scalingFields.positiveNumber('high_freq_factor'),
    originalMaxPositionEmbeddings: scalingFields.positiveInteger(
      'original_max_position_embeddings',
    ),
  };
  if (ropeScaling.highFreqFactor <= ropeScaling.lowFreqFactor) {
    fail(
      `${scalingField}.high_freq_factor (${ropeScaling.highFreqFactor}) must exceed low_freq_factor (${ropeScaling.lowFreqFactor})`,
    );
  }
  return { ropeTheta, ropeScaling };
}

/** Typed reads of single fields, each failing with the field's name and the value it found. */
class FieldReader {
  constructor(
    private readonly json: Json,
    private readonly fail: (message: string) => never,
    private readonly prefix = '',
  ) {}

  private read(key: string, fallback: unknown): unknown {
    const value = this.json[key];
    if (value !== undefined && value !== null) return value;
    if (fallback === undefined) this.fail(`missing required field ${this.prefix}${key}`);
    return fallback;
  }

  private wrong(key: string, expected: string, value: unknown): never {
    return this.fail(`${this.prefix}${key} must be ${expected}, got ${JSON.stringify(value)}`);
  }

  positiveInteger(key: string, fallback?: number): number {
    const value = this.read(key, fallback);
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      this.wrong(key, 'a positive integer', value);
    }
    return value as number;
  }

  positiveNumber(key: string, fallback?: number): number {
    const value = this.read(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.wrong(key, 'a positive number', value);
    }
    return value as number;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.read(key, fallback);
    if (typeof value !== 'boolean') this.wrong(key, 'true or false', value);
    return value as boolean;
  }

  optionalTokenId(key: string): number | null {
    const value = this.json[key];
    if (value === undefined || value === null) return null;
    if (!isTokenId(value)) this.wrong(key, 'a token id (non-negative integer) or null', value);
    return value as number;
  }

  tokenIds(key: string): number[] {
    const value = this.json[key];
    if (value === undefined || value === null) return [];
    if (isTokenId(value)) return [value];
    if (Array.isArray(value) && value.every(isTokenId)) return [...value];
    return this.wrong(key, 'a token id or a list of token ids', value);
  }
}

function isTokenId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
