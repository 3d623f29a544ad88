/**
 * What the checks of our WebGPU kernels against tfjs's stock ops share: one measure of agreement,
 * and a way to run our program so that a failure to compile cannot pass as agreement.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/** A result's values, read without blocking; the tensor is disposed. */
export async function readAndDispose(result: tf.Tensor): Promise<Float32Array> {
  try {
    return (await result.data()) as Float32Array;
  } finally {
    result.dispose();
  }
}

/** max |ours − stock| / max |stock| over every value (the absolute difference if stock is all 0). */
export function relativeError(
  ours: Float32Array | readonly Float32Array[],
  stock: Float32Array | readonly Float32Array[],
): number {
  const oursList = ours instanceof Float32Array ? [ours] : ours;
  const stockList = stock instanceof Float32Array ? [stock] : stock;
  let difference = 0;
  let scale = 0;
  stockList.forEach((values, j) => {
    for (let i = 0; i < values.length; i++) {
      difference = Math.max(difference, Math.abs(oursList[j]![i]! - values[i]!));
      scale = Math.max(scale, Math.abs(values[i]!));
    }
  });
  return scale === 0 ? difference : difference / scale;
}

/**
 * Runs `run` inside a WebGPU validation error scope and says what went wrong in it (null: nothing).
 * A program that does not compile dispatches nothing and tfjs never hears of it; its output
 * buffer, taken from tfjs's pool, may still hold a result the stock ops computed just before, so
 * equal values alone do not prove that our program ran. Run ours first, in here. On other
 * backends there is no such scope, and no such error.
 */
export async function withGpuErrors<T>(
  run: () => Promise<T>,
): Promise<{ value: T; gpuError: string | null }> {
  if (tf.getBackend() !== 'webgpu') return { value: await run(), gpuError: null };
  const { device } = tf.backend() as WebGPUBackend;
  device.pushErrorScope('validation');
  // The scope is popped however `run` ends, so that it never swallows a later error.
  const settled = await run().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const gpuError = await device.popErrorScope();
  if ('error' in settled) throw settled.error;
  return { value: settled.value, gpuError: gpuError?.message ?? null };
}
