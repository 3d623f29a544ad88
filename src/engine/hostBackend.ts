/**
 * What our JavaScript kernels need of tfjs's cpu and wasm backends: a tensor's values, and a new
 * tensor from values. On wasm the values are a view of the wasm heap (no copy).
 */
import * as tf from '@tensorflow/tfjs';

/** A tensor's values as our kernels read them. */
export type Values = Float32Array | Int32Array;

export interface HostBackend {
  readSync(dataId: object): unknown;
  /** wasm: a view of the tensor in the wasm heap (no copy). */
  typedArrayFromHeap?(info: tf.TensorInfo): Float32Array | Int32Array;
  /** cpu */
  makeTensorInfo?(
    shape: number[],
    dtype: tf.DataType,
    values: Int32Array | Float32Array,
  ): tf.TensorInfo;
  /** wasm */
  makeOutput?(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: undefined,
    values?: Int32Array | Float32Array,
  ): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** What tfjs passes one of our JavaScript kernels. */
export interface HostKernelArgs<Attrs> {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: HostBackend;
  attrs: Attrs;
}

/**
 * A tensor's values, without a copy where the backend allows. On wasm, read them after any
 * allocation: growing the heap detaches earlier views.
 */
export function valuesOf(backend: HostBackend, info: tf.TensorInfo): Values {
  if (backend.typedArrayFromHeap) return backend.typedArrayFromHeap(info);
  return backend.readSync(info.dataId) as Values;
}

/** A new tensor holding `values`. */
export function output(
  backend: HostBackend,
  shape: number[],
  dtype: tf.DataType,
  values: Int32Array | Float32Array,
): tf.TensorInfo {
  if (backend.makeTensorInfo) return backend.makeTensorInfo(shape, dtype, values);
  return backend.makeOutput!(shape, dtype, undefined, values);
}

/**
 * A new float32 tensor of `shape` that `fill` writes, given views of `inputs`' values. On wasm it
 * is allocated first and written in place, the views taken after the allocation.
 */
export function computed(
  backend: HostBackend,
  shape: number[],
  inputs: tf.TensorInfo[],
  fill: (out: Float32Array, ...values: Values[]) => void,
): tf.TensorInfo {
  if (backend.makeOutput && backend.typedArrayFromHeap) {
    const out = backend.makeOutput(shape, 'float32');
    fill(
      backend.typedArrayFromHeap(out) as Float32Array,
      ...inputs.map((x) => valuesOf(backend, x)),
    );
    return out;
  }
  const values = new Float32Array(tf.util.sizeFromShape(shape));
  fill(values, ...inputs.map((x) => valuesOf(backend, x)));
  return output(backend, shape, 'float32', values);
}
