/**
 * What the pool and its workers say to each other. Every request but a cancel gets exactly one
 * reply with the request's id; a worker handles its requests in the order they arrive.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config';
import type { TokenizerSource } from '../model/tokenizer';
import type { ModelWeights } from '../model/weights';
import type { SealModel } from '../seal/innerLoop';
import type { SealTask } from './tasks';

/** A weight as its variable holds it: float32, or float16 pairs packed in int32 (float16.ts). */
export interface WeightValues {
  name: string;
  shape: number[];
  values: Float32Array | Int32Array;
}

/** Everything a worker needs to build its own copy of a model. */
export interface ModelSnapshot {
  config: ModelConfig;
  tokenizer: TokenizerSource;
  chatTemplate: string | null;
  weights: WeightValues[];
}

/** The requests that get a reply, before the pool numbers them. */
export type PoolRequestBody =
  | { type: 'init'; model: ModelSnapshot }
  | { type: 'weights'; weights: WeightValues[] }
  | { type: 'run'; task: SealTask };

export type PoolRequest =
  | (PoolRequestBody & { id: number })
  /** Stops the run of request `id` at its next checkpoint; gets no reply of its own. */
  | { type: 'cancel'; id: number };

export interface PoolErrorDescription {
  name: string;
  message: string;
}

export type PoolReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: PoolErrorDescription };

/**
 * The model's current weights, stored as they are (so workers compute with the same float16 or
 * float32 values), read without blocking the thread.
 */
export async function readWeightValues(weights: ModelWeights): Promise<WeightValues[]> {
  return Promise.all(
    [...weights].map(async ([name, variable]) => ({
      name,
      shape: variable.shape,
      values: (await variable.data()) as Float32Array | Int32Array,
    })),
  );
}

/** A tensor holding `values`, of their dtype. */
function weightTensor({ values, shape }: Omit<WeightValues, 'name'>): tf.Tensor {
  return tf.tensor(values, shape, values instanceof Int32Array ? 'int32' : 'float32');
}

export async function snapshotModel(model: SealModel): Promise<ModelSnapshot> {
  const tokenizer = model.tokenizer.source;
  if (!tokenizer) {
    throw new Error(
      "the model's tokenizer was not built from tokenizer files, so a worker cannot rebuild it",
    );
  }
  return {
    config: model.config,
    tokenizer,
    chatTemplate: model.chatTemplate ?? null,
    weights: await readWeightValues(model.weights),
  };
}

/** Variables holding `weights`, created non-trainable like loaded models' weights. */
export function variablesOf(weights: readonly WeightValues[]): ModelWeights {
  return new Map(
    weights.map((weight) => [weight.name, tf.tidy(() => tf.variable(weightTensor(weight), false))]),
  );
}

/** Overwrites every variable with its new values; names and shapes must match. */
export function assignWeightValues(target: ModelWeights, weights: readonly WeightValues[]): void {
  if (weights.length !== target.size) {
    throw new Error(`expected ${target.size} weights, got ${weights.length}`);
  }
  for (const weight of weights) {
    const variable = target.get(weight.name);
    if (!variable) throw new Error(`the model has no weight '${weight.name}'`);
    tf.tidy(() => variable.assign(weightTensor(weight)));
  }
}
