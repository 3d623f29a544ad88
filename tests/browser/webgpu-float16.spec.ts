import { expect, test } from '@playwright/test';
import { checkOnWebGpu, openApp } from './helpers';

/**
 * Products of packed weights against tfjs's product of the same weights widened: the same
 * float32 arithmetic, only summed in another order.
 */
const PRODUCT_TOLERANCE = 1e-5;

test('float16 weights on webgpu: packed as JavaScript packs them, read packed by our products, and a model stored as halves computes what its rounded float32 twin does', async ({
  page,
}) => {
  test.setTimeout(600_000);
  await openApp(page);
  const comparison = await checkOnWebGpu(page, 'compareFloat16Storage');

  // WGSL may round a value between two halves either way: at most one unit in the last place.
  expect(comparison.packedValues).toBe(4096);
  expect(comparison.packDifferenceExamples).toEqual([]);
  expect(comparison.packDifferencesBeyondOneUnit).toBe(0);
  expect(comparison.unpackExact).toBe(true);

  expect(comparison.products.map((p) => [p.label, p.ranOwnProgram])).toEqual([
    ['x·Wᵀ, tiled (a forward pass)', true],
    ['dy·W, tiled (its gradient)', true],
    ['x·Wᵀ, 32 outputs, narrow tiles', true],
    ['dy·W, 32 deep', true],
    ['x·Wᵀ, matrix-vector (a decoded token)', true],
    ['x·Wᵀ, 8 outputs (widened for tfjs)', false],
  ]);
  for (const product of comparison.products) {
    expect(product.gpuError, product.label).toBeNull();
    expect(product.relativeError, product.label).toBeLessThan(PRODUCT_TOLERANCE);
  }

  expect(comparison.logitsRelativeError).toBeLessThan(PRODUCT_TOLERANCE);
  expect(comparison.loraGradientRelativeError).toBeLessThan(1e-4);
  expect(comparison.packedTokens).toEqual(comparison.roundedTokens);
  expect(comparison.packedTokens.every((tokens) => tokens.length === 4)).toBe(true);
  expect(comparison.tensorGrowth).toBe(0);
  // Norm gains stay float32; every matrix takes half its bytes.
  expect(comparison.packedWeightBytes / comparison.float32WeightBytes).toBeGreaterThan(0.5);
  expect(comparison.packedWeightBytes / comparison.float32WeightBytes).toBeLessThan(0.51);
});
