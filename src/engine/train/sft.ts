/**
 * Supervised fine-tuning: next-token cross-entropy on the target tokens of each sequence, with
 * LoRA adapters or on every base weight. Losses stay on the device and are read back only every
 * few optimizer steps, so the GPU never idles waiting for a number the UI could show later.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import type { ModelConfig } from '../model/config';
import { forward } from '../model/llama';
import type { ModelWeights } from '../model/weights';
import { createRandom, shuffled, streamSeed } from '../random';
import type { TokenizedSequence } from './dataset';
import { LoraAdapter, setBaseTrainable } from './lora';
import { AdamW, globalNormScale, learningRateAt, type ScheduleKind } from './optimizer';
import { releasePooledWebGpuBuffers } from '../webgpuMemory';
import { variableGrads } from './gradients';

/** Data order draws from streams 0, 1, … (one per epoch); dropout from this one. */
const DROPOUT_STREAM = 0x7fffffff;

export interface TrainableModel {
  config: ModelConfig;
  weights: ModelWeights;
}

/** What the optimizer updates: one LoRA adapter, or the whole model. */
export type TrainingTarget = { kind: 'lora'; adapter: LoraAdapter } | { kind: 'full' };

export interface SftOptions {
  epochs: number;
  /** Sequences per forward/backward pass. */
  batchSize: number;
  /** Passes whose gradients are summed before each optimizer step. */
  gradientAccumulation: number;
  learningRate: number;
  schedule: ScheduleKind;
  warmupSteps: number;
  weightDecay: number;
  /** Global gradient norm bound; null switches clipping off. */
  maxGradNorm: number | null;
  /** Drives data order and LoRA dropout. */
  seed: number;
  /** Losses are read back from the device once per this many optimizer steps. */
  reportEvery: number;
}

export const DEFAULT_SFT_OPTIONS: SftOptions = {
  epochs: 1,
  batchSize: 1,
  gradientAccumulation: 1,
  learningRate: 1e-4,
  schedule: 'constant',
  warmupSteps: 0,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 0,
  reportEvery: 8,
};

export interface TrainingProgress {
  /** 1-based optimizer step. */
  step: number;
  totalSteps: number;
  epoch: number;
  /** Mean loss over the step's target tokens. */
  loss: number;
  learningRate: number;
  /** Real (non-padding) tokens processed per second since the start. */
  tokensPerSecond: number;
  elapsedMs: number;
}

export interface SftResult {
  steps: number;
  /** Loss of every optimizer step, in order. */
  losses: number[];
  tokens: number;
  elapsedMs: number;
}

export interface TrainingHooks {
  checkpoint?: Checkpoint;
  /** Called for every step, in bursts of `reportEvery` steps. */
  onProgress?: (progress: TrainingProgress) => void;
}

function validateOptions(options: SftOptions): void {
  const positiveIntegers = ['epochs', 'batchSize', 'gradientAccumulation', 'reportEvery'] as const;
  for (const field of positiveIntegers) {
    const value = options[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${field} must be a positive integer, got ${value}`);
    }
  }
  if (!(options.learningRate > 0)) {
    throw new Error(`learningRate must be positive, got ${options.learningRate}`);
  }
  if (!Number.isInteger(options.warmupSteps) || options.warmupSteps < 0) {
    throw new Error(`warmupSteps must be a whole number ≥ 0, got ${options.warmupSteps}`);
  }
  if (options.maxGradNorm !== null && !(options.maxGradNorm > 0)) {
    throw new Error(`maxGradNorm must be positive or null, got ${options.maxGradNorm}`);
  }
}

/** The micro-batches of each optimizer step, epoch after epoch, in a seeded order. */
export function planSteps(
  count: number,
  { epochs, batchSize, gradientAccumulation, seed }: SftOptions,
): { epoch: number; microBatches: number[][] }[] {
  const perStep = batchSize * gradientAccumulation;
  const steps: { epoch: number; microBatches: number[][] }[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffled(
      Array.from({ length: count }, (_, i) => i),
      createRandom(streamSeed(seed, epoch)),
    );
    for (let start = 0; start < count; start += perStep) {
      const group = order.slice(start, start + perStep);
      const microBatches: number[][] = [];
      for (let i = 0; i < group.length; i += batchSize) {
        microBatches.push(group.slice(i, i + batchSize));
      }
      steps.push({ epoch, microBatches });
    }
  }
  return steps;
}

export interface Batch {
  /** [B, T] int32, right-padded with 0. */
  inputIds: tf.Tensor2D;
  /** [B, T] int32, 1 on real tokens. */
  attentionMask: tf.Tensor2D;
  /** [B·(T-1)] int32: where each position's next token sits in its flattened [B·(T-1)·V] logits. */
  labelIndices: tf.Tensor1D;
  /** [B, T-1] float32: each prediction's share of the loss (0 for prompt and padding). */
  lossWeights: tf.Tensor2D;
}

/** Pads `sequences` into tensors; `lossScale` divides every target's weight. */
export function makeBatch(
  sequences: TokenizedSequence[],
  lossScale: number,
  vocabSize: number,
): Batch {
  const rows = sequences.length;
  const length = Math.max(...sequences.map((s) => s.ids.length));
  if (length < 2) throw new Error('every training sequence needs at least 2 tokens');
  const ids = new Int32Array(rows * length);
  const mask = new Int32Array(rows * length);
  const labelIndices = new Int32Array(rows * (length - 1));
  const weights = new Float32Array(rows * (length - 1));
  sequences.forEach((sequence, row) => {
    sequence.ids.forEach((id, t) => {
      ids[row * length + t] = id;
      mask[row * length + t] = 1;
      if (t > 0) {
        const position = row * (length - 1) + t - 1;
        labelIndices[position] = position * vocabSize + id;
        if (sequence.isTarget[t]) weights[position] = 1 / lossScale;
      }
    });
  });
  return {
    inputIds: tf.tensor2d(ids, [rows, length], 'int32'),
    attentionMask: tf.tensor2d(mask, [rows, length], 'int32'),
    labelIndices: tf.tensor1d(labelIndices, 'int32'),
    lossWeights: tf.tensor2d(weights, [rows, length - 1], 'float32'),
  };
}

function disposeBatch(batch: Batch): void {
  tf.dispose([batch.inputIds, batch.attentionMask, batch.labelIndices, batch.lossWeights]);
}

/**
 * Σ over positions of lossWeight · (−log p(label)), the weighted next-token cross-entropy, as
 * logsumexp(z) − z[label]. The label's logit is gathered rather than picked with a one-hot
 * matrix, which would be as large as the logits (and wasm's OneHot returns wrong float32 values).
 */
/**
 * log Σ exp over the last axis of a matrix, with the softmax as its gradient. `tf.logSumExp`
 * differentiates through its max shift as well, which costs an `Equal` over the whole logits
 * matrix (a fifth of a training step on wasm) to add a gradient that is zero anyway.
 */
const rowLogSumExp = tf.customGrad(
  (logits: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    const matrix = logits as tf.Tensor2D;
    (save as tf.GradSaveFunc)([matrix]);
    return {
      value: tf.logSumExp(matrix, -1),
      // A tidy of its own: the backward pass would keep the softmax until it ends.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => dy.expandDims(-1).mul(tf.softmax(saved[0]!))),
    };
  },
);

export function weightedTokenLoss(
  model: TrainableModel,
  batch: Batch,
  adapter?: LoraAdapter,
): tf.Scalar {
  return tf.tidy(() => {
    const logits = forward(model.config, model.weights, batch.inputIds, {
      attentionMask: batch.attentionMask,
      adapter,
    });
    const [rows, length, vocab] = logits.shape;
    const predicting = logits.slice([0, 0, 0], [rows, length - 1, vocab]).reshape([-1, vocab]);
    const labelLogits = tf.gather(predicting.reshape([-1]), batch.labelIndices);
    const losses = rowLogSumExp(predicting).sub(labelLogits);
    return losses.mul(batch.lossWeights.reshape([-1])).sum() as tf.Scalar;
  });
}

/**
 * Gradients of one optimizer step, summed over its micro-batches (each already weighted by
 * 1 / targets-in-the-step, so the sum is the step's mean token loss), and that loss.
 */
function accumulateGradients(
  model: TrainableModel,
  params: tf.Variable[],
  microBatches: TokenizedSequence[][],
  lossScale: number,
  dropout: { adapter: LoraAdapter; seed: number } | undefined,
): { gradients: tf.Tensor[]; loss: tf.Scalar } {
  let gradients: tf.Tensor[] = [];
  let loss: tf.Scalar = tf.scalar(0);
  try {
    for (const [index, sequences] of microBatches.entries()) {
      dropout?.adapter.setDropoutSeed(streamSeed(dropout.seed, index));
      const batch = makeBatch(sequences, lossScale, model.config.vocabSize);
      let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        result = variableGrads(() => weightedTokenLoss(model, batch, dropout?.adapter), params);
      } finally {
        disposeBatch(batch);
      }
      const fresh = params.map((p) => result.grads[p.name]!);
      const [previous, previousLoss] = [gradients, loss];
      [gradients, loss] = tf.tidy(() => [
        previous.length === 0
          ? fresh.map((g) => g.clone())
          : previous.map((g, i) => g.add(fresh[i]!)),
        previousLoss.add(result.value) as tf.Scalar,
      ]);
      tf.dispose([...previous, ...fresh, previousLoss, result.value]);
    }
    return { gradients, loss };
  } catch (error) {
    tf.dispose([...gradients, loss]);
    throw error;
  } finally {
    dropout?.adapter.setDropoutSeed(null);
  }
}

function countTargets(sequences: TokenizedSequence[]): number {
  return sequences.reduce((n, s) => n + s.isTarget.filter(Boolean).length, 0);
}

/** Mean next-token loss over the target tokens of `sequences` (no training). */
export async function evaluateLoss(
  model: TrainableModel,
  sequences: TokenizedSequence[],
  adapter?: LoraAdapter,
): Promise<number> {
  const batch = makeBatch(sequences, countTargets(sequences), model.config.vocabSize);
  try {
    const loss = weightedTokenLoss(model, batch, adapter);
    const [value] = await loss.data();
    loss.dispose();
    return value!;
  } finally {
    disposeBatch(batch);
  }
}

/**
 * Trains `target` on `sequences`. Each optimizer step is applied as a whole before the next
 * checkpoint, so a cancelled run leaves the weights as they were after its last full step.
 */
export async function trainSft(
  model: TrainableModel,
  sequences: TokenizedSequence[],
  target: TrainingTarget,
  options: SftOptions,
  { checkpoint, onProgress }: TrainingHooks = {},
): Promise<SftResult> {
  validateOptions(options);
  if (sequences.length === 0) throw new Error('the dataset is empty');
  const steps = planSteps(sequences.length, options);
  const params =
    target.kind === 'lora' ? target.adapter.variables() : setBaseTrainable(model.weights, true);
  const adapter = target.kind === 'lora' ? target.adapter : undefined;
  const optimizer = new AdamW(params, { weightDecay: options.weightDecay });
  const schedule = {
    kind: options.schedule,
    peak: options.learningRate,
    warmupSteps: options.warmupSteps,
    totalSteps: steps.length,
  };
  const dropoutRoot = streamSeed(options.seed, DROPOUT_STREAM);
  const losses: number[] = [];
  const pending: { loss: tf.Scalar; step: number; epoch: number; learningRate: number }[] = [];
  let tokens = 0;
  const start = performance.now();

  const report = async () => {
    if (pending.length === 0) return;
    const stacked = tf.stack(pending.map((p) => p.loss));
    const values = await stacked.data();
    stacked.dispose();
    const elapsedMs = performance.now() - start;
    pending.forEach((p, i) => {
      const loss = values[i]!;
      losses.push(loss);
      onProgress?.({
        step: p.step,
        totalSteps: steps.length,
        epoch: p.epoch,
        loss,
        learningRate: p.learningRate,
        tokensPerSecond: (tokens * 1000) / elapsedMs,
        elapsedMs,
      });
    });
    tf.dispose(pending.map((p) => p.loss));
    pending.length = 0;
  };

  try {
    for (const [index, { epoch, microBatches }] of steps.entries()) {
      await checkpoint?.();
      const stepSequences = microBatches.flat().map((i) => sequences[i]!);
      const { gradients, loss } = accumulateGradients(
        model,
        params,
        microBatches.map((batch) => batch.map((i) => sequences[i]!)),
        countTargets(stepSequences),
        adapter && { adapter, seed: streamSeed(dropoutRoot, index) },
      );
      tokens += stepSequences.reduce((n, s) => n + s.ids.length, 0);
      const learningRate = learningRateAt(index, schedule);
      if (options.maxGradNorm === null) {
        optimizer.step(gradients, learningRate);
      } else {
        const { scale, norm } = globalNormScale(gradients, options.maxGradNorm);
        optimizer.step(gradients, learningRate, scale);
        tf.dispose([scale, norm]);
      }
      tf.dispose(gradients);
      pending.push({ loss, step: index + 1, epoch, learningRate });
      if (pending.length >= options.reportEvery) await report();
    }
    await report();
  } finally {
    tf.dispose(pending.map((p) => p.loss));
    optimizer.dispose();
    if (target.kind === 'full') setBaseTrainable(model.weights, false);
    // The step's intermediates in all their sizes would otherwise stay pooled on the device.
    releasePooledWebGpuBuffers();
  }
  return { steps: steps.length, losses, tokens, elapsedMs: performance.now() - start };
}
