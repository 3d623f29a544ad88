import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { openApp, type PageWithEngine, waitForEngine } from './helpers';

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
 * One visit is enough: the service worker precaches the app, its workers and wasm binaries, the
 * default model and the recorded run, so with the network off a reload opens the app, loads the
 * model and generates, and Start here opens the recorded run. Playwright's setOffline cuts the
 * service worker's own fetches too, in Chromium.
 */
test('after one visit the app, its default model and the recorded run work with the network off @no-webgpu', async ({
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
  expect(cached.some((url) => url.includes('recorded/table2.json.gz'))).toBe(true);

  await context.setOffline(true);
  await page.reload();
  await waitForEngine(page, 'wasm');
  await expect(page.getByTestId('status-model')).toContainText('Model seal-world-1m', {
    timeout: 120_000,
  });
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  expect(await greedyText(page)).toBe(online);
  await page.getByRole('tab', { name: 'Start here' }).click();
  await page.getByRole('button', { name: 'Explore a finished run' }).click();
  await expect(page.getByTestId('recorded-run-label')).toContainText('Recorded run');
  await expect(page.getByTestId('seal-context-card').first()).toBeVisible();
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

/**
 * Serves the build from dist/ on a port of its own, as a deployment that can be swapped for a
 * newer one: after `deployNewVersion()` the page carries a version marker and the service
 * worker's precache lists a new revision of it, as a rebuild with a changed page would.
 */
async function deployment(): Promise<{
  origin: string;
  deployNewVersion: () => void;
  close: () => Promise<void>;
}> {
  const dist = join(import.meta.dirname, '../../dist');
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.json': 'application/json',
    '.webmanifest': 'application/manifest+json',
    '.wasm': 'application/wasm',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
  };
  let newVersion = false;
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const file = join(dist, path === '/' ? 'index.html' : decodeURIComponent(path));
    if (!file.startsWith(dist) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    let body: Buffer | string = readFileSync(file);
    if (newVersion && file.endsWith('index.html')) {
      body = body.toString().replace('<head>', '<head><meta name="seal-version" content="2">');
    }
    if (newVersion && path === '/sw.js') {
      body = body.toString().replace(/(url:"index\.html",revision:")[0-9a-f]+"/, '$1version-2"');
      // A build whose precache list no longer looks like this would make the update fail here.
      if (!body.includes('version-2')) {
        response.writeHead(500).end('no index.html revision in sw.js');
        return;
      }
    }
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    deployNewVersion: () => (newVersion = true),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A new deployment is not served stale: the browser's update check finds the changed service
 * worker, which precaches the new page, takes over at once, and the open page reloads into it
 * with no prompt. (Playwright's routes do not see the service worker's script fetches, so the
 * test serves the deployment itself.)
 */
test('a new version replaces the cached one on the next visit, with no prompt @no-webgpu', async ({
  page,
}) => {
  const server = await deployment();
  try {
    await page.goto(`${server.origin}/?backend=wasm&model=none&tab=system`);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, {
      timeout: 120_000,
    });
    await expect(page.getByTestId('active-backend')).toHaveText('wasm');
    await expect(page.locator('meta[name="seal-version"]')).toHaveCount(0);

    server.deployNewVersion();
    // What the browser does on the next visit (it checks the service worker on navigation).
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration!.update();
    });
    await expect(page.locator('meta[name="seal-version"]')).toHaveCount(1, { timeout: 120_000 });
    await expect(page.getByTestId('active-backend')).toHaveText('wasm');
  } finally {
    await server.close();
  }
});
