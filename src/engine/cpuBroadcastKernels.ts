/**
 * Kernels that tfjs's cpu backend runs by converting every element's flat index to coordinates
 * and back: a binary op whose operands broadcast along some axis (RMSNorm's x · rsqrt(mean) and
 * · weight, attention's bias over heads, AdamW's and the loss's per-row factors), a slice that is
 * not one contiguous run (the loss drops each sequence's last position), a transpose (attention's
 * heads, the linears' gradients), and softmax, built from such ops. In a training step of the
 * shape benchmark they took about 2.2 s of 5.3. Ours walk the output row by row, with each
 * operand's offset advanced by its strides.
 *
 * The binary ops compute what tfjs computes, one double-precision operation rounded to float32,
 * so they give its results bit for bit; softmax takes the same steps, each rounded as tfjs rounds
 * it (tested against tfjs's own kernels).
 */
import * as tf from '@tensorflow/tfjs';
import type { Values } from './hostBackend';

import type { CpuBackend } from './cpuKernels';

/** A kernel of ours: null hands the call to tfjs's own. */
type CpuKernel = (args: {
  inputs: Record<string, tf.TensorInfo>;
  backend: CpuBackend;
  attrs: Record<string, unknown>;
}) => tf.TensorInfo | null;

/**
 * `shape`'s strides (right-aligned against `outShape`) along each axis of `outShape`: 0 along
 * axes it is broadcast over.
 */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const strides = outShape.map(() => 0);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const outAxis = axis + outShape.length - shape.length;
    if (shape[axis] !== 1) strides[outAxis] = stride;
    stride *= shape[axis]!;
  }
  return strides;
}

/**
 * Calls `row(outStart, aStart, bStart)` for each row of the output (its last axis), with where
 * that row starts in the output and in each operand's values.
 */
function forEachRow(
  outShape: number[],
  aStrides: number[],
  bStrides: number[],
  row: (outStart: number, aStart: number, bStart: number) => void,
): void {
  const rank = outShape.length;
  const width = outShape[rank - 1]!;
  const size = tf.util.sizeFromShape(outShape);
  const index = outShape.map(() => 0);
  let [aStart, bStart] = [0, 0];
  for (let outStart = 0; outStart < size; outStart += width) {
    row(outStart, aStart, bStart);
    for (let axis = rank - 2; axis >= 0; axis--) {
      index[axis]!++;
      aStart += aStrides[axis]!;
      bStart += bStrides[axis]!;
      if (index[axis]! < outShape[axis]!) break;
      aStart -= aStrides[axis]! * outShape[axis]!;
      bStart -= bStrides[axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
}

export type BinaryOp = 'add' | 'sub' | 'multiply' | 'divide';

/**
 * out[o + k] = A[i + k·aStep] op B[j + k·bStep] for k < width (steps 0 or 1): one loop per op,
 * so that each stays a plain loop with no call inside.
 */
function binaryRow(
  op: BinaryOp,
  out: Float32Array,
  o: number,
  [A, i, aStep]: [Values, number, number],
  [B, j, bStep]: [Values, number, number],
  width: number,
): void {
  switch (op) {
    case 'add':
      for (let k = 0; k < width; k++) out[o + k] = A[i + k * aStep]! + B[j + k * bStep]!;
      break;
    case 'sub':
      for (let k = 0; k < width; k++) out[o + k] = A[i + k * aStep]! - B[j + k * bStep]!;
      break;
    case 'multiply':
      for (let k = 0; k < width; k++) out[o + k] = A[i + k * aStep]! * B[j + k * bStep]!;
      break;
    case 'divide':
      for (let k = 0; k < width; k++) out[o + k] = A[i + k * aStep]! / B[j + k * bStep]!;
      break;
  }
}

/**
 * The binary op over float32 operands of any shapes that broadcast (equal, scalar or along some
 * axes); null for other dtypes.
 */
export function binary(op: BinaryOp): CpuKernel {
  return ({ inputs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
    const A = backend.data.get(a.dataId).values;
    const B = backend.data.get(b.dataId).values;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = tf.util.sizeFromShape(outShape);
    const out = new Float32Array(size);
    // Equal shapes or a single value on either side: the whole output is one row.
    if (A.length === size && (B.length === size || B.length === 1)) {
      binaryRow(op, out, 0, [A, 0, 1], [B, 0, B.length === size ? 1 : 0], size);
    } else if (A.length === 1 && B.length === size) {
      binaryRow(op, out, 0, [A, 0, 0], [B, 0, 1], size);
    } else {
      const aStrides = broadcastStrides(a.shape, outShape);
      const bStrides = broadcastStrides(b.shape, outShape);
      const last = outShape.length - 1;
      const width = outShape[last]!;
      forEachRow(outShape, aStrides, bStrides, (o, i, j) =>
        binaryRow(op, out, o, [A, i, aStrides[last]!], [B, j, bStrides[last]!], width),
      );
    }
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

/**
 * The values of a tensor of `shape` (rank ≥ 2) stored in `values` from `offset`, with its axes
 * permuted: the output's axis d walks the input's axis perm[d]. Copied row by row.
 */
export function permuted<T extends Values>(
  values: T,
  offset: number,
  shape: number[],
  perm: number[],
): T {
  const outShape = perm.map((axis) => shape[axis]!);
  const inStrides = [...tf.util.computeStrides(shape), 1];
  const strides = perm.map((axis) => inStrides[axis]!);
  const size = tf.util.sizeFromShape(shape);
  const out = (values instanceof Int32Array ? new Int32Array(size) : new Float32Array(size)) as T;
  const width = outShape[outShape.length - 1]!;
  const step = strides[strides.length - 1]!;
  forEachRow(outShape, strides, strides, (o, i) => {
    for (let k = 0; k < width; k++) out[o + k] = values[offset + i + k * step]!;
  });
  return out;
}

export const transpose: CpuKernel = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  const perm = attrs.perm as number[];
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length < 2) return null;
  const values = permuted(backend.data.get(x.dataId).values, 0, x.shape, perm);
  return backend.makeTensorInfo(
    perm.map((axis) => x.shape[axis]!),
    x.dtype,
    values,
  );
};

/** A slice that is not one contiguous run, copied a run of its last axis at a time. */
export const slice: CpuKernel = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x,
    attrs.begin as number[],
    attrs.size as number[],
  ) as [number[], number[]];
  if (x.shape.length === 0 || tf.slice_util.isSliceContinous(x.shape, begin, size)) return null;
  tf.slice_util.assertParamsValid(x, begin, size);
  const values = backend.data.get(x.dataId).values;
  const out =
    x.dtype === 'int32'
      ? new Int32Array(tf.util.sizeFromShape(size))
      : new Float32Array(tf.util.sizeFromShape(size));
  const strides = [...tf.util.computeStrides(x.shape), 1];
  const start = begin.reduce((offset, b, axis) => offset + b * strides[axis]!, 0);
  const width = size[size.length - 1]!;
  forEachRow(size, strides, strides, (o, i) => {
    out.set(values.subarray(start + i, start + i + width), o);
  });
  return backend.makeTensorInfo(size, x.dtype, out);
};

/**
 * Softmax along the last axis as tfjs's cpu kernel computes it (max, x − max, exp, sum, divide,
 * each result rounded to float32), without its broadcasting subtract and divide.
 */
export const softmax: CpuKernel = ({ inputs, backend, attrs }) => {
  const { logits } = inputs as { logits: tf.TensorInfo };
  const rank = logits.shape.length;
  const dim = attrs.dim as number;
  if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
  const values = backend.data.get(logits.dataId).values;
  const width = logits.shape[rank - 1]!;
  const out = new Float32Array(values.length);
  for (let start = 0; start < values.length; start += width) {
    let max = -Infinity;
    for (let k = 0; k < width; k++) max = Math.max(max, values[start + k]!);
    let sum = 0;
    for (let k = 0; k < width; k++) {
      out[start + k] = Math.exp(Math.fround(values[start + k]! - max));
      sum += out[start + k]!;
    }
    const total = Math.fround(sum);
    for (let k = 0; k < width; k++) out[start + k] = out[start + k]! / total;
  }
  return backend.makeTensorInfo(logits.shape, 'float32', out);
};
