import { expect, test } from '@playwright/test';
import { openApp, type PageWithEngine } from './helpers';

/**
 * Ours against the stock op sequences, both float32 on SwiftShader: the same operations, only
 * summed in another order (attention, RMSNorm's mean) or contracted into fused multiply-adds.
 */
const KERNEL_TOLERANCE = 1e-5;

test('our webgpu inference kernels equal the stock ops, and generation decodes the same text with fewer dispatches', async ({
  page,
}) => {
  // Some two hundred generation steps of a small model on a software GPU, half of them stock.
  test.setTimeout(600_000);
  await openApp(page);
  const comparison = await page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const info = await engine.init('webgpu');
    if (info.active !== 'webgpu') throw new Error(`webgpu did not start: ${info.fallbackReasons}`);
    return engine.compareWebGpuInference();
  });

  expect(comparison.kernels.map((k) => k.label)).toEqual([
    'rmsNorm',
    'swiGlu',
    'heads with rotary',
    'heads',
    'write slots',
    'attention',
  ]);
  for (const kernel of comparison.kernels) {
    // A silent fallback would compare stock to stock.
    expect(kernel.ranOwnProgram, kernel.label).toBe(true);
    expect(kernel.relativeError, kernel.label).toBeLessThan(KERNEL_TOLERANCE);
  }
  expect(comparison.logitsRelativeError).toBeLessThan(KERNEL_TOLERANCE);
  expect(comparison.ownTokens).toEqual(comparison.stockTokens);
  expect(comparison.ownTokens.every((tokens) => tokens.length === 12)).toBe(true);
  expect(comparison.tensorGrowth).toBe(0);
  expect(comparison.dispatchesPerToken.own).toBeLessThan(comparison.dispatchesPerToken.stock / 2);
  // Generation gives the buffers it pooled back to the device.
  expect(comparison.pooledBytesAfterGeneration).toBe(0);
});
