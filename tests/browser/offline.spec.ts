import { expect, test, type Page } from '@playwright/test';
import { openApp, type PageWithEngine } from './helpers';

/** Greedy text from the loaded model, the same on every run of the same model and backend. */
function greedyText(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const result = await engine.generate('offline-check', {
      prompts: [{ kind: 'completion', text: 'The' }],
      samplesPerPrompt: 1,
      maxNewTokens: 12,
      sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 },
    });
    return result.sequences[0]!.text;
  });
}

/**
 * One visit is enough: the service worker precaches the app, its workers and wasm binaries and
 * the default model, so with the network off a reload opens the app, loads the model and
 * generates. Playwright's setOffline cuts the service worker's own fetches too, in Chromium.
 */
test('after one visit the app and its default model work with the network off @no-webgpu', async ({
  page,
  context,
  baseURL,
}) => {
  // Registering, precaching and serving from the cache log nothing, online or off.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      errors.push(`console: ${message.text()} (${message.location().url})`);
    }
  });
  await openApp(page, '?backend=wasm', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model seal-world-1m', {
    timeout: 120_000,
  });
  // The worker takes control once it has installed, i.e. once everything is precached.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
    timeout: 120_000,
  });
  const online = await greedyText(page);
  expect(online.length).toBeGreaterThan(0);

  // Only the app's own files are cached: nothing from another origin (the Hugging Face Hub's
  // models live in the app's IndexedDB store, never in the service worker's caches).
  const cached = await page.evaluate(async () => {
    const urls: string[] = [];
    for (const name of await caches.keys()) {
      for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
    }
    return urls;
  });
  expect(cached.filter((url) => !url.startsWith(baseURL!))).toEqual([]);
  expect(cached.some((url) => url.includes('models/seal-world-1m/model.safetensors'))).toBe(true);
  expect(cached.some((url) => /\.wasm(\?|$)/.test(url))).toBe(true);

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId('active-backend')).toHaveText('wasm');
  await expect(page.getByTestId('status-model')).toContainText('Model seal-world-1m', {
    timeout: 120_000,
  });
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  expect(await greedyText(page)).toBe(online);
  expect(errors).toEqual([]);

  // The network really is off: what the service worker has not precached cannot be fetched.
  const uncached = await page.evaluate(() =>
    fetch('/not-precached.txt').then(
      () => 'fetched',
      () => 'failed',
    ),
  );
  expect(uncached).toBe('failed');
});

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Buffer): string {
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return `${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)}`;
}

test('the page links a web app manifest that makes the app installable @no-webgpu', async ({
  page,
  baseURL,
}) => {
  await openApp(page, '?backend=wasm');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).not.toBeNull();
  const manifestUrl = new URL(href!, page.url()).href;
  const response = await page.request.get(manifestUrl);
  expect(response.status()).toBe(200);
  const manifest = (await response.json()) as {
    name: string;
    short_name: string;
    start_url: string;
    scope: string;
    display: string;
    theme_color: string;
    icons: { src: string; sizes: string; type: string; purpose?: string }[];
  };
  expect(manifest.name).toBe('SEAL Playground');
  expect(manifest.short_name.length).toBeGreaterThan(0);
  expect(manifest.display).toBe('standalone');
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  // Relative, so that the app installs under whatever base path it is served from.
  expect(manifest.start_url).not.toMatch(/^(\/|[a-z]+:)/);
  expect(new URL(manifest.start_url, manifestUrl).href).toBe(`${baseURL}/`);
  expect((await page.request.get(new URL(manifest.start_url, manifestUrl).href)).status()).toBe(
    200,
  );
  expect(new URL(manifest.scope, manifestUrl).href).toBe(`${baseURL}/`);

  // Installing needs a 192 and a 512 pixel PNG; each icon is what it says it is.
  const sizes = manifest.icons.map((icon) => icon.sizes);
  expect(sizes).toContain('192x192');
  expect(sizes).toContain('512x512');
  for (const icon of manifest.icons) {
    const image = await page.request.get(new URL(icon.src, manifestUrl).href);
    expect(image.status(), icon.src).toBe(200);
    expect(icon.type).toBe('image/png');
    expect(pngSize(await image.body()), icon.src).toBe(icon.sizes);
  }
});
