/**
 * Fixes to tfjs's plain-JavaScript cpu backend, registered by `selectBackend`:
 * - `UnsortedSegmentSum` compared every input row with every segment (a loop per output element),
 *   and the gradient of `tf.gather` over the loss's flattened logits is built on it, which made it
 *   most of a cpu training step. Ours adds each row to its segment once.
 * - `BatchMatMul` walked B with a stride of a whole row for every multiply-add of x·W and
 *   recomputed three-term offsets in its innermost loop; at the shape benchmark's size it ran at
 *   about 1.4 GFLOP/s and took 6.1 s of a 10 s step. Ours reads memory in order (about 4 GFLOP/s
 *   there: 2.0 s of a 5.2 s step), two rows by four at a time once operands are copied into
 *   A·Bᵀ's layout (2.2 s of a 2.9 s step, after the kernels below).
 * - Binary ops that broadcast, slices that are not one run, transposes and softmax
 *   (cpuBroadcastKernels.ts) indexed every element through its coordinates: about 2.2 s of that
 *   5.2 s step, now about 0.2 s.
 */
import * as tf from '@tensorflow/tfjs';
import type { Values } from './hostBackend';
import { binary, permuted, slice, softmax, transpose, type BinaryOp } from './cpuBroadcastKernels';
import { matMulLayout } from './matMulLayout';

/** What our kernels use of the cpu backend: its tensors' values and a way to make an output. */
export interface CpuBackend {
  data: { get(dataId: tf.DataId): { values: Values } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Values): tf.TensorInfo;
}

interface SegmentSumArgs {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: CpuBackend;
  attrs: { numSegments: number };
}

export function unsortedSegmentSum({ inputs, backend, attrs }: SegmentSumArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs;
  const ids = backend.data.get(segmentIds.dataId).values;
  const xValues = backend.data.get(x.dataId).values;
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const out =
    x.dtype === 'int32'
      ? new Int32Array(numSegments * rowSize)
      : new Float32Array(numSegments * rowSize);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i]!;
    // Like TensorFlow, ids outside [0, numSegments) contribute nothing.
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let j = 0; j < rowSize; j++) out[to + j] = out[to + j]! + xValues[from + j]!;
  }
  return backend.makeTensorInfo([numSegments, ...rowShape], x.dtype, out);
}

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: CpuBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

interface ProductLayout {
  rows: number;
  inner: number;
  columns: number;
}

interface ProductBases {
  a: number;
  b: number;
  out: number;
}

/** Four of B's rows starting at row j, the last one repeated past the edge. */
function fourRows(bBase: number, j: number, columns: number, inner: number) {
  const row = (c: number) => bBase + Math.min(c, columns - 1) * inner;
  return [row(j), row(j + 1), row(j + 2), row(j + 3)] as const;
}

/**
 * Stores the sums of columns j … j+3 in the row of `out` at `outRow`; past the last column they
 * are its sum again (see fourRows), stored again where it already is.
 */
function storeFour(
  out: Float32Array,
  outRow: number,
  j: number,
  columns: number,
  sums: [number, number, number, number],
): void {
  for (let t = 0; t < 4; t++) out[outRow + Math.min(j + t, columns - 1)] = sums[t]!;
}

/** Row `aRow` of A times Bᵀ into `outRow`: four dot products sharing each read of A. */
function dotProductsOfRow(
  A: Float32Array,
  B: Float32Array,
  out: Float32Array,
  { inner, columns }: ProductLayout,
  [aRow, bBase, outRow]: [number, number, number],
): void {
  for (let j = 0; j < columns; j += 4) {
    const [b0, b1, b2, b3] = fourRows(bBase, j, columns, inner);
    let [s0, s1, s2, s3] = [0, 0, 0, 0];
    for (let k = 0; k < inner; k++) {
      const x = A[aRow + k]!;
      s0 += x * B[b0 + k]!;
      s1 += x * B[b1 + k]!;
      s2 += x * B[b2 + k]!;
      s3 += x * B[b3 + k]!;
    }
    storeFour(out, outRow, j, columns, [s0, s1, s2, s3]);
  }
}

/**
 * out = A·Bᵀ with A [rows, inner] and B [columns, inner] row-major: two rows of A by four rows of
 * B at a time, eight dot products sharing each read (a register tile); a last odd row by itself.
 */
function dotProducts(
  A: Float32Array,
  B: Float32Array,
  out: Float32Array,
  layout: ProductLayout,
  bases: ProductBases,
): void {
  const { rows, inner, columns } = layout;
  let i = 0;
  for (; i + 2 <= rows; i += 2) {
    const [a0, a1] = [bases.a + i * inner, bases.a + (i + 1) * inner];
    const [o0, o1] = [bases.out + i * columns, bases.out + (i + 1) * columns];
    for (let j = 0; j < columns; j += 4) {
      const [b0, b1, b2, b3] = fourRows(bases.b, j, columns, inner);
      let [s00, s01, s02, s03, s10, s11, s12, s13] = [0, 0, 0, 0, 0, 0, 0, 0];
      for (let k = 0; k < inner; k++) {
        const x0 = A[a0 + k]!;
        const x1 = A[a1 + k]!;
        const w0 = B[b0 + k]!;
        const w1 = B[b1 + k]!;
        const w2 = B[b2 + k]!;
        const w3 = B[b3 + k]!;
        s00 += x0 * w0;
        s01 += x0 * w1;
        s02 += x0 * w2;
        s03 += x0 * w3;
        s10 += x1 * w0;
        s11 += x1 * w1;
        s12 += x1 * w2;
        s13 += x1 * w3;
      }
      storeFour(out, o0, j, columns, [s00, s01, s02, s03]);
      storeFour(out, o1, j, columns, [s10, s11, s12, s13]);
    }
  }
  if (i < rows) {
    dotProductsOfRow(A, B, out, layout, [bases.a + i * inner, bases.b, bases.out + i * columns]);
  }
}

/**
 * out = A·B with A [rows, inner] and B [inner, columns]: four rows of the product at a time, each
 * a sum of B's rows scaled by A's entries, so that every read of B serves four rows. For products
 * of few rows, where copying B into A·Bᵀ's layout would cost as much as the product.
 */
function scaledRowSums(
  A: Float32Array,
  B: Float32Array,
  out: Float32Array,
  { rows, inner, columns }: ProductLayout,
  bases: ProductBases,
): void {
  const sums = new Float64Array(4 * columns);
  const entry = (i: number, k: number) => (i < rows ? A[bases.a + i * inner + k]! : 0);
  for (let i = 0; i < rows; i += 4) {
    sums.fill(0);
    for (let k = 0; k < inner; k++) {
      const [x0, x1, x2, x3] = [entry(i, k), entry(i + 1, k), entry(i + 2, k), entry(i + 3, k)];
      const bRow = bases.b + k * columns;
      for (let j = 0; j < columns; j++) {
        const value = B[bRow + j]!;
        sums[j] = sums[j]! + x0 * value;
        sums[columns + j] = sums[columns + j]! + x1 * value;
        sums[2 * columns + j] = sums[2 * columns + j]! + x2 * value;
        sums[3 * columns + j] = sums[3 * columns + j]! + x3 * value;
      }
    }
    const count = Math.min(4, rows - i);
    out.set(sums.subarray(0, count * columns), bases.out + i * columns);
  }
}

/** Products of at least this many rows copy B into A·Bᵀ's layout when it is not there. */
const MIN_ROWS_TO_TRANSPOSE_B = 8;

/**
 * x·W products on the cpu backend with loops that read memory in order. A transposed A is copied
 * untransposed first; then A·Bᵀ is a register tile of dot products of contiguous rows, and so is
 * A·B once B is copied transposed, except for products of a few rows, which gather rows of B
 * scaled by A's entries instead. Every output is summed over k in order in float64 and rounded
 * once, whichever loop computes it. Null where the layout is not one of those (batches that
 * broadcast other than one against many or equal): tfjs's kernel takes it.
 */
export function cpuBatchMatMul({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo | null {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const found = matMulLayout(a, b, transposeA, transposeB);
  if (!found) return null;
  const { rows, inner, columns, aBatches, bBatches, batch: batches, batchShape } = found;
  const A = backend.data.get(a.dataId).values as Float32Array;
  const B = backend.data.get(b.dataId).values as Float32Array;
  const out = new Float32Array(batches * rows * columns);
  const aSize = rows * inner;
  const bSize = inner * columns;
  const layout = { rows, inner, columns };
  const dotted = transposeB || rows >= MIN_ROWS_TO_TRANSPOSE_B;
  for (let batch = 0; batch < batches; batch++) {
    const [aStart, bStart] = [
      (aBatches === 1 ? 0 : batch) * aSize,
      (bBatches === 1 ? 0 : batch) * bSize,
    ];
    const aRows = transposeA ? permuted(A, aStart, [inner, rows], [1, 0]) : A;
    const bRows = dotted && !transposeB ? permuted(B, bStart, [inner, columns], [1, 0]) : B;
    const bases = {
      a: aRows === A ? aStart : 0,
      b: bRows === B ? bStart : 0,
      out: batch * rows * columns,
    };
    if (dotted) dotProducts(aRows, bRows, out, layout, bases);
    else scaledRowSums(aRows, bRows, out, layout, bases);
  }
  return backend.makeTensorInfo([...batchShape, rows, columns], 'float32', out);
}

/** Whether the kernels below replaced the stock ones (they are registered once per process). */
let registered = false;

/** Whether ours run (on) or hand each call to tfjs's own kernels (off, for benchmarks against stock). */
let ownEnabled = true;

export function setOwnCpuKernels(enabled: boolean): void {
  ownEnabled = enabled;
}

/** Calls our kernels have served in this process (tests check they really ran). */
let ownRuns = 0;

export function ownCpuKernelRuns(): number {
  return ownRuns;
}

/** A kernel of ours: null hands the call to tfjs's own. */
type OwnKernel = (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | null;

/** `own` in place of tfjs's cpu kernel `kernelName`. */
function replaceCpuKernel(kernelName: string, own: OwnKernel): void {
  const stock = tf.getKernel(kernelName, 'cpu')!;
  tf.unregisterKernel(kernelName, 'cpu');
  tf.registerKernel({
    kernelName,
    backendName: 'cpu',
    kernelFunc: (args) => {
      const result = ownEnabled ? own(args) : null;
      if (!result) return stock.kernelFunc(args);
      ownRuns++;
      return result;
    },
  });
}

export function registerCpuKernels(): void {
  if (registered || !tf.getKernel('UnsortedSegmentSum', 'cpu')) return;
  replaceCpuKernel('UnsortedSegmentSum', unsortedSegmentSum as unknown as OwnKernel);
  replaceCpuKernel('BatchMatMul', cpuBatchMatMul as unknown as OwnKernel);
  const binaryOps: [string, BinaryOp][] = [
    ['Add', 'add'],
    ['Sub', 'sub'],
    ['Multiply', 'multiply'],
    ['RealDiv', 'divide'],
  ];
  for (const [kernelName, op] of binaryOps) {
    replaceCpuKernel(kernelName, binary(op) as unknown as OwnKernel);
  }
  replaceCpuKernel('Slice', slice as unknown as OwnKernel);
  replaceCpuKernel('Softmax', softmax as unknown as OwnKernel);
  replaceCpuKernel('Transpose', transpose as unknown as OwnKernel);
  registered = true;
}
