/**
 * What our matmul kernels (webgpu, cpu) read off a float32 BatchMatMul's inputs: the product's
 * sizes and its batches, where the batches either match or one side has a single one (which every
 * batch of the other reuses). Other broadcasts and dtypes are left to tfjs's kernels.
 */
import * as tf from '@tensorflow/tfjs';

export interface MatMulLayout {
  rows: number;
  inner: number;
  columns: number;
  aBatches: number;
  bBatches: number;
  /** Batches of the product: the larger of the two. */
  batch: number;
  /** The product's leading dimensions. */
  batchShape: number[];
}

export function matMulLayout(
  a: Pick<tf.TensorInfo, 'shape' | 'dtype'>,
  b: Pick<tf.TensorInfo, 'shape' | 'dtype'>,
  transposeA: boolean,
  transposeB: boolean,
): MatMulLayout | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const [aRows, aColumns] = a.shape.slice(-2) as [number, number];
  const [bRows, bColumns] = b.shape.slice(-2) as [number, number];
  const rows = transposeA ? aColumns : aRows;
  const inner = transposeA ? aRows : aColumns;
  const columns = transposeB ? bRows : bColumns;
  if ((transposeB ? bColumns : bRows) !== inner) return null;
  const aBatchShape = a.shape.slice(0, -2);
  const bBatchShape = b.shape.slice(0, -2);
  const [aBatches, bBatches] = [aBatchShape, bBatchShape].map(tf.util.sizeFromShape) as [
    number,
    number,
  ];
  let batchShape: number[];
  if (aBatches === 1 && bBatches === 1) {
    batchShape = aBatchShape.length >= bBatchShape.length ? aBatchShape : bBatchShape;
  } else if (bBatches === 1 && aBatchShape.length >= bBatchShape.length) {
    batchShape = aBatchShape;
  } else if (aBatches === 1 && bBatchShape.length >= aBatchShape.length) {
    batchShape = bBatchShape;
  } else if (
    aBatchShape.length === bBatchShape.length &&
    aBatchShape.every((d, i) => d === bBatchShape[i])
  ) {
    batchShape = aBatchShape;
  } else {
    return null;
  }
  const batch = Math.max(aBatches, bBatches);
  return { rows, inner, columns, aBatches, bBatches, batch, batchShape };
}
