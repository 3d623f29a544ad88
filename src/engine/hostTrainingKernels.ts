/**
 * Our training kernels (the ops of trainingOps.ts) on tfjs's cpu and wasm backends, as
 * JavaScript loops over the tensors' values (on wasm, views of its heap). As stock ops, a
 * layer's RMSNorm, RoPE, heads, softmax and SwiGLU are dozens of kernels forward and more
 * backward, each a pass over memory and several microseconds of tfjs's bookkeeping; here each
 * is one pass.
 *
 * As in hostDecodeKernels.ts, sums and exponentials are taken in double precision and rounded
 * once: results agree with the stock ops to float32 rounding, not bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { computed, type HostKernelArgs, type Values } from './hostBackend';
import { headsKernel } from './hostDecodeKernels';
import {
  MERGE_HEADS_KERNEL,
  RMS_INPUT_GRADIENT_KERNEL,
  RMS_SCALE_KERNEL,
  RMS_WEIGHT_GRADIENT_KERNEL,
  SOFTMAX_GRADIENT_KERNEL,
  SOFTMAX_KERNEL,
  SWIGLU_GATE_GRADIENT_KERNEL,
  SWIGLU_UP_GRADIENT_KERNEL,
} from './trainingOps';

/** The last axis's size. */
function widthOf(x: tf.TensorInfo): number {
  return x.shape[x.shape.length - 1]!;
}

/** [rows] = 1 / sqrt(mean(x²) + eps) of each row of x [..., width]. */
function rmsScale({ inputs, backend, attrs }: HostKernelArgs<{ epsilon: number }>) {
  const { x } = inputs as { x: tf.TensorInfo };
  const width = widthOf(x);
  const rows = tf.util.sizeFromShape(x.shape) / width;
  return computed(backend, [rows], [x], (out, xs: Values) => {
    for (let row = 0; row < rows; row++) {
      const base = row * width;
      let squares = 0;
      for (let i = 0; i < width; i++) squares += xs[base + i]! * xs[base + i]!;
      out[row] = 1 / Math.sqrt(squares / width + attrs.epsilon);
    }
  });
}

/** dx = r · g · w − r³ · x · Σ(g · w · x) / width, row by row. */
function rmsInputGradient({ inputs, backend }: HostKernelArgs<unknown>) {
  const { x, weight, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const width = widthOf(x!);
  return computed(backend, x!.shape, [x!, weight!, dy!, scale!], (out, xs, ws, gs, rs) => {
    for (let row = 0, base = 0; base < out.length; row++, base += width) {
      let dot = 0;
      for (let i = 0; i < width; i++) dot += gs![base + i]! * ws![i]! * xs![base + i]!;
      const r = rs![row]!;
      const shift = (r * r * r * dot) / width;
      for (let i = 0; i < width; i++) {
        out[base + i] = r * gs![base + i]! * ws![i]! - shift * xs![base + i]!;
      }
    }
  });
}

/** dw [width] = Σ over rows of g · x · r. */
function rmsWeightGradient({ inputs, backend }: HostKernelArgs<unknown>) {
  const { x, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const width = widthOf(x!);
  const rows = tf.util.sizeFromShape(x!.shape) / width;
  const sums = new Float64Array(width);
  return computed(backend, [width], [x!, dy!, scale!], (out, xs, gs, rs) => {
    for (let row = 0; row < rows; row++) {
      const base = row * width;
      const r = rs![row]!;
      for (let i = 0; i < width; i++) sums[i] = sums[i]! + gs![base + i]! * xs![base + i]! * r;
    }
    out.set(sums);
  });
}

/**
 * softmax(scores · scale + bias) over the last axis: scores [batch, heads, rows, slots], bias
 * [batch, 1, length, slots] (row r of a head takes the bias of position r mod length).
 */
function scaledSoftmax({ inputs, backend, attrs }: HostKernelArgs<{ scale: number }>) {
  const { scores, bias } = inputs as { scores: tf.TensorInfo; bias: tf.TensorInfo };
  const [batch, heads, rows, slots] = scores.shape as [number, number, number, number];
  const length = bias.shape[2]!;
  const { scale } = attrs;
  const weights = new Float64Array(slots);
  return computed(backend, scores.shape, [scores, bias], (out, ss: Values, bs: Values) => {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let r = 0; r < rows; r++) {
          const base = ((b * heads + h) * rows + r) * slots;
          const biasBase = (b * length + (r % length)) * slots;
          let max = -Infinity;
          for (let s = 0; s < slots; s++) {
            // Rounded to float32 as the stock ops round it: a query that sees nothing (every
            // bias −1e9) then has equal scores and averages evenly, as it does there.
            const score = Math.fround(Math.fround(ss[base + s]! * scale) + bs[biasBase + s]!);
            weights[s] = score;
            if (score > max) max = score;
          }
          let total = 0;
          for (let s = 0; s < slots; s++) {
            const weight = Math.exp(weights[s]! - max);
            weights[s] = weight;
            total += weight;
          }
          for (let s = 0; s < slots; s++) out[base + s] = weights[s]! / total;
        }
      }
    }
  });
}

/** d_scores = scale · p · (g − Σ g · p), row by row over the last axis. */
function scaledSoftmaxGradient({ inputs, backend, attrs }: HostKernelArgs<{ scale: number }>) {
  const { probs, dy } = inputs as { probs: tf.TensorInfo; dy: tf.TensorInfo };
  const slots = widthOf(probs);
  const { scale } = attrs;
  return computed(backend, probs.shape, [probs, dy], (out, ps: Values, gs: Values) => {
    for (let base = 0; base < out.length; base += slots) {
      let dot = 0;
      for (let s = 0; s < slots; s++) dot += gs[base + s]! * ps[base + s]!;
      for (let s = 0; s < slots; s++) {
        out[base + s] = scale * ps[base + s]! * (gs[base + s]! - dot);
      }
    }
  });
}

/** d_gate = g · up · s · (1 + gate · (1 − s)), s = sigmoid(gate). */
function swiGluGateGradient({ inputs, backend }: HostKernelArgs<unknown>) {
  const { gate, up, dy } = inputs as Record<string, tf.TensorInfo>;
  return computed(backend, gate!.shape, [gate!, up!, dy!], (out, gates, ups, gs) => {
    for (let i = 0; i < out.length; i++) {
      const g = gates![i]!;
      const s = 1 / (1 + Math.exp(-g));
      out[i] = gs![i]! * ups![i]! * s * (1 + g * (1 - s));
    }
  });
}

/** d_up = g · gate · sigmoid(gate). */
function swiGluUpGradient({ inputs, backend }: HostKernelArgs<unknown>) {
  const { gate, dy } = inputs as Record<string, tf.TensorInfo>;
  return computed(backend, gate!.shape, [gate!, dy!], (out, gates, gs) => {
    for (let i = 0; i < out.length; i++) {
      const g = gates![i]!;
      out[i] = (gs![i]! * g) / (1 + Math.exp(-g));
    }
  });
}

/**
 * Registers the kernels, once: all of them for cpu, and for wasm those that beat its stock
 * kernels. tfjs's wasm sigmoid, exp and softmax run vectorized in C++, where these loops take
 * JavaScript's Math.exp one value at a time: with softmax and SwiGLU here, a training step of the
 * shape benchmark took 364 ms on wasm in Node, against 300 ms with only RMSNorm and the heads.
 */
export function registerHostTrainingKernels(): void {
  const withoutExp: [string, unknown][] = [
    [RMS_SCALE_KERNEL, rmsScale],
    [RMS_INPUT_GRADIENT_KERNEL, rmsInputGradient],
    [RMS_WEIGHT_GRADIENT_KERNEL, rmsWeightGradient],
    [MERGE_HEADS_KERNEL, headsKernel('merge')],
  ];
  const withExp: [string, unknown][] = [
    [SOFTMAX_KERNEL, scaledSoftmax],
    [SOFTMAX_GRADIENT_KERNEL, scaledSoftmaxGradient],
    [SWIGLU_GATE_GRADIENT_KERNEL, swiGluGateGradient],
    [SWIGLU_UP_GRADIENT_KERNEL, swiGluUpGradient],
  ];
  const kernelsOf = { cpu: [...withoutExp, ...withExp], wasm: withoutExp };
  for (const [backendName, kernels] of Object.entries(kernelsOf)) {
    if (tf.getKernel(RMS_SCALE_KERNEL, backendName)) continue;
    for (const [kernelName, kernelFunc] of kernels) {
      tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as tf.KernelFunc });
    }
  }
}
