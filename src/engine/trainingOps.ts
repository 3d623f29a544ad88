/**
 * Ops with gradients of our own, for training (and any uncached forward pass), and whether they
 * run. A chain of stock ops keeps each op's output for the backward pass and differentiates
 * through each one; one of ours keeps only what its gradient needs, and its gradient is one or a
 * few kernels. Each backend has its own kernels for them: WGSL programs on webgpu
 * (webgpuTrainingKernels.ts), JavaScript loops over the tensors' memory on wasm and cpu
 * (hostTrainingKernels.ts). The forward kernels are the fused inference ones (decodeOps.ts).
 *
 * RMSNorm: as stock ops, y = x · rsqrt(mean(x²) + eps) · w keeps five intermediates of x's size
 * for the backward pass and differentiates through each (a step of the shape benchmark on webgpu
 * spent about a tenth of its time in RMSNorm's means and sums). Here the forward pass keeps only x
 * and w, and the backward pass is three kernels: each row's scale r = rsqrt(mean(x²) + eps),
 *   dx_j = r · g_j · w_j − r³ · x_j · Σ_i g_i · w_i · x_i / width   (row by row)
 *   dw_j = Σ_rows g_j · x_j · r                                      (column by column)
 * with g the incoming gradient.
 *
 * Attention's softmax: p = softmax(scores · scale + bias), the bias (the causal and padding mask)
 * broadcast over heads, as llama.ts's groupedQueryAttention computes it. Stock ops keep the scaled
 * and the biased scores (each the size of the scores). Here one kernel computes p row by row and
 * keeps only p; the gradient is one more: d_scores = scale · p · (g − Σ g · p).
 *
 * Heads: a linear's output [B, T, heads·d] split into heads [B, heads, T, d] and, for queries and
 * keys, rotated by RoPE, is the fused inference kernel; stock ops take a transpose, a split, four
 * products, a sum, a difference and a concat, and keep half of them. It keeps nothing: its
 * gradient is the inverse, one kernel that merges the heads back and rotates by −θ
 * (dx₁ = g₁·cos + g₂·sin, dx₂ = g₂·cos − g₁·sin). Merging attention's output heads is that
 * kernel without the rotation, with the split as its gradient.
 *
 * SwiGLU: silu(gate) · up is the fused inference kernel, keeping gate and up (stock ops keep five
 * tensors of their size); its gradient is two kernels, with s = sigmoid(gate):
 *   d_gate = g · up · s · (1 + gate · (1 − s)),   d_up = g · gate · s.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedHeads, fusedRmsNorm, fusedSwiGlu, ownHostKernelActive, run } from './decodeOps';
import { ownWebGpuKernelActive } from './webgpuKernels';

export const RMS_SCALE_KERNEL = 'SealRmsScale';
export const RMS_INPUT_GRADIENT_KERNEL = 'SealRmsNormInputGradient';
export const RMS_WEIGHT_GRADIENT_KERNEL = 'SealRmsNormWeightGradient';
export const SOFTMAX_KERNEL = 'SealScaledSoftmax';
export const SOFTMAX_GRADIENT_KERNEL = 'SealScaledSoftmaxGradient';
export const MERGE_HEADS_KERNEL = 'SealMergeHeads';
export const SWIGLU_GATE_GRADIENT_KERNEL = 'SealSwiGluGateGradient';
export const SWIGLU_UP_GRADIENT_KERNEL = 'SealSwiGluUpGradient';

/** Backward passes through our kernels in this process (tests check they really ran). */
const gradientRuns = { rmsNorm: 0, softmax: 0, heads: 0, mergeHeads: 0, swiGlu: 0 };

export function ownGradientRuns(): Readonly<typeof gradientRuns> {
  return { ...gradientRuns };
}

/** The kernel that decides whether each op runs ours: the backend has it and ours are on. */
const KERNEL_OF_OP = {
  rmsNorm: RMS_SCALE_KERNEL,
  softmax: SOFTMAX_KERNEL,
  heads: MERGE_HEADS_KERNEL,
  swiGlu: SWIGLU_GATE_GRADIENT_KERNEL,
} as const;

export type TrainingOp = keyof typeof KERNEL_OF_OP;

/** Whether `op` below runs our kernels on this backend. */
export function ownTrainingOpActive(op: TrainingOp): boolean {
  const kernel = KERNEL_OF_OP[op];
  return tf.getBackend() === 'webgpu' ? ownWebGpuKernelActive(kernel) : ownHostKernelActive(kernel);
}

/** One differentiable RMSNorm per epsilon (tf.customGrad takes tensors only). */
const byEpsilon = new Map<number, (x: tf.Tensor, weight: tf.Tensor) => tf.Tensor>();

function rmsNormFor(epsilon: number): (x: tf.Tensor, weight: tf.Tensor) => tf.Tensor {
  let norm = byEpsilon.get(epsilon);
  if (!norm) {
    norm = tf.customGrad((x, weight, save) => {
      const [input, scale] = [x as tf.Tensor, weight as tf.Tensor];
      (save as tf.GradSaveFunc)([input, scale]);
      return {
        value: fusedRmsNorm(input, scale, epsilon),
        gradFunc: (dy: tf.Tensor, [saved, savedWeight]: tf.Tensor[]) => {
          gradientRuns.rmsNorm++;
          // A tidy of its own: the backward pass would keep the row scales until it ends.
          return tf.tidy(() => {
            const rowScale = run(RMS_SCALE_KERNEL, { x: saved! }, { epsilon });
            const inputs = { x: saved!, dy, scale: rowScale };
            return [
              run(RMS_INPUT_GRADIENT_KERNEL, { ...inputs, weight: savedWeight! }),
              run(RMS_WEIGHT_GRADIENT_KERNEL, inputs),
            ];
          });
        },
      };
    }) as (x: tf.Tensor, weight: tf.Tensor) => tf.Tensor;
    byEpsilon.set(epsilon, norm);
  }
  return norm;
}

/** RMSNorm of x [..., width] by `weight` [width], with gradients; needs `ownTrainingOpActive('rmsNorm')`. */
export function rmsNormWithGradient<T extends tf.Tensor>(
  x: T,
  weight: tf.Tensor,
  epsilon: number,
): T {
  return rmsNormFor(epsilon)(x, weight) as T;
}

/**
 * softmax(scores · scale + bias) over the last axis, with its gradient for the scores: scores
 * [batch, heads, rows, slots], bias [batch, 1, length, slots] (row r takes the bias of position
 * r mod length). Needs `ownTrainingOpActive('softmax')`.
 */
export function scaledSoftmax(scores: tf.Tensor4D, bias: tf.Tensor4D, scale: number): tf.Tensor4D {
  const softmax = tf.customGrad((input, save) => {
    const probs = run<tf.Tensor4D>(SOFTMAX_KERNEL, { scores: input as tf.Tensor, bias }, { scale });
    (save as tf.GradSaveFunc)([probs]);
    return {
      value: probs,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => {
        gradientRuns.softmax++;
        return run(SOFTMAX_GRADIENT_KERNEL, { probs: saved!, dy }, { scale });
      },
    };
  });
  return softmax(scores) as tf.Tensor4D;
}

/** RoPE's rotation: the table [positions, d/2] and each token's position (int32 [B, T]). */
export interface RotaryPositions {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  positions: tf.Tensor2D;
}

/**
 * x [B, T, heads·d] split into heads [B, heads, T, d], rotated by RoPE when given `rotary`, with
 * its gradient for x. Needs `ownTrainingOpActive('heads')`.
 */
export function headsWithGradient(
  x: tf.Tensor3D,
  heads: number,
  rotary?: RotaryPositions,
): tf.Tensor4D {
  // The table and positions outlive the forward pass's tidy only when saved.
  const split = tf.customGrad((input, save) => {
    (save as tf.GradSaveFunc)(rotary ? [rotary.cos, rotary.sin, rotary.positions] : []);
    return {
      value: fusedHeads(input as tf.Tensor3D, heads, rotary),
      gradFunc: (dy: tf.Tensor, [cos, sin, positions]: tf.Tensor[]) => {
        gradientRuns.heads++;
        const inputs: tf.NamedTensorMap = { x: dy };
        if (rotary) Object.assign(inputs, { cos, sin, positions });
        return run(MERGE_HEADS_KERNEL, inputs, { heads });
      },
    };
  });
  return split(x) as tf.Tensor4D;
}

/** Heads [B, heads, T, d] merged into [B, T, heads·d], with its gradient. Needs `ownTrainingOpActive('heads')`. */
export function mergeHeadsWithGradient(x: tf.Tensor4D): tf.Tensor3D {
  const merge = tf.customGrad((input) => ({
    value: run<tf.Tensor3D>(MERGE_HEADS_KERNEL, { x: input as tf.Tensor }, { heads: x.shape[1] }),
    gradFunc: (dy: tf.Tensor) => {
      gradientRuns.mergeHeads++;
      return fusedHeads(dy as tf.Tensor3D, x.shape[1]);
    },
  }));
  return merge(x) as tf.Tensor3D;
}

/** silu(gate) · up, with its gradients. Needs `ownTrainingOpActive('swiGlu')`. */
export const swiGluWithGradient = tf.customGrad((gate, up, save) => {
  const [g, u] = [gate as tf.Tensor, up as tf.Tensor];
  (save as tf.GradSaveFunc)([g, u]);
  return {
    value: fusedSwiGlu(g, u),
    gradFunc: (dy: tf.Tensor, [savedGate, savedUp]: tf.Tensor[]) => {
      gradientRuns.swiGlu++;
      return [
        run(SWIGLU_GATE_GRADIENT_KERNEL, { gate: savedGate!, up: savedUp!, dy }),
        run(SWIGLU_UP_GRADIENT_KERNEL, { gate: savedGate!, dy }),
      ];
    },
  };
}) as <T extends tf.Tensor>(gate: T, up: T) => T;
