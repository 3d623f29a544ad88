import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine';
import { isCancelledError } from '../../src/engine/jobs';

const a = { rows: 2, cols: 3, values: new Float32Array([1, 2, 3, 4, 5, 6]) };
const b = { rows: 3, cols: 2, values: new Float32Array([7, 8, 9, 10, 11, 12]) };

describe('engine in Node', () => {
  it('falls back from WebGPU, which Node lacks, to WASM and says why', async () => {
    const engine = createEngine();
    const info = await engine.init('auto');
    expect(info.active).toBe('wasm');
    expect(info.wasmSimd).toBe(true);
    expect(info.fallbackReasons[0]).toMatch(/^webgpu: /);
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`multiplies matrices on ${backend} without leaking tensors`, async () => {
      const engine = createEngine();
      expect((await engine.init(backend)).active).toBe(backend);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const product = await engine.matmul(a, b);
        expect([...product.values]).toEqual([58, 64, 139, 154]);
        expect([product.rows, product.cols]).toEqual([2, 2]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('rejects mismatched shapes with a message naming them', async () => {
    const engine = createEngine();
    await engine.init('cpu');
    await expect(engine.matmul(a, a)).rejects.toThrow('cannot multiply 2×3 by 2×3');
    await expect(
      engine.matmul(
        { rows: 2, cols: 2, values: new Float32Array(3) },
        { rows: 2, cols: 1, values: new Float32Array(2) },
      ),
    ).rejects.toThrow('needs 4 values, got 3');
  });

  it('runs a benchmark job with progress, and cancelling it frees its tensors', async () => {
    const engine = createEngine();
    await engine.init('wasm');
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const result = await engine.matmulBenchmark('bench', { size: 32, iterations: 4 }, (p) =>
      progress.push(p.done),
    );
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(result.msPerMatmul).toBeGreaterThan(0);

    const long = engine.matmulBenchmark('long', { size: 64, iterations: 1e9 }, (p) => {
      if (p.done === 10) void engine.cancel('long');
    });
    expect(isCancelledError(await long.catch((e: unknown) => e))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
