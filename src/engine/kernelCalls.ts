/**
 * Counts the kernels a piece of work issues, two ways, by wrapping two entry points for its
 * duration (tfjs offers no counter; `tf.profile` would count too, but on webgpu it times every
 * kernel with its own GPU queries, which made one SwiftShader training step take minutes):
 * - tfjs kernel invocations: `tf.engine().runKernel`, through which every op reaches its
 *   backend's registered kernel (forward and backward). The CPU-side cost of the engine scales
 *   with it on every backend;
 * - on webgpu, GPU programs actually dispatched: the backend's `runWebGPUProgram`, plus our fused
 *   AdamW's dispatches, which it encodes itself. One kernel may dispatch several programs, or none
 *   (a reshape only relabels a buffer), and dispatches are what a GPU pays per launch.
 */
import * as tf from '@tensorflow/tfjs';
import { ownAdamWDispatches } from './webgpuOptimizerKernels';

export interface KernelCalls {
  tfjsKernels: number;
  /** Null off webgpu. */
  gpuDispatches: number | null;
}

type Method = (...args: unknown[]) => unknown;

/** Replaces `owner[name]` with a counting wrapper; returns the count and a restore function. */
function countCalls(owner: Record<string, unknown>, name: string) {
  const original = owner[name] as Method;
  const counter = { calls: 0, restore: () => void (owner[name] = original) };
  owner[name] = function (this: unknown, ...args: unknown[]) {
    counter.calls++;
    return original.apply(this, args);
  };
  return counter;
}

export async function countKernelCalls(work: () => Promise<unknown>): Promise<KernelCalls> {
  const kernels = countCalls(tf.engine() as unknown as Record<string, unknown>, 'runKernel');
  const dispatches =
    tf.getBackend() === 'webgpu'
      ? countCalls(tf.backend() as unknown as Record<string, unknown>, 'runWebGPUProgram')
      : null;
  const adamWBefore = ownAdamWDispatches();
  try {
    await work();
    const adamW = ownAdamWDispatches() - adamWBefore;
    return {
      tfjsKernels: kernels.calls,
      gpuDispatches: dispatches ? dispatches.calls + adamW : null,
    };
  } finally {
    kernels.restore();
    dispatches?.restore();
  }
}
