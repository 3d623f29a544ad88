/**
 * Fixes to tfjs's plain-JavaScript cpu backend, registered by `selectBackend`:
 * - `UnsortedSegmentSum` compared every input row with every segment (a loop per output element),
 *   and the gradient of `tf.gather` over the loss's flattened logits is built on it, which made it
 *   most of a cpu training step. Ours adds each row to its segment once.
 * - `BatchMatMul` walked B with a stride of a whole row for every multiply-add of x·W and
 *   recomputed three-term offsets in its innermost loop; at the shape benchmark's size it ran at
 *   about 1.4 GFLOP/s and took 6.1 s of a 10 s step. Ours reads memory in order (about 4 GFLOP/s
 *   there: 2.0 s of a 5.2 s step).
 */
import * as tf from '@tensorflow/tfjs';
import { matMulLayout } from './matMulLayout';

type Values = Float32Array | Int32Array;

/** What this kernel uses of the cpu backend: its tensors' values and a way to make an output. */
interface CpuBackend {
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
  transposeA: boolean;
}

interface ProductBases {
  a: number;
  b: number;
  out: number;
}

/** out = A·Bᵀ with B [columns, inner]: four dot products of contiguous rows per read of A's row. */
function dotProducts(
  A: Float32Array,
  B: Float32Array,
  out: Float32Array,
  { rows, inner, columns }: ProductLayout,
  bases: ProductBases,
): void {
  for (let i = 0; i < rows; i++) {
    const aRow = bases.a + i * inner;
    const outRow = bases.out + i * columns;
    let j = 0;
    for (; j + 4 <= columns; j += 4) {
      const b0 = bases.b + j * inner;
      const [b1, b2, b3] = [b0 + inner, b0 + 2 * inner, b0 + 3 * inner];
      let [s0, s1, s2, s3] = [0, 0, 0, 0];
      for (let k = 0; k < inner; k++) {
        const x = A[aRow + k]!;
        s0 += x * B[b0 + k]!;
        s1 += x * B[b1 + k]!;
        s2 += x * B[b2 + k]!;
        s3 += x * B[b3 + k]!;
      }
      out[outRow + j] = s0;
      out[outRow + j + 1] = s1;
      out[outRow + j + 2] = s2;
      out[outRow + j + 3] = s3;
    }
    for (; j < columns; j++) {
      const bRow = bases.b + j * inner;
      let sum = 0;
      for (let k = 0; k < inner; k++) sum += A[aRow + k]! * B[bRow + k]!;
      out[outRow + j] = sum;
    }
  }
}

/**
 * out = A·B (or Aᵀ·B) with B [inner, columns]: four rows of the product at a time, each a sum of
 * B's rows scaled by A's entries, so that every read of B serves four rows.
 */
function scaledRowSums(
  A: Float32Array,
  B: Float32Array,
  out: Float32Array,
  { rows, inner, columns, transposeA }: ProductLayout,
  bases: ProductBases,
): void {
  const sums = new Float64Array(4 * columns);
  const entry = (i: number, k: number) =>
    i < rows ? A[bases.a + (transposeA ? k * rows + i : i * inner + k)]! : 0;
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

/**
 * x·W products on the cpu backend with loops that read memory in order: for B not transposed,
 * each row of the product gathers rows of B scaled by A's entries (i-k-j); for A·Bᵀ, four dot
 * products of contiguous rows at a time share each read of A's row. Sums are kept in float64 and
 * rounded once. Null where the layout is not one of those (both operands transposed, or batches
 * that broadcast other than one against many or equal): tfjs's kernel takes it.
 */
export function cpuBatchMatMul({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo | null {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const found = transposeA && transposeB ? null : matMulLayout(a, b, transposeA, transposeB);
  if (!found) return null;
  const { rows, inner, columns, aBatches, bBatches, batch: batches, batchShape } = found;
  const A = backend.data.get(a.dataId).values as Float32Array;
  const B = backend.data.get(b.dataId).values as Float32Array;
  const out = new Float32Array(batches * rows * columns);
  const aSize = rows * inner;
  const bSize = inner * columns;
  const layout = { rows, inner, columns, transposeA };
  for (let batch = 0; batch < batches; batch++) {
    const bases = {
      a: (aBatches === 1 ? 0 : batch) * aSize,
      b: (bBatches === 1 ? 0 : batch) * bSize,
      out: batch * rows * columns,
    };
    if (transposeB) dotProducts(A, B, out, layout, bases);
    else scaledRowSums(A, B, out, layout, bases);
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
  registered = true;
}
