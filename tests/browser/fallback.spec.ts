import { expect, test } from '@playwright/test';
import { forbidForeignRequests, openApp } from './helpers';

test('without WebGPU the app falls back to WASM and says why @no-webgpu', async ({
  page,
  baseURL,
}) => {
  const foreign = forbidForeignRequests(page, baseURL!);
  await openApp(page);
  await expect(page.getByTestId('active-backend')).toHaveText('wasm');
  await expect(page.getByTestId('fallback-reasons')).toContainText('webgpu:');
  await expect(page.getByTestId('status-backend')).toContainText('fallback');
  await page.screenshot({ path: 'test-output/fallback-screen.png', fullPage: true });
  expect(foreign).toEqual([]);
});
