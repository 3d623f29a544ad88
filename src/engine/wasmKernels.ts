/**
 * Fixes to tfjs's wasm backend, registered by `selectBackend` wherever a backend starts (the
 * engine, a pool worker, a script, a test), so no result depends on which modules were imported:
 * - it ships no `UnsortedSegmentSum` kernel, yet the gradient of `tf.gather` (every embedding
 *   lookup) is built on it: one is registered that works directly on the wasm heap;
 * - its `BatchMatMul` with a transposed operand runs 6–13× slower than without (76 ms vs 6 ms
 *   for 256×256 · 256×688ᵀ), and every linear's forward (x·Wᵀ) and backward (dyᵀ·x) uses one:
 *   the kernel is wrapped to transpose such an operand first and multiply untransposed. Copying
 *   an operand costs about as much as ~25 rows of the slow product, so it is done only when the
 *   other side has at least `MIN_ROWS_TO_TRANSPOSE` rows (training batches, long prompts), not
 *   for token-by-token decoding;
 * - its `BatchMatMul` with more than one batch (attention's per-head products) runs a plain loop
 *   about 10× slower than the same work as separate 2-D products, which go to XNNPACK: the
 *   wrapper copies each batch's operands out of the heap (a memcpy), multiplies them in 2-D and
 *   copies the product back;
 * - products of fewer rows than that by a transposed operand (a decoded token's linears x·Wᵀ,
 *   its attention scores q·Kᵀ) go to our SIMD kernel (wasm/products.wat), which reads both
 *   operands in place, row by row: about 3× faster than tfjs's for one row by a 512×128 weight;
 * - its `Transpose` computes each element's coordinates: swapping the last two axes (a weight's
 *   transpose, the copies above, their gradients) goes to our SIMD transpose (wasm/products.wat),
 *   4×4 blocks through registers.
 */
import * as tf from '@tensorflow/tfjs';
// Imported for its side effect: the wasm kernels this module extends must be registered first.
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { matMulLayout } from './matMulLayout';
import { heapProductsOn } from './wasm/heapProducts';

interface SegmentSumArgs {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: BackendWasm;
  attrs: { numSegments: number };
}

function unsortedSegmentSum({ inputs, backend, attrs }: SegmentSumArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs;
  const ids = segmentIds.shape.reduce((a, b) => a * b, 1);
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
  // Views are taken after the allocation above: growing the heap detaches earlier views.
  const outValues = backend.typedArrayFromHeap(out);
  const xValues = backend.typedArrayFromHeap(x);
  const idValues = backend.typedArrayFromHeap(segmentIds);
  outValues.fill(0);
  for (let i = 0; i < ids; i++) {
    const segment = idValues[i]!;
    // Like TensorFlow, ids outside [0, numSegments) contribute nothing.
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let j = 0; j < rowSize; j++) outValues[to + j] = outValues[to + j]! + xValues[from + j]!;
  }
  return out;
}

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: BackendWasm;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/** Swaps the last two axes with the backend's Transpose kernel (ours, once registered). */
function swapLastAxes(x: tf.TensorInfo, backend: BackendWasm): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
  const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
  return transpose({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

interface TransposeArgs {
  inputs: { x: tf.TensorInfo };
  backend: BackendWasm;
  attrs: { perm: number[] };
}

/** Whether `perm` keeps every axis but the last two, which it swaps. */
function swapsLastAxes(perm: readonly number[]): boolean {
  const rank = perm.length;
  return (
    rank >= 2 &&
    perm[rank - 1] === rank - 2 &&
    perm[rank - 2] === rank - 1 &&
    perm.slice(0, -2).every((axis, i) => axis === i)
  );
}

/** Transposes run by our SIMD kernel in this process (tests check it really ran). */
let transposeRuns = 0;

export function ownWasmTransposeRuns(): number {
  return transposeRuns;
}

/** Transposes that swap the last two axes of 4-byte values go to our SIMD kernel. */
function simdTranspose(transpose: tf.KernelFunc) {
  return ({ inputs, backend, attrs }: TransposeArgs): tf.TensorInfo => {
    const { x } = inputs;
    const heapTranspose = swapsLastAxes(attrs.perm) ? heapProductsOn(backend)?.transpose : null;
    if (!heapTranspose || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
      return transpose({ inputs, backend, attrs }) as tf.TensorInfo;
    }
    const rank = x.shape.length;
    const [rows, columns] = x.shape.slice(-2) as [number, number];
    const shape = [...x.shape.slice(0, -2), columns, rows];
    const out = backend.makeOutput(shape, x.dtype);
    // Addresses are read after the allocation above, which may have moved the heap's buffer.
    const from = backend.typedArrayFromHeap(x).byteOffset;
    const to = backend.typedArrayFromHeap(out).byteOffset;
    heapTranspose(from, to, product(x.shape.slice(0, rank - 2)), rows, columns);
    transposeRuns++;
    return out;
  };
}

const MIN_ROWS_TO_TRANSPOSE = 32;

function untransposedMatMul(multiply: tf.KernelFunc) {
  return ({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo => {
    const { transposeA, transposeB } = attrs;
    const [aShape, bShape] = [inputs.a.shape, inputs.b.shape];
    // The product's rows come from a, its columns from b: each copy pays off with enough of them.
    const outRows = aShape[aShape.length - (transposeA ? 1 : 2)]!;
    const outColumns = bShape[bShape.length - (transposeB ? 2 : 1)]!;
    const copyA = transposeA && outColumns >= MIN_ROWS_TO_TRANSPOSE;
    const copyB = transposeB && outRows >= MIN_ROWS_TO_TRANSPOSE;
    if (!copyA && !copyB) return multiply({ inputs, backend, attrs }) as tf.TensorInfo;
    const a = copyA ? swapLastAxes(inputs.a, backend) : inputs.a;
    const b = copyB ? swapLastAxes(inputs.b, backend) : inputs.b;
    const out = multiply({
      inputs: { a, b },
      backend,
      attrs: { ...attrs, transposeA: transposeA && !copyA, transposeB: transposeB && !copyB },
    }) as tf.TensorInfo;
    if (a !== inputs.a) backend.disposeData(a.dataId);
    if (b !== inputs.b) backend.disposeData(b.dataId);
    return out;
  };
}

/** Batched products smaller than this (multiply-adds per batch) are left to the plain loop. */
const MIN_WORK_TO_SPLIT = 16_384;

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Copies `size` values starting at `offset` of `source` into a new tensor of `shape`. */
function copyOut(
  source: tf.TensorInfo,
  offset: number,
  shape: number[],
  backend: BackendWasm,
): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  const size = product(shape);
  backend
    .typedArrayFromHeap(out)
    .set(backend.typedArrayFromHeap(source).subarray(offset, offset + size));
  return out;
}

/**
 * Runs a batched product as one 2-D product per batch. Batch shapes must be equal, or one side
 * must have a single batch (broadcast); anything else goes to `multiply2d` unsplit.
 */
function perBatchMatMul(multiply2d: tf.KernelFunc) {
  return ({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo => {
    const { a, b } = inputs;
    const layout = matMulLayout(a, b, attrs.transposeA, attrs.transposeB);
    const splittable =
      layout !== null &&
      layout.batch > 1 &&
      layout.rows * layout.inner * layout.columns >= MIN_WORK_TO_SPLIT;
    if (!splittable) return multiply2d({ inputs, backend, attrs }) as tf.TensorInfo;

    const { rows, columns, aBatches, bBatches, batch: batches, batchShape } = layout;
    const [aMatrix, bMatrix] = [a.shape.slice(-2), b.shape.slice(-2)];
    const out = backend.makeOutput([...batchShape, rows, columns], 'float32');
    const [aSize, bSize, outSize] = [product(aMatrix), product(bMatrix), rows * columns];
    for (let batch = 0; batch < batches; batch++) {
      const aSlice = copyOut(a, aBatches === 1 ? 0 : batch * aSize, aMatrix, backend);
      const bSlice = copyOut(b, bBatches === 1 ? 0 : batch * bSize, bMatrix, backend);
      const slice = multiply2d({
        inputs: { a: aSlice, b: bSlice },
        backend,
        attrs,
      }) as tf.TensorInfo;
      backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(slice), batch * outSize);
      for (const temporary of [aSlice, bSlice, slice]) backend.disposeData(temporary.dataId);
    }
    return out;
  };
}

/**
 * Products a · bᵀ of fewer than MIN_ROWS_TO_TRANSPOSE rows of a go to our SIMD kernel, batch by
 * batch, reading a and b in place; everything else (and everything where the kernel cannot run)
 * goes to `multiply`.
 */
function simdTransposedMatMul(multiply: tf.KernelFunc) {
  return ({ inputs, backend, attrs }: MatMulArgs): tf.TensorInfo => {
    const { a, b } = inputs;
    const layout = matMulLayout(a, b, attrs.transposeA, attrs.transposeB);
    const transposedProduct =
      layout !== null &&
      attrs.transposeB &&
      !attrs.transposeA &&
      layout.rows < MIN_ROWS_TO_TRANSPOSE &&
      layout.rows * layout.inner * layout.columns > 0
        ? heapProductsOn(backend)?.multiplyByTransposed
        : null;
    if (!transposedProduct) return multiply({ inputs, backend, attrs }) as tf.TensorInfo;

    const { rows, inner, columns, aBatches, bBatches, batch: batches, batchShape } = layout!;
    const out = backend.makeOutput([...batchShape, rows, columns], 'float32');
    // Addresses are read after the allocation above, which may have moved the heap's buffer.
    const [aAt, bAt, outAt] = [a, b, out].map((t) => backend.typedArrayFromHeap(t).byteOffset);
    const [aBytes, bBytes, outBytes] = [rows * inner * 4, columns * inner * 4, rows * columns * 4];
    for (let batch = 0; batch < batches; batch++) {
      transposedProduct(
        aAt! + (aBatches === 1 ? 0 : batch * aBytes),
        bAt! + (bBatches === 1 ? 0 : batch * bBytes),
        outAt! + batch * outBytes,
        rows,
        inner,
        columns,
      );
    }
    return out;
  };
}

/**
 * Whether the BatchMatMul and Transpose wrappers run ours (on) or hand everything to tfjs's
 * kernels as it comes (off, for benchmarks against stock). UnsortedSegmentSum stays: stock wasm
 * has none.
 */
let ownWasmKernelsEnabled = true;

export function setOwnWasmKernels(enabled: boolean): void {
  ownWasmKernelsEnabled = enabled;
}

function switchable(own: tf.KernelFunc, stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => (ownWasmKernelsEnabled ? own(args) : stock(args));
}

/** Kernels whose wrapper is in place (each must wrap the original exactly once). */
const wrapped = new Set<string>();

/** Registers `own(stock)` over wasm's kernel `name`, switched by `setOwnWasmKernels`. */
function wrapWasmKernel(name: string, own: (stock: tf.KernelFunc) => unknown): void {
  const stock = tf.getKernel(name, 'wasm');
  if (!stock || wrapped.has(name)) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    ...stock,
    kernelFunc: switchable(own(stock.kernelFunc) as tf.KernelFunc, stock.kernelFunc),
  });
  wrapped.add(name);
}

export function registerWasmKernels(): void {
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
    });
  }
  wrapWasmKernel('BatchMatMul', (stock) =>
    perBatchMatMul(
      simdTransposedMatMul(
        untransposedMatMul(stock) as unknown as tf.KernelFunc,
      ) as unknown as tf.KernelFunc,
    ),
  );
  wrapWasmKernel('Transpose', simdTranspose);
}

/**
 * Rows of x at or above which x·Wᵀ (every linear's forward) transposes W before multiplying on
 * wasm. This is a different choice from the kernel wrapper's MIN_ROWS_TO_TRANSPOSE: it is made
 * on the tensors, so it also shapes the gradient graph (the backward pass multiplies by the
 * transposed copy). Every trained checkpoint and recorded result was computed with both values
 * as they are; either one changed changes fine-tuning results in their last bits. On WebGPU the
 * transposed read costs nothing, and a transposed copy of every weight would only fill the
 * buffer pool.
 */
const TRANSPOSE_WEIGHT_MIN_ROWS = 8;

/** x [rows, in] · weightᵀ, weight in HF's [out, in] layout. */
export function multiplyByTransposedWeight(x: tf.Tensor2D, weight: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() === 'wasm' && x.shape[0] >= TRANSPOSE_WEIGHT_MIN_ROWS) {
    return tf.matMul(x, weight.transpose());
  }
  return tf.matMul(x, weight, false, true);
}
