import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend, setOwnKernels } from '../../src/engine/backend';
import { compareTrainingGradients } from '../../src/engine/kernelCheck';

describe.each(['wasm', 'cpu'] as const)('our training kernels on %s', (backend) => {
  it("give the stock ops' loss and gradients, through every one of our gradients", async () => {
    await selectBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const comparison = await compareTrainingGradients(setOwnKernels);
    expect(comparison.gradientRelativeError).toBeLessThan(1e-5);
    for (const [i, loss] of comparison.lossWithStock.entries()) {
      expect(Math.abs(comparison.lossWithOwn[i]! - loss) / loss).toBeLessThan(1e-6);
    }
    // Two batches, two layers: each op's gradient ran in every layer of both (on wasm, softmax's
    // and SwiGLU's stay stock: see registerHostTrainingKernels).
    const exp = backend === 'cpu' ? 4 : 0;
    const runs = comparison.gradientStepOwnGradientRuns;
    expect(runs).toEqual({ rmsNorm: 10, softmax: exp, heads: 12, mergeHeads: 4, swiGlu: exp });
  });
});
