import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { AdamW, globalNormScale, learningRateAt } from '../../src/engine/train/optimizer';

beforeAll(async () => {
  await selectBackend('wasm');
});

/** torch.optim.AdamW written out on plain numbers, one parameter element at a time. */
function referenceAdamW(
  param: number[],
  gradients: number[][],
  rates: number[],
  { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0 } = {},
): number[] {
  const p = [...param];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  gradients.forEach((g, step) => {
    const lr = rates[step]!;
    const t = step + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - lr * weightDecay);
      m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
      v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - beta1 ** t);
      const vHat = v[i]! / (1 - beta2 ** t);
      p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + epsilon);
    }
  });
  return p;
}

describe('AdamW', () => {
  it('matches torch.optim.AdamW, decaying matrices but not vectors', async () => {
    const matrixStart = [0.5, -1, 2, 0.25];
    const vectorStart = [1, -2];
    const matrix = tf.variable(tf.tensor2d(matrixStart, [2, 2]));
    const vector = tf.variable(tf.tensor1d(vectorStart));
    const optimizer = new AdamW([matrix, vector], { weightDecay: 0.1 });
    const matrixGrads = [
      [0.1, -0.2, 0.3, 0.05],
      [-0.4, 0.1, 0.2, 0.0],
      [0.3, 0.3, -0.1, 0.2],
    ];
    const vectorGrads = [
      [0.5, -0.5],
      [0.25, 1],
      [-1, 0.1],
    ];
    const rates = [0.01, 0.02, 0.005];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      const grads = [tf.tensor2d(matrixGrads[step]!, [2, 2]), tf.tensor1d(vectorGrads[step]!)];
      optimizer.step(grads, rates[step]!);
      tf.dispose(grads);
    }
    expect(tf.memory().numTensors).toBe(before);
    const expectMatrix = referenceAdamW(matrixStart, matrixGrads, rates, { weightDecay: 0.1 });
    const expectVector = referenceAdamW(vectorStart, vectorGrads, rates);
    const gotMatrix = await matrix.data();
    const gotVector = await vector.data();
    expectMatrix.forEach((x, i) => expect(gotMatrix[i]).toBeCloseTo(x, 6));
    expectVector.forEach((x, i) => expect(gotVector[i]).toBeCloseTo(x, 6));
    // Decay really happened on the matrix: without it the result differs.
    const undecayed = referenceAdamW(matrixStart, matrixGrads, rates);
    expect(Math.abs(undecayed[2]! - gotMatrix[2]!)).toBeGreaterThan(1e-4);
    optimizer.dispose();
    tf.dispose([matrix, vector]);
  });

  it('frees its moment tensors on dispose', () => {
    const before = tf.memory().numTensors;
    const param = tf.tidy(() => tf.variable(tf.zeros([3, 3])));
    const optimizer = new AdamW([param]);
    expect(tf.memory().numTensors).toBe(before + 3);
    optimizer.dispose();
    param.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('learning-rate schedules', () => {
  it('warms up linearly, then holds or follows a half cosine to zero', () => {
    const base = { peak: 1e-3, warmupSteps: 4, totalSteps: 12 };
    const constant = Array.from({ length: 12 }, (_, s) =>
      learningRateAt(s, { ...base, kind: 'constant' }),
    );
    expect(constant.slice(0, 5)).toEqual([0, 2.5e-4, 5e-4, 7.5e-4, 1e-3]);
    expect(new Set(constant.slice(4))).toEqual(new Set([1e-3]));
    const cosine = (s: number) => learningRateAt(s, { ...base, kind: 'cosine' });
    expect(cosine(2)).toBeCloseTo(5e-4, 12);
    expect(cosine(4)).toBeCloseTo(1e-3, 12);
    expect(cosine(8)).toBeCloseTo(5e-4, 12);
    expect(cosine(12)).toBeCloseTo(0, 12);
    for (let s = 5; s < 12; s++) expect(cosine(s)).toBeLessThan(cosine(s - 1));
  });
});

describe('global-norm clipping', () => {
  it('scales all gradients together when their joint norm exceeds the bound', async () => {
    const grads = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])];
    const { scale, norm } = globalNormScale(grads, 1);
    expect(await norm.data()).toEqual(new Float32Array([5]));
    const clipped = grads.map((g) => g.mul(scale));
    expect([...(await clipped[0]!.data())].map((x) => +x.toFixed(5))).toEqual([0.6, 0]);
    expect([...(await clipped[1]!.data())].map((x) => +x.toFixed(5))).toEqual([0, 0.8]);
    tf.dispose([...grads, ...clipped, scale, norm]);
  });

  it('leaves gradients within the bound unchanged', async () => {
    const grads = [tf.tensor1d([0.3, 0.4])];
    const { scale, norm } = globalNormScale(grads, 1);
    expect(await scale.data()).toEqual(new Float32Array([1]));
    tf.dispose([...grads, scale, norm]);
  });

  it('gives the same numbers as a scale passed to the step as clipped gradients do', async () => {
    const gradientSteps = [
      [
        [0.3, -4, 2, 1],
        [1.5, -0.5],
      ],
      [
        [1, 1, -3, 0.5],
        [0.2, 2],
      ],
    ];
    const train = async (scaleInStep: boolean) => {
      const matrix = tf.variable(tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]));
      const vector = tf.variable(tf.tensor1d([1, -2]));
      const optimizer = new AdamW([matrix, vector], { weightDecay: 0.1 });
      const scales: number[] = [];
      for (const [step, [matrixGrad, vectorGrad]] of gradientSteps.entries()) {
        const grads = [tf.tensor2d(matrixGrad!, [2, 2]), tf.tensor1d(vectorGrad!)];
        const learningRate = 0.01 * (step + 1);
        if (scaleInStep) {
          const { scale, norm } = globalNormScale(grads, 1);
          optimizer.step(grads, learningRate, scale);
          scales.push((await scale.data())[0]!);
          tf.dispose([scale, norm]);
        } else {
          // Clipping as its own pass over the gradients, before the step.
          const { scale, norm } = globalNormScale(grads, 1);
          const clipped = grads.map((g) => g.mul(scale));
          optimizer.step(clipped, learningRate);
          tf.dispose([...clipped, scale, norm]);
        }
        tf.dispose(grads);
      }
      const result = {
        params: [[...(await matrix.data())], [...(await vector.data())]],
        state: await optimizer.exportState(),
        scales,
      };
      optimizer.dispose();
      tf.dispose([matrix, vector]);
      return result;
    };
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const scaled = await train(true);
      const clipped = await train(false);
      expect(scaled.params, backend).toEqual(clipped.params);
      expect(scaled.state, backend).toEqual(clipped.state);
      // Both steps really clipped.
      expect(Math.max(...scaled.scales), backend).toBeLessThan(1);
    }
    await tf.setBackend('wasm');
  });
});
