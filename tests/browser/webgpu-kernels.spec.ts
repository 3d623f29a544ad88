import { expect, test } from '@playwright/test';
import { openApp, type PageWithEngine } from './helpers';

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
  const comparison = await page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const info = await engine.init('webgpu');
    if (info.active !== 'webgpu') throw new Error(`webgpu did not start: ${info.fallbackReasons}`);
    return engine.compareWebGpuKernels();
  });

  expect(comparison.products.length).toBeGreaterThan(10);
  for (const product of comparison.products) {
    const label = `${product.a}${product.transposeA ? 'ᵀ' : ''} · ${product.b}${product.transposeB ? 'ᵀ' : ''}`;
    // Every case is large enough for our program: a silent fallback would compare stock to stock.
    expect(product.ranOwnProgram, label).toBe(true);
    expect(product.relativeError, label).toBeLessThan(PRODUCT_TOLERANCE);
  }
  expect(comparison.gradientStepOwnRuns).toBeGreaterThan(0);
  expect(comparison.gradientRelativeError).toBeLessThan(GRADIENT_TOLERANCE);
  expect(Math.abs(comparison.lossWithOwn - comparison.lossWithStock)).toBeLessThan(
    1e-5 * Math.abs(comparison.lossWithStock),
  );
});
