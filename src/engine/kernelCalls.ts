/**
 * Counts the kernels a piece of work issues, two ways:
 * - tfjs kernel invocations, from `tf.profile` (one entry per kernel the engine runs, plus one
 *   per custom-gradient scope, which is left out here). Every backend supports it, and it is
 *   what the dispatch overhead of the CPU-side engine scales with;
 * - on webgpu, GPU programs actually dispatched, by wrapping the backend's `runWebGPUProgram`
 *   for the duration: one tfjs kernel may dispatch several programs (or none: a reshape only
 *   relabels a buffer), and dispatches are what a GPU pays per launch.
 * Profiling reads no data back when `CHECK_COMPUTATION_FOR_ERRORS` is off, which is done here.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelCalls {
  tfjsKernels: number;
  /** Null off webgpu. */
  gpuDispatches: number | null;
}

interface DispatchingBackend {
  runWebGPUProgram: (...args: unknown[]) => unknown;
}

export async function countKernelCalls(work: () => Promise<unknown>): Promise<KernelCalls> {
  const backendName = tf.getBackend();
  const backend = backendName === 'webgpu' ? (tf.backend() as unknown as DispatchingBackend) : null;
  let dispatches = 0;
  const original = backend?.runWebGPUProgram;
  if (backend && original) {
    backend.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
      dispatches++;
      return original.apply(this, args);
    };
  }
  const checkedErrors = tf.env().getBool('CHECK_COMPUTATION_FOR_ERRORS');
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  try {
    const profile = await tf.profile(async () => {
      await work();
      return [];
    });
    const tfjsKernels = profile.kernels.filter((kernel) =>
      Boolean(tf.getKernel(kernel.name, backendName)),
    ).length;
    return { tfjsKernels, gpuDispatches: backend ? dispatches : null };
  } finally {
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', checkedErrors);
    if (backend && original) backend.runWebGPUProgram = original;
  }
}
