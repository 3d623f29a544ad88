import { expect, type Page } from '@playwright/test';
import type { EngineApi } from '../../src/engine/api';

/** The engine proxy the app exposes on `window.seal` (the same one its panels use). */
export type PageWithEngine = { seal: { engine: EngineApi } };

/**
 * Opens the app and waits for its engine. Unless `defaultModel` is set, it opens with no model
 * (`?model=none`), so a test that loads its own model does not race the default load. Unless the
 * query names a backend it asks for WebGPU, which "auto" skips on SwiftShader (a software adapter).
 */
export async function openApp(
  page: Page,
  query = '',
  { defaultModel = false }: { defaultModel?: boolean } = {},
): Promise<void> {
  const params = new URLSearchParams(query);
  if (!defaultModel) params.set('model', 'none');
  if (!params.has('backend')) params.set('backend', 'webgpu');
  const search = params.toString();
  await page.goto(search === '' ? '/' : `/?${search}`);
  await expect(page.getByTestId('active-backend')).toBeVisible();
}

/** Fails the test on any request that leaves the app's own origin. */
export function forbidForeignRequests(page: Page, origin: string): string[] {
  const foreign: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      foreign.push(url);
    }
  });
  return foreign;
}
