import { expect, test } from '@playwright/test';
import { checkOnWebGpu, openApp } from './helpers';

/**
 * Ours against tfjs's, both float32 on SwiftShader: what differs is the order of summation, a few
 * ulps per product relative to its largest value (inner sizes up to 1024 here).
 */
const PRODUCT_TOLERANCE = 1e-5;
/** Gradients pass through many products and a softmax: the same rounding, compounded. */
const GRADIENT_TOLERANCE = 1e-4;

test('our webgpu matmul equals the stock one on every shape, and so do training gradients', async ({
  page,
}) => {
  await openApp(page);
  const comparison = await checkOnWebGpu(page, 'compareWebGpuKernels');

  expect(comparison.products.length).toBeGreaterThan(10);
  for (const product of comparison.products) {
    const label = `${product.a}${product.transposeA ? 'ᵀ' : ''} · ${product.b}${product.transposeB ? 'ᵀ' : ''}`;
    // Every case runs one of our programs: a silent fallback would compare stock to stock.
    expect(product.ranOwnProgram, label).toBe(true);
    expect(product.gpuError, label).toBeNull();
    expect(product.relativeError, label).toBeLessThan(PRODUCT_TOLERANCE);
  }
  expect(comparison.gradientStepOwnRuns).toBeGreaterThan(0);
  // Two batches through the small Llama's 2 layers: per layer two RMSNorms (and the final one),
  // one softmax, query, key and value heads, one merge of heads and one SwiGLU.
  expect(comparison.gradientStepOwnGradientRuns).toEqual({
    rmsNorm: 10,
    softmax: 4,
    heads: 12,
    mergeHeads: 4,
    swiGlu: 4,
  });
  expect(comparison.gradientRelativeError).toBeLessThan(GRADIENT_TOLERANCE);
  expect(comparison.lossWithOwn).toHaveLength(2);
  comparison.lossWithOwn.forEach((loss, i) => {
    const stock = comparison.lossWithStock[i]!;
    expect(Math.abs(loss - stock)).toBeLessThan(1e-5 * Math.abs(stock));
  });
});

/**
 * Fused against stock AdamW, both float32: the same operations in the same order, so only fused
 * multiply-adds and, with clipping, the order of the norm's sum may round differently.
 */
const OPTIMIZER_TOLERANCE = 1e-5;

test('our webgpu AdamW and clipping equal the stock op sequence over several steps', async ({
  page,
}) => {
  await openApp(page);
  const comparisons = await checkOnWebGpu(page, 'compareWebGpuOptimizer');

  expect(comparisons.map((c) => c.label)).toEqual([
    'vector',
    'matrix, decayed',
    'matrix',
    'mixed, clipped',
  ]);
  for (const c of comparisons) {
    expect(c.paramError, c.label).toBeLessThan(OPTIMIZER_TOLERANCE);
    expect(c.firstMomentError, c.label).toBeLessThan(OPTIMIZER_TOLERANCE);
    expect(c.secondMomentError, c.label).toBeLessThan(OPTIMIZER_TOLERANCE);
    expect(c.normError, c.label).toBeLessThan(OPTIMIZER_TOLERANCE);
    expect(c.tensorGrowth, c.label).toBe(0);
    // One update dispatch per parameter and step: a silent fallback would compare stock to stock.
    expect(c.adamWDispatches, c.label).toBe(c.steps * c.parameters);
    expect(c.stepDispatches.own, c.label).toBeLessThan(c.stepDispatches.stock);
  }
  const clipped = comparisons.find((c) => c.label === 'mixed, clipped')!;
  expect(clipped.smallestScale).toBeLessThan(0.1);
  // Ten gradients: two dispatches of (WebGPU's default 8 storage buffers − 1 output) gradients.
  expect(clipped.squaredNormDispatches).toBe(clipped.steps * 2);
  for (const c of comparisons.filter((c) => c !== clipped)) {
    expect(c.squaredNormDispatches, c.label).toBe(0);
    // A lone parameter's update is a single dispatch, against a dozen stock kernels.
    expect(c.stepDispatches.own, c.label).toBe(1);
  }
});
