/**
 * Programs with gradients of our own, for training (and any uncached forward pass) on webgpu. A
 * chain of stock ops keeps each op's output for the backward pass and differentiates through each
 * one; one program keeps only what its gradient needs, and its gradient is one or a few programs.
 *
 * RMSNorm: our forward program (webgpuDecodeKernels.ts). As stock ops, y = x · rsqrt(mean(x²) + eps) · w keeps five intermediates of x's size
 * for the backward pass and differentiates through each (a step of the shape benchmark spent
 * about a tenth of its time in RMSNorm's means and sums). Here the forward pass keeps only x and
 * w, and the backward pass is three programs: each row's scale r = rsqrt(mean(x²) + eps),
 *   dx_j = r · g_j · w_j − r³ · x_j · Σ_i g_i · w_i · x_i / width   (one workgroup per row)
 *   dw_j = Σ_rows g_j · x_j · r                                      (one invocation per column)
 * with g the incoming gradient.
 *
 * Attention's softmax: p = softmax(scores · scale + bias), the bias (the causal and padding mask)
 * broadcast over heads, as llama.ts's groupedQueryAttention computes it. Stock ops keep the scaled
 * and the biased scores (each the size of the scores) and tfjs's softmax program was about a
 * twelfth of a step on SwiftShader. Here one workgroup per row computes p and keeps only p; the
 * gradient is one program per row: d_scores = scale · p · (g − Σ g · p).
 */
import * as tf from '@tensorflow/tfjs';
import {
  ElementwiseProgram,
  fusedRmsNorm,
  runOnViews,
  WORKGROUP,
  WORKGROUP_INDEX,
  workgroupReduce,
  type KernelArgs,
} from './webgpuDecodeKernels';
import { ownWebGpuKernelsEnabled } from './webgpuKernels';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

const RMS_SCALE_KERNEL = 'SealRmsScale';
const RMS_INPUT_GRADIENT_KERNEL = 'SealRmsNormInputGradient';
const RMS_WEIGHT_GRADIENT_KERNEL = 'SealRmsNormWeightGradient';
const SOFTMAX_KERNEL = 'SealScaledSoftmax';
const SOFTMAX_GRADIENT_KERNEL = 'SealScaledSoftmaxGradient';

/** Backward passes through our programs in this process (tests check they really ran). */
const gradientRuns = { rmsNorm: 0, softmax: 0 };

export function ownGradientRuns(): Readonly<typeof gradientRuns> {
  return { ...gradientRuns };
}

/** Whether `rmsNormWithGradient` and `scaledSoftmax` run our programs (webgpu, ours switched on). */
export function ownTrainingKernelsActive(): boolean {
  return (
    ownWebGpuKernelsEnabled() &&
    tf.getBackend() === 'webgpu' &&
    tf.getKernel(RMS_SCALE_KERNEL, 'webgpu') !== undefined
  );
}

/** One workgroup per row of X [rows, width]. */
abstract class RowProgram implements WebGPUProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];

  constructor(rows: number, outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatch = [rows, 1, 1];
  }

  abstract getUserCode(): string;
}

/** R [rows] = rsqrt(mean(x²) + eps) of each row of X. */
class RmsScaleProgram extends RowProgram {
  variableNames = ['X'];
  uniforms = 'epsilon : f32,';
  shaderKey = 'sealRmsScale';

  getUserCode(): string {
    return `
  var<workgroup> partial : array<f32, ${WORKGROUP}>;

  fn main(index : i32) {
    let width = uniforms.xShape.y;
    let row = ${WORKGROUP_INDEX};
    var sum = 0.0;
    for (var i = i32(localIndex); i < width; i = i + ${WORKGROUP}) {
      let x = f32(X[row * width + i]);
      sum = sum + x * x;
    }
    partial[localIndex] = sum;
    ${workgroupReduce((a, b) => `${a} + ${b}`)}
    if (localIndex == 0u) {
      result[row] = 1.0 / sqrt(partial[0] / f32(width) + uniforms.epsilon);
    }
  }
`;
  }
}

/** dx [rows, width] from X, W [width], G [rows, width] and R [rows]. */
class InputGradientProgram extends RowProgram {
  variableNames = ['X', 'W', 'G', 'R'];
  shaderKey = 'sealRmsNormInputGradient';

  getUserCode(): string {
    return `
  var<workgroup> partial : array<f32, ${WORKGROUP}>;

  fn main(index : i32) {
    let width = uniforms.xShape.y;
    let row = ${WORKGROUP_INDEX};
    let base = row * width;
    var sum = 0.0;
    for (var i = i32(localIndex); i < width; i = i + ${WORKGROUP}) {
      sum = sum + f32(G[base + i]) * f32(W[i]) * f32(X[base + i]);
    }
    partial[localIndex] = sum;
    ${workgroupReduce((a, b) => `${a} + ${b}`)}
    let r = f32(R[row]);
    let shift = r * r * r * partial[0] / f32(width);
    for (var i = i32(localIndex); i < width; i = i + ${WORKGROUP}) {
      result[base + i] = r * f32(G[base + i]) * f32(W[i]) - shift * f32(X[base + i]);
    }
  }
`;
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
  shaderKey = 'sealScaledSoftmax';

  getUserCode(): string {
    return `
  var<workgroup> partial : array<f32, ${WORKGROUP}>;

  fn main(index : i32) {
    let slots = uniforms.sShape.w;
    let rowsPerBatch = uniforms.sShape.y * uniforms.sShape.z;
    let row = ${WORKGROUP_INDEX};
    let base = row * slots;
    let biasBase = ((row / rowsPerBatch) * uniforms.length + (row % uniforms.sShape.z) % uniforms.length) * slots;
    var localMax = -3.402823e38;
    for (var i = i32(localIndex); i < slots; i = i + ${WORKGROUP}) {
      localMax = max(localMax, f32(S[base + i]) * uniforms.scale + f32(B[biasBase + i]));
    }
    partial[localIndex] = localMax;
    ${workgroupReduce((a, b) => `max(${a}, ${b})`)}
    let rowMax = partial[0];
    workgroupBarrier();
    var localSum = 0.0;
    for (var i = i32(localIndex); i < slots; i = i + ${WORKGROUP}) {
      localSum = localSum + exp(f32(S[base + i]) * uniforms.scale + f32(B[biasBase + i]) - rowMax);
    }
    partial[localIndex] = localSum;
    ${workgroupReduce((a, b) => `${a} + ${b}`)}
    let total = partial[0];
    for (var i = i32(localIndex); i < slots; i = i + ${WORKGROUP}) {
      result[base + i] = exp(f32(S[base + i]) * uniforms.scale + f32(B[biasBase + i]) - rowMax) / total;
    }
  }
`;
  }
}

/** d_scores = scale · P · (G − Σ G · P), row by row over the last axis. */
class ScaledSoftmaxGradientProgram extends RowProgram {
  variableNames = ['P', 'G'];
  uniforms = 'scale : f32,';
  shaderKey = 'sealScaledSoftmaxGradient';

  getUserCode(): string {
    return `
  var<workgroup> partial : array<f32, ${WORKGROUP}>;

  fn main(index : i32) {
    let slots = uniforms.pShape.y;
    let base = ${WORKGROUP_INDEX} * slots;
    var sum = 0.0;
    for (var i = i32(localIndex); i < slots; i = i + ${WORKGROUP}) {
      sum = sum + f32(G[base + i]) * f32(P[base + i]);
    }
    partial[localIndex] = sum;
    ${workgroupReduce((a, b) => `${a} + ${b}`)}
    let dot = partial[0];
    for (var i = i32(localIndex); i < slots; i = i + ${WORKGROUP}) {
      result[base + i] = uniforms.scale * f32(P[base + i]) * (f32(G[base + i]) - dot);
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
    new RmsScaleProgram(rows, [rows]),
    [[x, [rows, width]]],
    [{ type: 'float32', data: [attrs.epsilon] }],
  );
}

function inputGradientKernel({ inputs, backend }: KernelArgs) {
  const { x, weight, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const [rows, width] = rowsOf(x!);
  return runOnViews(
    backend,
    new InputGradientProgram(rows, [rows, width]),
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
    new ScaledSoftmaxGradientProgram(rows, [rows, slots]),
    [
      [probs, [rows, slots]],
      [dy, [rows, slots]],
    ],
    [{ type: 'float32', data: [attrs.scale] }],
    probs.shape,
  );
}

function run<T extends tf.Tensor>(kernel: string, inputs: tf.NamedTensorMap, attrs = {}): T {
  return tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as T;
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
          const rowScale = run(RMS_SCALE_KERNEL, { x: saved! }, { epsilon });
          const inputs = { x: saved!, dy, scale: rowScale };
          return [
            run(RMS_INPUT_GRADIENT_KERNEL, { ...inputs, weight: savedWeight! }),
            run(RMS_WEIGHT_GRADIENT_KERNEL, inputs),
          ];
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

/** Registers the programs for webgpu, once. */
export function registerWebGpuTrainingKernels(): void {
  if (tf.getKernel(RMS_SCALE_KERNEL, 'webgpu')) return;
  const kernels: [string, unknown][] = [
    [RMS_SCALE_KERNEL, rmsScaleKernel],
    [RMS_INPUT_GRADIENT_KERNEL, inputGradientKernel],
    [RMS_WEIGHT_GRADIENT_KERNEL, weightGradientKernel],
    [SOFTMAX_KERNEL, scaledSoftmaxKernel],
    [SOFTMAX_GRADIENT_KERNEL, scaledSoftmaxGradientKernel],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: kernelFunc as tf.KernelFunc,
    });
  }
}
