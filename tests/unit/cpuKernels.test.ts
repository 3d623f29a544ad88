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
      [[5, 8], [7, 5], true, true], // both transposed
      [[3, 20], [20, 17], false, false], // few rows: B's rows gathered, not copied
      [[1, 20], [17, 20], false, true], // a decoded token
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
      expect(ownCpuKernelRuns() - runsBefore).toBe(1);
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

  it('sums each product in the same order whatever the layout, bit for bit', async () => {
    const random = createRandom(10);
    // 9 rows and 7 columns: the register tile repeats its last row and columns at the edges.
    const a = tf.tensor2d(
      Array.from({ length: 9 * 13 }, () => random() - 0.5),
      [9, 13],
    );
    const b = tf.tensor2d(
      Array.from({ length: 13 * 7 }, () => random() - 0.5),
      [13, 7],
    );
    const [aT, bT] = [a.transpose().clone(), b.transpose().clone()];
    const products = [
      tf.matMul(a, b),
      tf.matMul(a, bT, false, true),
      tf.matMul(aT, b, true, false),
      tf.matMul(aT, bT, true, true),
    ];
    const [first, ...others] = await Promise.all(products.map((p) => p.data()));
    for (const other of others) expect(other).toEqual(first);
    // Row by row (a few rows: B's rows gathered instead of copied) gives the same sums.
    const rows = tf.concat(
      Array.from({ length: 9 }, (_, i) => tf.matMul(a.slice([i, 0], [1, 13]), b)),
    );
    expect(await rows.data()).toEqual(first);
    tf.dispose([a, b, aT, bT, rows, ...products]);
  });

  it('broadcasts binary ops, slices, transposes and takes softmax as tfjs does, bit for bit', async () => {
    const random = createRandom(11);
    const values = (shape: number[]) =>
      tf.tensor(
        Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => random() - 0.25),
        shape,
      );
    /** Ours and then tfjs's own, with how many calls ours served. */
    const both = async (run: () => tf.Tensor) => {
      const runsBefore = ownCpuKernelRuns();
      const ours = run();
      const served = ownCpuKernelRuns() - runsBefore;
      setOwnKernels(false);
      let stock: tf.Tensor;
      try {
        stock = run();
      } finally {
        setOwnKernels(true);
      }
      const result = { ours: await ours.data(), stock: await stock.data(), served };
      expect(ours.shape).toEqual(stock.shape);
      tf.dispose([ours, stock]);
      return result;
    };
    const shapePairs = [
      [
        [8, 3, 5],
        [8, 3, 1],
      ], // a row's factor (RMSNorm)
      [[5], [4, 3, 5]], // a gain along the last axis
      [
        [2, 1, 4],
        [3, 1],
      ], // both sides broadcast
      [[6, 4], []], // a scalar
      [
        [3, 4],
        [3, 4],
      ],
    ];
    for (const [aShape, bShape] of shapePairs) {
      for (const op of [tf.add, tf.sub, tf.mul, tf.div]) {
        const [a, b] = [values(aShape!), values(bShape!)];
        const { ours, stock, served } = await both(() => op(a, b));
        expect(served).toBe(1);
        expect(ours).toEqual(stock);
        tf.dispose([a, b]);
      }
    }
    const ints = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    const intRow = tf.tensor1d([5, 6], 'int32');
    expect((await both(() => tf.add(ints, intRow))).served).toBe(0);

    const x = values([4, 5, 6]);
    const xInts = x.toInt();
    for (const input of [x, xInts]) {
      const sliced = await both(() => tf.slice(input, [1, 0, 2], [2, 5, 3]));
      expect(sliced.served).toBe(1);
      expect(sliced.ours).toEqual(sliced.stock);
    }
    // One contiguous run: tfjs's own view of it.
    expect((await both(() => tf.slice(x, [1, 0, 0], [2, 5, 6]))).served).toBe(0);

    const heads = values([2, 3, 4, 5]);
    const headInts = heads.toInt();
    for (const [input, perm] of [
      [heads, [0, 2, 1, 3]],
      [heads, [3, 1, 0, 2]],
      [headInts, [2, 0, 3, 1]],
      [x, [2, 0, 1]],
    ] as const) {
      const permuted = await both(() => tf.transpose(input, [...perm]));
      expect(permuted.served).toBe(1);
      expect(permuted.ours).toEqual(permuted.stock);
    }

    const logits = values([3, 4, 7]).mul(8);
    const softmax = await both(() => tf.softmax(logits));
    expect(softmax.served).toBe(1);
    expect(softmax.ours).toEqual(softmax.stock);
    tf.dispose([ints, intRow, x, xInts, heads, headInts, logits]);
  });
});
