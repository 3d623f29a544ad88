/**
 * The fused inference ops the model runs against a KV cache (generation), and whether they run:
 * RMSNorm, SwiGLU, the split into heads with RoPE, the KV-cache write and attention, each one
 * kernel instead of a sequence of stock ops. Each backend has its own kernels for them:
 * WGSL programs on webgpu (webgpuDecodeKernels.ts), JavaScript loops over the tensors' memory on
 * wasm and cpu (hostDecodeKernels.ts). They compute what the stock op sequences compute but have
 * no gradients: trainingOps.ts gives RMSNorm, SwiGLU and the heads gradients of their own around
 * them for training. Off (benchmarks against stock, `setOwnKernels(false)`), the model runs the
 * stock ops.
 */
import * as tf from '@tensorflow/tfjs';
import { ownWebGpuKernelActive } from './webgpuKernels';

export const RMS_NORM_KERNEL = 'SealRmsNorm';
export const SWIGLU_KERNEL = 'SealSwiGlu';
export const HEADS_KERNEL = 'SealHeads';
export const WRITE_SLOTS_KERNEL = 'SealWriteSlots';
export const ATTENTION_KERNEL = 'SealAttention';

/**
 * WebGPU's attention keeps one query's scores over every cache slot in workgroup memory: 2048
 * floats (8 KB) stay well within WebGPU's guaranteed 16 KB. Larger caches run the stock ops there.
 */
export const MAX_WEBGPU_ATTENTION_SLOTS = 2048;

/** Runs of each of our inference kernels in this process (tests check they really ran). */
const runs = new Map<string, number>();

export function ownInferenceKernelRuns(): number {
  return [...runs.values()].reduce((sum, count) => sum + count, 0);
}

/** Counts one run of our kernel `name`. */
export function countInferenceKernelRun(name: string): void {
  runs.set(name, (runs.get(name) ?? 0) + 1);
}

/** The wasm and cpu kernels' switch (inference and training); webgpu's is `setOwnWebGpuKernels`. */
let ownHostKernels = true;

export function setOwnHostKernels(enabled: boolean): void {
  ownHostKernels = enabled;
}

/** Whether our kernel `name` runs on this (cpu or wasm) backend: switched on and registered. */
export function ownHostKernelActive(name: string): boolean {
  return ownHostKernels && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Whether generation with a cache of `capacity` slots runs our inference kernels. */
export function ownInferenceKernelsActive(capacity: number): boolean {
  if (tf.getBackend() === 'webgpu') {
    return capacity <= MAX_WEBGPU_ATTENTION_SLOTS && ownWebGpuKernelActive(ATTENTION_KERNEL);
  }
  return ownHostKernelActive(ATTENTION_KERNEL);
}

/** Runs a registered kernel on tensors (through tfjs's engine, so gradients and tidy see it). */
export function run<T extends tf.Tensor>(kernel: string, inputs: tf.NamedTensorMap, attrs = {}): T {
  return tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as T;
}

/** RMSNorm of x [..., width] by `weight` [width]: x / sqrt(mean(x²) + eps) · weight. */
export function fusedRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor, epsilon: number): T {
  return run(RMS_NORM_KERNEL, { x, weight }, { epsilon });
}

/** silu(gate) · up. */
export function fusedSwiGlu<T extends tf.Tensor>(gate: T, up: T): T {
  return run(SWIGLU_KERNEL, { gate, up });
}

/**
 * x [B, T, heads·d] split into heads [B, heads, T, d]; rotated by RoPE when given the table
 * (cos and sin [positions, d/2]) and the position of each token (int32 [B, T]).
 */
export function fusedHeads(
  x: tf.Tensor3D,
  heads: number,
  rotary?: { cos: tf.Tensor2D; sin: tf.Tensor2D; positions: tf.Tensor2D },
): tf.Tensor4D {
  return run(HEADS_KERNEL, { x, ...rotary }, { heads });
}

/** `cache` with `entries` written along `axis` from index `start` on (same sizes elsewhere). */
export function fusedWriteSlots<T extends tf.Tensor>(
  cache: T,
  entries: T,
  start: number,
  axis: number,
): T {
  return run(WRITE_SLOTS_KERNEL, { cache, entries }, { start, axis });
}

/**
 * Grouped-query attention of queries [B, heads, T, d] over a KV cache's keys and values
 * [B, kvHeads, slots, d] whose real tokens `slotMask` [B, slots] marks, the queries sitting in
 * slots `queryStart` on; returns [B, T, heads·d].
 */
export function fusedAttention(
  queries: tf.Tensor4D,
  keys: tf.Tensor4D,
  values: tf.Tensor4D,
  slotMask: tf.Tensor2D,
  queryStart: number,
): tf.Tensor3D {
  return run(ATTENTION_KERNEL, { queries, keys, values, slotMask }, { queryStart });
}
