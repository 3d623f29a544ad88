/**
 * The parameters a config implies (names and shapes in Hugging Face's layout), and building them
 * as tfjs variables from safetensors files, checking every one before anything is kept.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import type { ModelConfig } from './config';
import type { SafetensorsFile } from './safetensors';
import {
  isPackedHalves,
  logicalShape,
  packFloat16,
  packHalves,
  unpackHalves,
  packedShape,
  storedAsHalves,
  type WeightStorage,
} from './float16';

/**
 * HF parameter name (e.g. 'model.layers.0.self_attn.q_proj.weight') → float32 variable in the HF
 * layout (Linear weights are [out, in]), or for a model loaded with float16 storage, its matrices
 * as packed halves (int32 [out, in / 2], see float16.ts). Created non-trainable: full fine-tuning
 * flips `.trainable`, merging an adapter assigns in place. Tied models have no 'lm_head.weight'.
 */
export type ModelWeights = Map<string, tf.Variable>;

const BYTES_PER_FLOAT32 = 4;
const BYTES_PER_FLOAT16 = 2;

/** Every parameter of `config`'s model, in checkpoint order, with its shape. */
export function parameterShapes(config: ModelConfig): [string, number[]][] {
  const { hiddenSize: hidden, intermediateSize: inner, headDim, vocabSize } = config;
  const qSize = config.numHeads * headDim;
  const kvSize = config.numKvHeads * headDim;
  // Llama's o_proj follows attention_bias; Qwen2's o_proj never has a bias.
  const outputBias = config.attentionBias && config.architecture === 'LlamaForCausalLM';
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [vocabSize, hidden]]];
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`;
    const linear = (path: string, out: number, inFeatures: number, bias: boolean) => {
      shapes.push([`${prefix}.${path}.weight`, [out, inFeatures]]);
      if (bias) shapes.push([`${prefix}.${path}.bias`, [out]]);
    };
    shapes.push([`${prefix}.input_layernorm.weight`, [hidden]]);
    linear('self_attn.q_proj', qSize, hidden, config.attentionBias);
    linear('self_attn.k_proj', kvSize, hidden, config.attentionBias);
    linear('self_attn.v_proj', kvSize, hidden, config.attentionBias);
    linear('self_attn.o_proj', hidden, qSize, outputBias);
    shapes.push([`${prefix}.post_attention_layernorm.weight`, [hidden]]);
    linear('mlp.gate_proj', inner, hidden, config.mlpBias);
    linear('mlp.up_proj', inner, hidden, config.mlpBias);
    linear('mlp.down_proj', hidden, inner, config.mlpBias);
  }
  shapes.push(['model.norm.weight', [hidden]]);
  if (!config.tieWordEmbeddings) shapes.push(['lm_head.weight', [vocabSize, hidden]]);
  return shapes;
}

export function countParameters(config: ModelConfig): number {
  return parameterShapes(config).reduce((total, [, shape]) => total + elementCount(shape), 0);
}

export interface ModelMemoryEstimate {
  parameters: number;
  /** All parameters as they are stored (matrices as float16 with float16 storage). */
  parameterBytes: number;
  /** Keys and values of every layer for `contextLength` tokens × `batchSize`, float32. */
  kvCacheBytes: number;
  /** The biggest single parameter: it must fit one GPU buffer and one storage binding. */
  largestTensorBytes: number;
  largestTensorName: string;
  totalBytes: number;
}

export function estimateModelMemory(
  config: ModelConfig,
  contextLength = config.maxPositionEmbeddings,
  batchSize = 1,
  storage: WeightStorage = 'float32',
): ModelMemoryEstimate {
  let largestTensorName = '';
  let largestTensorBytes = -1;
  let parameterBytes = 0;
  for (const [name, shape] of parameterShapes(config)) {
    const bytes =
      elementCount(shape) *
      (storedAsHalves(shape, storage) ? BYTES_PER_FLOAT16 : BYTES_PER_FLOAT32);
    parameterBytes += bytes;
    if (bytes > largestTensorBytes) {
      largestTensorBytes = bytes;
      largestTensorName = name;
    }
  }
  const parameters = countParameters(config);
  const kvCacheBytes =
    2 *
    config.numLayers *
    batchSize *
    config.numKvHeads *
    config.headDim *
    contextLength *
    BYTES_PER_FLOAT32;
  return {
    parameters,
    parameterBytes,
    kvCacheBytes,
    largestTensorBytes,
    largestTensorName,
    totalBytes: parameterBytes + kvCacheBytes,
  };
}

export interface LoadedWeights {
  weights: ModelWeights;
  /** Tensors in the files that the model does not use (ignored, not an error). */
  warnings: string[];
}

/**
 * Builds the model's variables from one or more safetensors files (the shards of a checkpoint).
 * Every expected tensor must be present exactly once with the expected shape; on any error or a
 * cancel at a checkpoint, the variables made so far are disposed. With float16 storage the
 * matrices are packed here, in memory, so no float32 copy of them ever reaches the device.
 */
export async function loadModelWeights(
  config: ModelConfig,
  files: SafetensorsFile[],
  checkpoint: Checkpoint = async () => {},
  storage: WeightStorage = 'float32',
): Promise<LoadedWeights> {
  const { owners, expected } = checkWeightFiles(config, files);

  const weights: ModelWeights = new Map();
  try {
    for (const [name, shape] of expected) {
      await checkpoint();
      const values = owners.get(name)!.readFloat32(name);
      weights.set(name, storedVariable(values, shape, storage));
    }
  } catch (error) {
    disposeModelWeights(weights);
    throw error;
  }
  return { weights, warnings: unusedTensorWarnings(config, owners, expected) };
}

/**
 * Checks the weight files' headers against the config: every tensor the config implies is there
 * exactly once with its shape. Reads headers only, so a mismatch is refused before any tensor is
 * made; the layer count is compared first, so a config that claims far more layers than the files
 * hold is refused without listing the tensors it would need.
 */
export function checkWeightFiles(
  config: ModelConfig,
  files: SafetensorsFile[],
): { owners: Map<string, SafetensorsFile>; expected: [string, number[]][] } {
  const owners = tensorOwners(files);
  const layers = new Set<string>();
  for (const name of owners.keys()) {
    const layer = /^model\.layers\.(\d+)\./.exec(name)?.[1];
    if (layer !== undefined) layers.add(layer);
  }
  if (config.numLayers > layers.size) {
    throw new Error(
      `config.json declares ${config.numLayers} layers (num_hidden_layers), but the weight files hold tensors of ${layers.size}`,
    );
  }
  const expected = parameterShapes(config);
  for (const [name, shape] of expected) {
    const file = owners.get(name);
    if (!file) {
      const tied =
        name === 'lm_head.weight' ? ' (tie_word_embeddings is false, so it is needed)' : '';
      throw new Error(
        `the checkpoint has no tensor '${name}'${tied} (expected shape [${shape.join(', ')}]; looked in ${files.map((f) => f.fileName).join(', ')})`,
      );
    }
    const found = file.entries.get(name)!.shape;
    if (!sameShape(found, shape)) {
      throw new Error(
        `${file.fileName}: tensor '${name}' has shape [${found.join(', ')}] but config.json implies [${shape.join(', ')}]`,
      );
    }
  }
  return { owners, expected };
}

/** The bytes `weights` take in memory as they are stored (a packed pair is one int32). */
export function weightBytes(weights: ModelWeights): number {
  return [...weights.values()].reduce((sum, v) => sum + v.size * 4, 0);
}

/** A non-trainable variable holding `values` of `shape`, packed when `storage` says so. */
export function storedVariable(
  values: Float32Array,
  shape: number[],
  storage: WeightStorage,
): tf.Variable {
  return tf.tidy(() =>
    storedAsHalves(shape, storage)
      ? tf.variable(tf.tensor(packFloat16(values), packedShape(shape), 'int32'), false)
      : tf.variable(tf.tensor(values, shape, 'float32'), false),
  );
}

/** How `weights` are stored: float16 when any matrix is packed. */
export function weightStorageOf(weights: ModelWeights): WeightStorage {
  return [...weights.values()].some(isPackedHalves) ? 'float16' : 'float32';
}

/** The float32 values a weight stands for (widened when it is stored as halves). */
export async function readFloat32Weight(variable: tf.Variable): Promise<Float32Array> {
  const wide = unpackHalves(variable);
  try {
    return (await wide.data()) as Float32Array;
  } finally {
    if (wide !== variable) wide.dispose();
  }
}

/**
 * Sets a weight to the float32 tensor `wide` (of the shape the weight stands for), rounded to
 * float16 when the weight is stored as halves.
 */
export function assignWideWeight(variable: tf.Variable, wide: tf.Tensor): void {
  tf.tidy(() => variable.assign(isPackedHalves(variable) ? packHalves(wide) : wide));
}

/** `assignWideWeight` from float32 `values` of `shape`. */
export function assignFloat32Weight(
  variable: tf.Variable,
  values: Float32Array,
  shape: readonly number[],
): void {
  tf.tidy(() => assignWideWeight(variable, tf.tensor(values, [...shape], 'float32')));
}

/**
 * A copy of `weights` stored as `storage`: float32 weights rounded to halves, or halves widened
 * back to float32 (exactly).
 */
export async function storedCopy(
  weights: ModelWeights,
  storage: WeightStorage,
): Promise<ModelWeights> {
  const copy: ModelWeights = new Map();
  try {
    for (const [name, variable] of weights) {
      const values = await readFloat32Weight(variable);
      copy.set(name, storedVariable(values, logicalShape(variable), storage));
    }
  } catch (error) {
    disposeModelWeights(copy);
    throw error;
  }
  return copy;
}

export function disposeModelWeights(weights: ModelWeights): void {
  for (const variable of weights.values()) variable.dispose();
  weights.clear();
}

function tensorOwners(files: SafetensorsFile[]): Map<string, SafetensorsFile> {
  const owners = new Map<string, SafetensorsFile>();
  for (const file of files) {
    for (const name of file.entries.keys()) {
      const other = owners.get(name);
      if (other) {
        throw new Error(`tensor '${name}' appears in both ${other.fileName} and ${file.fileName}`);
      }
      owners.set(name, file);
    }
  }
  return owners;
}

function unusedTensorWarnings(
  config: ModelConfig,
  owners: Map<string, SafetensorsFile>,
  expected: [string, number[]][],
): string[] {
  const used = new Set(expected.map(([name]) => name));
  const warnings: string[] = [];
  for (const [name, file] of owners) {
    if (used.has(name)) continue;
    const reason =
      name === 'lm_head.weight' && config.tieWordEmbeddings
        ? ' (tie_word_embeddings is true, so the embedding matrix is used instead)'
        : '';
    warnings.push(
      `${file.fileName}: ignored tensor '${name}', which the model does not use${reason}`,
    );
  }
  return warnings;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((size, i) => size === b[i]);
}

function elementCount(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}
