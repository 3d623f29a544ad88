import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { trainSft } from '../../src/engine/train/sft';

describe('the engine’s wasm kernels', () => {
  it('are registered when a backend starts, not by importing training code', async () => {
    expect(trainSft).toBeTypeOf('function');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    const plainMatMul = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;

    await selectBackend('cpu');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    const wrapped = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    expect(wrapped).not.toBe(plainMatMul);

    // Starting a backend again must not wrap the product a second time.
    await selectBackend('wasm');
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(wrapped);
  });
});
