import { expect, test } from '@playwright/test';
import {
  checkOnWebGpu,
  fixtureFiles,
  MODELS_PATH,
  openApp,
  readGoldens,
  serveModels,
  type PageWithEngine,
} from './helpers';

/**
 * Ours against the stock op sequences, both float32 on SwiftShader: the same operations, only
 * summed in another order (attention, RMSNorm's mean) or contracted into fused multiply-adds.
 */
const KERNEL_TOLERANCE = 1e-5;

test('our webgpu inference kernels equal the stock ops, and generation decodes the same text with fewer dispatches', async ({
  page,
}) => {
  // Some seventy generation steps of a small model on a software GPU, half of them stock.
  test.setTimeout(600_000);
  await openApp(page);
  const comparison = await checkOnWebGpu(page, 'compareWebGpuInference');

  expect(comparison.kernels.map((k) => k.label)).toEqual([
    'rmsNorm',
    'swiGlu',
    'query heads with rotary, decode step',
    'key heads with rotary, prompt pass',
    'value heads, prompt pass',
    'key cache write, decode step',
    'slot mask write from an int32 mask, prompt pass',
    'attention, prompt pass',
    'attention, decode step',
  ]);
  for (const kernel of comparison.kernels) {
    // A silent fallback would compare stock to stock.
    expect(kernel.ranOwnProgram, kernel.label).toBe(true);
    expect(kernel.gpuError, kernel.label).toBeNull();
    expect(kernel.relativeError, kernel.label).toBeLessThan(KERNEL_TOLERANCE);
  }
  expect(comparison.logitsRelativeError).toBeLessThan(KERNEL_TOLERANCE);
  expect(comparison.ownTokens).toEqual(comparison.stockTokens);
  expect(comparison.ownTokens.every((tokens) => tokens.length === comparison.newTokens)).toBe(true);
  expect(comparison.tensorGrowth).toBe(0);
  expect(comparison.dispatchesPerToken.own).toBeLessThan(comparison.dispatchesPerToken.stock / 2);
  // Generation gives the buffers it pooled back to the device.
  expect(comparison.pooledBytesAfterGeneration).toBe(0);

  // Sampling on the device: 6 settings × 2 vocabularies, each 5 kinds of row × 24 draws.
  expect(comparison.sampling).toHaveLength(12);
  for (const setting of comparison.sampling) {
    expect(setting.ranOwnProgram, setting.label).toBe(true);
    expect(setting.gpuError, setting.label).toBeNull();
    expect(setting.repeatable, setting.label).toBe(true);
    expect(setting.draws, setting.label).toBe(120);
    // Near-boundary draws are rare: nearly every draw is compared.
    expect(setting.clear, setting.label).toBeGreaterThanOrEqual(setting.draws * 0.9);
    expect(setting.firstMismatch, setting.label).toBeNull();
    expect(setting.mismatches, setting.label).toBe(0);
  }
});

// generate.spec.ts holds tiny-llama3's and tiny-qwen2's WebGPU generations, which run our
// kernels, to transformers' goldens; this adds the plain Llama and the cached logits themselves.
test('our webgpu inference kernels decode the reference Llama as transformers does', async ({
  page,
}) => {
  test.setTimeout(600_000);
  const folder = 'tiny-llama';
  await serveModels(page, { [folder]: fixtureFiles(folder) });
  await openApp(page);
  const goldens = readGoldens(folder);
  const newTokens = goldens.greedy_continuation[0]!.length;
  const comparison = await page.evaluate(
    async ({ folder, prompts, newTokens, path }) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const info = await engine.init('webgpu');
      if (info.active !== 'webgpu')
        throw new Error(`webgpu did not start: ${info.fallbackReasons}`);
      await engine.model.load(`load-${folder}`, {
        kind: 'url',
        baseUrl: `${location.origin}${path}${folder}/`,
      });
      return engine.compareDecoding(prompts, newTokens);
    },
    { folder, prompts: goldens.input_ids, newTokens, path: MODELS_PATH },
  );
  expect(comparison.ownKernelRuns).toBeGreaterThan(0);
  expect(comparison.logitsRelativeError).toBeLessThan(KERNEL_TOLERANCE);
  expect(comparison.ownTokens).toEqual(goldens.greedy_continuation);
  expect(comparison.stockTokens).toEqual(goldens.greedy_continuation);
});
