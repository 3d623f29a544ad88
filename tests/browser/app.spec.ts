import { expect, test } from '@playwright/test';
import { forbidForeignRequests, openApp, type PageWithEngine } from './helpers';

test('on a software WebGPU adapter, auto picks WASM and says why', async ({ page }) => {
  await page.goto('/?model=none&tab=system');
  await expect(page.getByTestId('active-backend')).toHaveText('wasm');
  await expect(page.getByTestId('fallback-reasons')).toContainText(
    'the only WebGPU adapter is a software fallback',
  );
  await expect(page.getByTestId('adapter')).toContainText('software fallback adapter');
  await expect(page.getByTestId('status-backend')).toContainText('fallback');
});

test('opening the app and visiting every tab logs no error', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await openApp(page, '', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model');
  for (const tab of ['Start here', 'Model', 'Generate', 'Fine-tune', 'SEAL', 'History', 'System']) {
    await page.getByRole('tab', { name: tab }).click();
    await expect(page.getByRole('tab', { name: tab })).toHaveAttribute('aria-selected', 'true');
  }
  await expect(page.getByTestId('status-memory')).toContainText('Tensors');
  expect(errors).toEqual([]);
});

test('the panel shown is in the address, so a reload or a shared link opens it', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await page.getByRole('tab', { name: 'History' }).click();
  await expect(page).toHaveURL(/[?&]tab=history/);
  await page.reload();
  await expect(page.getByRole('tab', { name: 'History' })).toHaveAttribute('aria-selected', 'true');
  await openApp(page, '?backend=wasm&tab=no-such-panel');
  await expect(page.getByRole('tab', { name: 'Start here' })).toHaveAttribute(
    'aria-selected',
    'true',
  );
});

test('first screen starts the walkthrough and shows the loop and the WebGPU backend it was asked for', async ({
  page,
  baseURL,
}) => {
  const foreign = forbidForeignRequests(page, baseURL!);
  const response = await page.goto('/?backend=webgpu');
  expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");

  await expect(page.getByRole('heading', { name: 'SEAL Playground' })).toBeVisible();
  await expect(page.getByRole('img', { name: /The SEAL loop/ })).toBeVisible();
  await expect(page.getByRole('tab', { name: 'Start here' })).toHaveAttribute(
    'aria-selected',
    'true',
  );
  await expect(page.getByTestId('walkthrough-passage')).toBeVisible();
  await page.getByRole('tab', { name: 'System' }).click();
  await expect(page.getByTestId('active-backend')).toHaveText('webgpu');
  await expect(page.getByTestId('adapter')).toContainText('swiftshader');
  await expect(page.getByTestId('status-backend')).toContainText('webgpu');
  await expect(page.getByTestId('status-memory')).toContainText('Tensors');
  await expect(page.getByTestId('status-memory')).toContainText('GPU');
  await page.screenshot({ path: 'test-output/first-screen.png', fullPage: true });
  expect(foreign).toEqual([]);
});

test('a matmul through the Worker RPC is right on webgpu, wasm and cpu', async ({ page }) => {
  await openApp(page);
  const results = await page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const a = { rows: 2, cols: 3, values: new Float32Array([1, 2, 3, 4, 5, 6]) };
    const b = { rows: 3, cols: 2, values: new Float32Array([7, 8, 9, 10, 11, 12]) };
    const out: Record<string, { active: string; values: number[] }> = {};
    for (const name of ['webgpu', 'wasm', 'cpu'] as const) {
      const info = await engine.init(name);
      const product = await engine.matmul(a, b);
      out[name] = { active: info.active, values: [...product.values] };
    }
    return out;
  });
  for (const name of ['webgpu', 'wasm', 'cpu']) {
    expect(results[name]!.active).toBe(name);
    expect(results[name]!.values).toEqual([58, 64, 139, 154]);
  }
});

test('a bad RPC argument is a clear error and the engine stays usable', async ({ page }) => {
  await openApp(page);
  const outcome = await page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    let message = '';
    try {
      await engine.matmul(
        { rows: 1, cols: 2, values: new Float32Array([1, 2]) },
        { rows: 3, cols: 1, values: new Float32Array([1, 2, 3]) },
      );
    } catch (error) {
      message = (error as Error).message;
    }
    const after = await engine.matmul(
      { rows: 1, cols: 1, values: new Float32Array([3]) },
      { rows: 1, cols: 1, values: new Float32Array([4]) },
    );
    return { message, after: [...after.values] };
  });
  expect(outcome.message).toContain('cannot multiply 1×2 by 3×1');
  expect(outcome.after).toEqual([12]);
});

test('a long engine call reports progress and can be cancelled', async ({ page }) => {
  await openApp(page, '?backend=wasm');
  await expect(page.getByTestId('active-backend')).toHaveText('wasm');
  const before = await page.evaluate(() =>
    (window as unknown as PageWithEngine).seal.engine.memory(),
  );

  await page.getByLabel('Size').fill('128');
  await page.getByLabel('Repeats').fill('500000');
  await page.getByTestId('benchmark-run').click();
  const progress = page.getByRole('progressbar', { name: 'Speed check progress' });
  await expect(progress).toBeVisible();
  await expect.poll(async () => Number(await progress.getAttribute('value'))).toBeGreaterThan(3);
  await page.getByTestId('benchmark-cancel').click();

  await expect(page.getByTestId('benchmark-message')).toHaveText('Cancelled.');
  await expect(progress).toBeHidden();
  const after = await page.evaluate(() =>
    (window as unknown as PageWithEngine).seal.engine.memory(),
  );
  expect(after.numTensors).toBe(before.numTensors);
  await expect(page.getByTestId('benchmark-run')).toBeEnabled();
});

test('tabs work from the keyboard', async ({ page }) => {
  await openApp(page);
  await page.getByRole('tab', { name: 'System' }).focus();
  await page.keyboard.press('Home');
  const first = page.getByRole('tab', { name: 'Start here' });
  await expect(first).toBeFocused();
  await expect(first).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Model' })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Generate' })).toHaveAttribute(
    'aria-selected',
    'true',
  );
  await expect(page.getByRole('tabpanel')).toContainText('Generate');
});
