/**
 * Programs with gradients of our own, for training (and any uncached forward pass) on webgpu. A
 * chain of stock ops keeps each op's output for the backward pass and differentiates through each
 * one; one program keeps only what its gradient needs, and its gradient is one or a few programs.
 *
 * RMSNorm: our forward program (webgpuDecodeKernels.ts). As stock ops, y = x · rsqrt(mean(x²) + eps) · w keeps five intermediates of x's size
 * for the backward pass and differentiates through each (a step of the shape benchmark spent
 * about a tenth of its time in RMSNorm's means and sums). Here the forward pass keeps only x and
 * w, and the backward pass is three programs: each row's scale r = rsqrt(mean(x²) + eps),
 *   dx_j = r · g_j · w_j − r³ · x_j · Σ_i g_i · w_i · x_i / width   (row by row)
 *   dw_j = Σ_rows g_j · x_j · r                                      (one invocation per column)
 * with g the incoming gradient.
 *
 * Attention's softmax: p = softmax(scores · scale + bias), the bias (the causal and padding mask)
 * broadcast over heads, as llama.ts's groupedQueryAttention computes it. Stock ops keep the scaled
 * and the biased scores (each the size of the scores) and tfjs's softmax program was about a
 * twelfth of a step on SwiftShader. Here one program computes p row by row and keeps only p; the
 * gradient is one more: d_scores = scale · p · (g − Σ g · p). Rows are spread over invocations
 * as `RowLayout` (webgpuDecodeKernels.ts) says.
 *
 * Heads: a linear's output [B, T, heads·d] split into heads [B, heads, T, d] and, for queries and
 * keys, rotated by RoPE, is our decoding program (webgpuDecodeKernels.ts); stock ops take a
 * transpose, a split, four products, a sum, a difference and a concat, and keep half of them.
 * It keeps nothing: its gradient is the inverse, one program that merges the heads back and
 * rotates by −θ (dx₁ = g₁·cos + g₂·sin, dx₂ = g₂·cos − g₁·sin). Merging attention's output heads
 * is that program without the rotation, with the split as its gradient.
 *
 * SwiGLU: silu(gate) · up is our decoding program, keeping gate and up (stock ops keep five
 * tensors of their size); its gradient is two programs, with s = sigmoid(gate):
 *   d_gate = g · up · s · (1 + gate · (1 − s)),   d_up = g · gate · s.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedHeads, fusedRmsNorm, fusedSwiGlu, run } from './decodeOps';
import {
  ElementwiseProgram,
  headsKernel,
  registerOnWebGpu,
  RowProgram,
  runOnViews,
  type KernelArgs,
} from './webgpuDecodeKernels';
import { ownWebGpuKernelActive } from './webgpuKernels';

const RMS_SCALE_KERNEL = 'SealRmsScale';
const RMS_INPUT_GRADIENT_KERNEL = 'SealRmsNormInputGradient';
const RMS_WEIGHT_GRADIENT_KERNEL = 'SealRmsNormWeightGradient';
const SOFTMAX_KERNEL = 'SealScaledSoftmax';
const SOFTMAX_GRADIENT_KERNEL = 'SealScaledSoftmaxGradient';
const MERGE_HEADS_KERNEL = 'SealMergeHeads';
const SWIGLU_GATE_GRADIENT_KERNEL = 'SealSwiGluGateGradient';
const SWIGLU_UP_GRADIENT_KERNEL = 'SealSwiGluUpGradient';

/** Backward passes through our programs in this process (tests check they really ran). */
const gradientRuns = { rmsNorm: 0, softmax: 0, heads: 0, mergeHeads: 0, swiGlu: 0 };

export function ownGradientRuns(): Readonly<typeof gradientRuns> {
  return { ...gradientRuns };
}

/** Whether `rmsNormWithGradient` and `scaledSoftmax` run our programs (webgpu, ours switched on). */
export function ownTrainingKernelsActive(): boolean {
  return ownWebGpuKernelActive(RMS_SCALE_KERNEL);
}

/** R [rows] = rsqrt(mean(x²) + eps) of each row of X. */
class RmsScaleProgram extends RowProgram {
  variableNames = ['X'];
  uniforms = 'epsilon : f32,';

  constructor(rows: number, width: number) {
    super('sealRmsScale', rows, width, [rows]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.xShape.y',
      'uniforms.xShape.x',
      `${this.rowReduce('squares', 'f32(X[base + i]) * f32(X[base + i])')}
    if (lane == 0) {
      result[row] = 1.0 / sqrt(squares / f32(width) + uniforms.epsilon);
    }`,
    );
  }
}

/** dx [rows, width] from X, W [width], G [rows, width] and R [rows]. */
class InputGradientProgram extends RowProgram {
  variableNames = ['X', 'W', 'G', 'R'];

  constructor(rows: number, width: number) {
    super('sealRmsNormInputGradient', rows, width, [rows, width]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.xShape.y',
      'uniforms.xShape.x',
      `${this.rowReduce('dot', 'f32(G[base + i]) * f32(W[i]) * f32(X[base + i])')}
    let r = f32(R[row]);
    let shift = r * r * r * dot / f32(width);
    ${this.forEach('result[base + i] = r * f32(G[base + i]) * f32(W[i]) - shift * f32(X[base + i]);')}`,
    );
  }
}

/** dw [width] = Σ over rows of G · X · R. */
class WeightGradientProgram extends ElementwiseProgram {
  variableNames = ['X', 'G', 'R'];
  shaderKey = 'sealRmsNormWeightGradient';

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let width = uniforms.size;
      let rows = uniforms.xShape.x;
      var sum = 0.0;
      for (var row = 0; row < rows; row++) {
        sum = sum + f32(G[row * width + index]) * f32(X[row * width + index]) * f32(R[row]);
      }
      result[index] = sum;
    }
  }
`;
  }
}

/**
 * P [batch, heads, rows, slots] = softmax(S · scale + bias) over slots, bias B [batch, length,
 * slots] for the rows' positions (row r of a head is position r mod length: grouped queries).
 */
class ScaledSoftmaxProgram extends RowProgram {
  variableNames = ['S', 'B'];
  uniforms = 'scale : f32, length : i32,';

  constructor(rows: number, scoresShape: number[]) {
    super('sealScaledSoftmax', rows, scoresShape[3]!, scoresShape);
  }

  getUserCode(): string {
    const score = 'f32(S[base + i]) * uniforms.scale + f32(B[biasBase + i])';
    const maximum = (a: string, b: string) => `max(${a}, ${b})`;
    return this.rowMain(
      'uniforms.sShape.w',
      'uniforms.sShape.x * uniforms.sShape.y * uniforms.sShape.z',
      `let rowsPerBatch = uniforms.sShape.y * uniforms.sShape.z;
    let position = (row % uniforms.sShape.z) % uniforms.length;
    let biasBase = ((row / rowsPerBatch) * uniforms.length + position) * width;
    ${this.rowReduce('rowMax', score, maximum, '-3.402823e38')}
    ${this.rowReduce('total', `exp(${score} - rowMax)`)}
    ${this.forEach(`result[base + i] = exp(${score} - rowMax) / total;`)}`,
    );
  }
}

/** d_scores = scale · P · (G − Σ G · P), row by row over the last axis. */
class ScaledSoftmaxGradientProgram extends RowProgram {
  variableNames = ['P', 'G'];
  uniforms = 'scale : f32,';

  constructor(rows: number, slots: number) {
    super('sealScaledSoftmaxGradient', rows, slots, [rows, slots]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.pShape.y',
      'uniforms.pShape.x',
      `${this.rowReduce('dot', 'f32(G[base + i]) * f32(P[base + i])')}
    ${this.forEach('result[base + i] = uniforms.scale * f32(P[base + i]) * (f32(G[base + i]) - dot);')}`,
    );
  }
}

/**
 * d_gate (from G, U and the incoming gradient D) or d_up (from G and D) of silu(G) · U. A
 * program binds only the inputs its code reads.
 */
class SwiGluGradientProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(
    size: number,
    private readonly of: 'gate' | 'up',
  ) {
    super([size]);
    this.variableNames = of === 'gate' ? ['G', 'U', 'D'] : ['G', 'D'];
    this.shaderKey = `sealSwiGluGradient_${of}`;
  }

  getUserCode(): string {
    const value =
      this.of === 'gate'
        ? 'f32(D[index]) * f32(U[index]) * s * (1.0 + gate * (1.0 - s))'
        : 'f32(D[index]) * gate * s';
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let gate = f32(G[index]);
      let s = 1.0 / (1.0 + exp(-1.0 * gate));
      result[index] = ${value};
    }
  }
`;
  }
}

/** x as a matrix [rows, width]. */
function rowsOf(x: tf.TensorInfo): [number, number] {
  const width = x.shape[x.shape.length - 1]!;
  return [tf.util.sizeFromShape(x.shape) / width, width];
}

function rmsScaleKernel({ inputs, backend, attrs }: KernelArgs<{ epsilon: number }>) {
  const { x } = inputs as { x: tf.TensorInfo };
  const [rows, width] = rowsOf(x);
  return runOnViews(
    backend,
    new RmsScaleProgram(rows, width),
    [[x, [rows, width]]],
    [{ type: 'float32', data: [attrs.epsilon] }],
  );
}

function inputGradientKernel({ inputs, backend }: KernelArgs) {
  const { x, weight, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const [rows, width] = rowsOf(x!);
  return runOnViews(
    backend,
    new InputGradientProgram(rows, width),
    [
      [x!, [rows, width]],
      [weight!, [width]],
      [dy!, [rows, width]],
      [scale!, [rows]],
    ],
    [],
    x!.shape,
  );
}

function weightGradientKernel({ inputs, backend }: KernelArgs) {
  const { x, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const [rows, width] = rowsOf(x!);
  return runOnViews(backend, new WeightGradientProgram([width]), [
    [x!, [rows, width]],
    [dy!, [rows, width]],
    [scale!, [rows]],
  ]);
}

function scaledSoftmaxKernel({ inputs, backend, attrs }: KernelArgs<{ scale: number }>) {
  const { scores, bias } = inputs as { scores: tf.TensorInfo; bias: tf.TensorInfo };
  const [batch, , length, slots] = bias.shape as [number, number, number, number];
  const rows = tf.util.sizeFromShape(scores.shape) / slots;
  return runOnViews(
    backend,
    new ScaledSoftmaxProgram(rows, scores.shape),
    [
      [scores, scores.shape],
      [bias, [batch, length, slots]],
    ],
    [
      { type: 'float32', data: [attrs.scale] },
      { type: 'int32', data: [length] },
    ],
  );
}

function scaledSoftmaxGradientKernel({ inputs, backend, attrs }: KernelArgs<{ scale: number }>) {
  const { probs, dy } = inputs as { probs: tf.TensorInfo; dy: tf.TensorInfo };
  const [rows, slots] = rowsOf(probs);
  return runOnViews(
    backend,
    new ScaledSoftmaxGradientProgram(rows, slots),
    [
      [probs, [rows, slots]],
      [dy, [rows, slots]],
    ],
    [{ type: 'float32', data: [attrs.scale] }],
    probs.shape,
  );
}

function swiGluGradientKernel(of: 'gate' | 'up') {
  return ({ inputs, backend }: KernelArgs) => {
    const { gate, up, dy } = inputs as Record<string, tf.TensorInfo>;
    const size = tf.util.sizeFromShape(gate!.shape);
    const read = of === 'gate' ? [gate!, up!, dy!] : [gate!, dy!];
    return runOnViews(
      backend,
      new SwiGluGradientProgram(size, of),
      read.map((x): [tf.TensorInfo, number[]] => [x, [size]]),
      [],
      gate!.shape,
    );
  };
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

/** RMSNorm of x [..., width] by `weight` [width], with gradients; needs `ownTrainingKernelsActive()`. */
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
 * r mod length). Needs `ownTrainingKernelsActive()`.
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
 * its gradient for x. Needs `ownTrainingKernelsActive()`.
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

/** Heads [B, heads, T, d] merged into [B, T, heads·d], with its gradient. Needs `ownTrainingKernelsActive()`. */
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

/** silu(gate) · up, with its gradients. Needs `ownTrainingKernelsActive()`. */
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

/** Registers the programs for webgpu, once. */
export function registerWebGpuTrainingKernels(): void {
  registerOnWebGpu([
    [RMS_SCALE_KERNEL, rmsScaleKernel],
    [RMS_INPUT_GRADIENT_KERNEL, inputGradientKernel],
    [RMS_WEIGHT_GRADIENT_KERNEL, weightGradientKernel],
    [SOFTMAX_KERNEL, scaledSoftmaxKernel],
    [SOFTMAX_GRADIENT_KERNEL, scaledSoftmaxGradientKernel],
    [MERGE_HEADS_KERNEL, headsKernel('merge')],
    [SWIGLU_GATE_GRADIENT_KERNEL, swiGluGradientKernel('gate')],
    [SWIGLU_UP_GRADIENT_KERNEL, swiGluGradientKernel('up')],
  ]);
}
