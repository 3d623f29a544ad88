import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { selectBackend, setOwnKernels } from '../../src/engine/backend';
import { ownWasmTransposeRuns } from '../../src/engine/wasmKernels';
import { heapProductsOn } from '../../src/engine/wasm/heapProducts';
import {
  assembleWat,
  binaryModulePath,
  binaryModuleSource,
  watFiles,
} from '../../scripts/build-wasm';

/** Gradient of a loss through an embedding lookup with repeated and unused ids. */
async function embeddingGradient(backend: 'wasm' | 'cpu'): Promise<Float32Array> {
  await selectBackend(backend);
  const table = tf.variable(tf.randomNormal([7, 5], 0, 1, 'float32', 11));
  const ids = tf.tensor2d(
    [
      [1, 3, 3, 0],
      [6, 1, 1, 1],
    ],
    [2, 4],
    'int32',
  );
  const weights = tf.randomNormal([2, 4, 5], 0, 1, 'float32', 12);
  const { value, grads } = tf.variableGrads(
    () => tf.gather(table, ids).mul(weights).sum() as tf.Scalar,
    [table],
  );
  const gradient = (await grads[table.name]!.data()) as Float32Array;
  tf.dispose([table, ids, weights, value, grads[table.name]!]);
  return gradient;
}

describe('UnsortedSegmentSum on wasm', () => {
  it('gives the embedding gradient that cpu gives', async () => {
    const cpu = await embeddingGradient('cpu');
    const wasm = await embeddingGradient('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(wasm.length).toBe(35);
    for (let i = 0; i < cpu.length; i++) expect(wasm[i]).toBeCloseTo(cpu[i]!, 5);
    // Rows 2, 4 and 5 are never looked up: their gradient is exactly zero.
    for (const row of [2, 4, 5]) {
      expect([...wasm.slice(row * 5, row * 5 + 5)]).toEqual([0, 0, 0, 0, 0]);
    }
  });

  it('drops out-of-range ids and keeps trailing dimensions', async () => {
    await selectBackend('wasm');
    const summed = tf.unsortedSegmentSum(
      tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 2, 2]),
      tf.tensor1d([2, 0, 2], 'int32'),
      3,
    );
    expect(summed.shape).toEqual([3, 2, 2]);
    expect([...(await summed.data())]).toEqual([5, 6, 7, 8, 0, 0, 0, 0, 10, 12, 14, 16]);
    summed.dispose();
  });
});

describe('BatchMatMul on wasm with transposed operands and several batches', () => {
  it('equals cpu for every transpose combination, batched and broadcast', async () => {
    const shapes: [number[], number[], boolean, boolean][] = [
      [[5, 3], [3, 4], false, false],
      [[3, 5], [3, 4], true, false],
      [[5, 3], [4, 3], false, true],
      [[3, 5], [4, 3], true, true],
      [[2, 6, 3, 5], [2, 6, 4, 3], true, true],
      [[2, 5, 3], [4, 3], false, true],
      // Large enough on the other side for the operand to be copied untransposed first.
      [[40, 3], [33, 3], false, true],
      [[3, 40], [3, 33], true, false],
      [[2, 3, 40], [2, 33, 3], true, true],
      [[40, 3], [3, 2], false, false],
      // Enough work per batch to be split into 2-D products: same batches, and either side
      // broadcast, with and without transposes.
      [[3, 4, 40, 32], [3, 4, 32, 20], false, false],
      [[3, 4, 40, 32], [3, 4, 20, 32], false, true],
      [[3, 4, 32, 40], [3, 4, 32, 20], true, false],
      [[1, 40, 32], [3, 32, 20], false, false],
      [[2, 3, 40, 32], [32, 20], false, false],
      [[40, 32], [2, 20, 32], false, true],
      // A single batch of higher rank broadcast against several: [1, 3, 40, 20], not [3, 40, 20].
      [[1, 1, 40, 32], [3, 32, 20], false, false],
      // Few rows by a transposed operand (our SIMD kernel): widths that are and are not a
      // multiple of its four lanes and four columns, 31 rows, batched and broadcast either way.
      [[1, 7], [5, 7], false, true],
      [[3, 130], [9, 130], false, true],
      [[31, 16], [6, 16], false, true],
      [[1, 128], [512, 128], false, true],
      [[2, 4, 1, 32], [2, 4, 10, 32], false, true],
      [[1, 3, 6], [2, 5, 6], false, true],
      [[2, 3, 6], [5, 6], false, true],
    ];
    for (const [aShape, bShape, transposeA, transposeB] of shapes) {
      const results: Float32Array[] = [];
      const shapes: number[][] = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await selectBackend(backend);
        const before = tf.memory().numTensors;
        const product = tf.tidy(() =>
          tf.matMul(
            tf.randomNormal(aShape, 0, 1, 'float32', 1),
            tf.randomNormal(bShape, 0, 1, 'float32', 2),
            transposeA,
            transposeB,
          ),
        );
        results.push((await product.data()) as Float32Array);
        shapes.push(product.shape);
        product.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
      expect(shapes[1]).toEqual(shapes[0]);
      const [cpu, wasm] = results as [Float32Array, Float32Array];
      expect(wasm.length).toBe(cpu.length);
      cpu.forEach((value, i) => expect(wasm[i]).toBeCloseTo(value, 4));
    }
  });
});

describe('our WebAssembly kernels', () => {
  it('are committed as their text assembles', async () => {
    const files = watFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const watFile of files) {
      const binary = await assembleWat(basename(watFile), readFileSync(watFile, 'utf8'));
      expect(readFileSync(binaryModulePath(watFile), 'utf8')).toBe(
        binaryModuleSource(watFile, binary),
      );
    }
  });

  it('run against the wasm backend’s heap here (Node has SIMD)', async () => {
    await selectBackend('wasm');
    const products = heapProductsOn(tf.backend() as BackendWasm);
    expect(products?.multiplyByTransposed).toBeTypeOf('function');
    expect(products?.multiplyByTransposedHalves).toBeTypeOf('function');
    expect(products?.transpose).toBeTypeOf('function');
  });

  it('multiply few rows by a transposed operand as XNNPACK multiplies by a transposed copy, bit for bit', async () => {
    await selectBackend('wasm');
    const shapes: [number[], number[]][] = [
      [
        [1, 7],
        [5, 7],
      ],
      [
        [3, 130],
        [9, 130],
      ],
      [
        [31, 16],
        [6, 16],
      ],
      [
        [1, 128],
        [512, 128],
      ],
      [
        [4, 1, 32],
        [4, 10, 32],
      ],
      [
        [3, 6],
        [2, 5, 6],
      ],
    ];
    for (const [aShape, bShape] of shapes) {
      const [a, b, ours, copied] = tf.tidy(() => {
        const a = tf.randomNormal(aShape, 0, 1, 'float32', 1);
        const b = tf.randomNormal(bShape, 0, 1, 'float32', 2);
        const lastAxes = [...bShape.keys()].map((axis) =>
          axis < bShape.length - 2 ? axis : 2 * bShape.length - 3 - axis,
        );
        // A transposed copy is multiplied untransposed: by XNNPACK, or by tfjs’s batched loop.
        return [a, b, tf.matMul(a, b, false, true), tf.matMul(a, b.transpose(lastAxes).clone())];
      });
      expect(await ours.data()).toEqual(await copied.data());
      tf.dispose([a, b, ours, copied]);
    }
  });

  it("transpose the last two axes as tfjs's own kernel does, whatever the sizes mod 4", async () => {
    await selectBackend('wasm');
    const shapes = [
      [4, 4],
      [1024, 512],
      [7, 5],
      [3, 130],
      [2, 9, 6],
      [2, 3, 4, 13],
      [1, 1],
      [0, 3],
    ];
    try {
      for (const shape of shapes) {
        for (const dtype of ['float32', 'int32'] as const) {
          const x = tf.tidy(() => tf.randomUniform(shape, -1000, 1000, dtype, 3));
          const perm = [...shape.keys()].map((axis) =>
            axis < shape.length - 2 ? axis : 2 * shape.length - 3 - axis,
          );
          setOwnKernels(true);
          const runs = ownWasmTransposeRuns();
          const ours = tf.transpose(x, perm);
          expect(ownWasmTransposeRuns()).toBe(runs + 1);
          setOwnKernels(false);
          const stock = tf.transpose(x, perm);
          expect(ours.shape).toEqual(stock.shape);
          expect(ours.dtype).toBe(dtype);
          expect(await ours.data()).toEqual(await stock.data());
          tf.dispose([x, ours, stock]);
        }
      }
    } finally {
      setOwnKernels(true);
    }
  });
});
