import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, setOwnKernels } from '../../src/engine/backend';
import { ownCpuKernelRuns } from '../../src/engine/cpuKernels';
import { createRandom } from '../../src/engine/random';

beforeAll(async () => {
  await selectBackend('cpu');
});
afterAll(async () => {
  await selectBackend('wasm');
});

/** Row i of `x` added into row ids[i] of a [segments, columns] result; other ids ignored. */
function reference(x: number[][], ids: number[], segments: number): number[][] {
  const out = Array.from({ length: segments }, () => Array<number>(x[0]!.length).fill(0));
  ids.forEach((id, i) => {
    if (id >= 0 && id < segments) x[i]!.forEach((v, j) => (out[id]![j]! += v));
  });
  return out;
}

describe('the cpu backend', () => {
  it('sums rows into segments in one pass, ignoring ids out of range, as TensorFlow does', async () => {
    expect(tf.getBackend()).toBe('cpu');
    const random = createRandom(4);
    const x = Array.from({ length: 40 }, () => [random(), random() - 0.5, random() * 3]);
    const ids = Array.from({ length: 40 }, () => Math.floor(random() * 9) - 1);
    const runsBefore = ownCpuKernelRuns();
    const sum = tf.unsortedSegmentSum(tf.tensor2d(x), tf.tensor1d(ids, 'int32'), 7);
    expect(ownCpuKernelRuns()).toBe(runsBefore + 1);
    const got = (await sum.array()) as number[][];
    // Switched off, tfjs's own kernel gives the same sums.
    setOwnKernels(false);
    try {
      const stock = tf.unsortedSegmentSum(tf.tensor2d(x), tf.tensor1d(ids, 'int32'), 7);
      expect(ownCpuKernelRuns()).toBe(runsBefore + 1);
      const stockRows = (await stock.array()) as number[][];
      stockRows.forEach((row, i) => row.forEach((v, j) => expect(got[i]![j]).toBeCloseTo(v, 5)));
    } finally {
      setOwnKernels(true);
    }
    const want = reference(x, ids, 7);
    got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 5)));
    const ints = tf.unsortedSegmentSum(
      tf.tensor1d([1, 2, 3, 4], 'int32'),
      tf.tensor1d([0, 1, 0, 5], 'int32'),
      2,
    );
    expect(ints.dtype).toBe('int32');
    expect(await ints.array()).toEqual([4, 2]);
    tf.dispose([sum, ints]);
  });

  it("gives tf.gather's gradient: each row's upstream gradient added where it was gathered", async () => {
    const table = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const indices = tf.tensor1d([2, 0, 2, 2], 'int32');
    const weights = tf.tensor2d([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    const gradient = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, indices), weights)))(
      table,
    );
    expect(await gradient.array()).toEqual([
      [2, 2],
      [0, 0],
      [8, 8],
    ]);
    tf.dispose([table, indices, weights, gradient]);
  });
  it('multiplies matrices as tfjs does, for every transpose and batch layout it takes', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[33, 20], [20, 17], false, false],
      [[33, 20], [17, 20], false, true], // a linear's forward, x·Wᵀ
      [[20, 33], [20, 17], true, false], // a weight's gradient, dyᵀ·x
      [[2, 3, 9, 6], [2, 3, 6, 7], false, false],
      [[4, 9, 6], [7, 6], false, true], // one B for every batch of A
      [[9, 6], [3, 6, 7], false, false], // one A for every batch of B
      [[5, 8], [7, 5], true, true], // both transposed: tfjs's own
    ];
    const random = createRandom(9);
    const values = (shape: number[]) =>
      tf.tensor(
        Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => random() - 0.5),
        shape,
      );
    for (const [aShape, bShape, transposeA, transposeB] of cases) {
      const [a, b] = [values(aShape), values(bShape)];
      const runsBefore = ownCpuKernelRuns();
      const ours = tf.matMul(a, b, transposeA, transposeB);
      expect(ownCpuKernelRuns() - runsBefore).toBe(transposeA && transposeB ? 0 : 1);
      setOwnKernels(false);
      let stock: tf.Tensor;
      try {
        stock = tf.matMul(a, b, transposeA, transposeB);
      } finally {
        setOwnKernels(true);
      }
      expect(ours.shape).toEqual(stock.shape);
      const [got, want] = [await ours.data(), await stock.data()];
      want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
      tf.dispose([a, b, ours, stock]);
    }
  });
});
