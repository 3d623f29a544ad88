import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { compareInference } from '../../src/engine/inferenceKernelCheck';

describe.each(['wasm', 'cpu'] as const)('our inference kernels on %s', (backend) => {
  it('agree with the stock ops, kernel by kernel and through a KV cache, in fewer calls', async () => {
    await selectBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const comparison = await compareInference();
    expect(comparison.kernels.length).toBeGreaterThan(0);
    for (const kernel of comparison.kernels) {
      expect(kernel.ranOwnProgram, kernel.label).toBe(true);
      expect(kernel.relativeError, kernel.label).toBeLessThan(1e-5);
    }
    expect(comparison.logitsRelativeError).toBeLessThan(1e-5);
    expect(comparison.ownTokens).toEqual(comparison.stockTokens);
    expect(comparison.ownTokens.every((tokens) => tokens.length === comparison.newTokens)).toBe(
      true,
    );
    expect(comparison.dispatchesPerToken.own).toBeLessThan(comparison.dispatchesPerToken.stock / 2);
    expect(comparison.tensorGrowth).toBe(0);
  });
});
