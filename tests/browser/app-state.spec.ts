import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { unzipSync } from 'fflate';
import {
  openApp,
  serveTinyLlama,
  TINY_LLAMA_PATH,
  type PageWithEngine,
  waitForEngine,
} from './helpers';

/**
 * The Fine-tune, Generate and Model panels are views of state that outlives them: switching tabs
 * keeps running jobs, results and forms; one model job at a time; adapters listed and applied in
 * the Model panel.
 */

const TEXT = 'The sea is salty.';

async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name, exact: true }).click();
}

/** Loads tiny-llama from the Model panel, so the app knows the model as a user's load leaves it. */
async function loadTinyLlama(page: Page): Promise<void> {
  await openTab(page, 'Model');
  await page.getByLabel('URL', { exact: true }).check();
  await page.getByLabel('Base URL').fill(new URL(TINY_LLAMA_PATH, page.url()).href);
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-id')).toContainText('tiny-llama');
}

async function trainAdapter(page: Page, epochs: number): Promise<void> {
  await openTab(page, 'Fine-tune');
  await page.getByTestId('finetune-data').fill(TEXT);
  await page.getByLabel('Epochs').fill(String(epochs));
  await page.getByTestId('finetune-start').click();
  await expect(page.getByTestId('finetune-message')).toContainText(`Trained ${epochs} steps`);
}

const tensorCount = (page: Page) =>
  page.evaluate(
    async () => (await (window as unknown as PageWithEngine).seal.engine.memory()).numTensors,
  );

test('a fine-tune survives leaving its tab: the running job with its Cancel, then its results', async ({
  page,
}) => {
  await serveTinyLlama(page);
  await openApp(page, '?backend=wasm');
  await loadTinyLlama(page);

  await openTab(page, 'Fine-tune');
  await page.getByTestId('finetune-data').fill(TEXT);
  // Far more steps than the test waits for: it is cancelled once seen running.
  await page.getByLabel('Epochs').fill('100000');
  await page.getByTestId('finetune-start').click();
  await expect(page.getByTestId('finetune-progress')).toContainText('tokens/s');
  await openTab(page, 'Generate');
  await openTab(page, 'Fine-tune');
  await expect(page.getByTestId('finetune-data')).toHaveValue(TEXT);
  await expect(page.getByLabel('Epochs')).toHaveValue('100000');
  await expect(page.getByTestId('finetune-progress')).toContainText('tokens/s');
  await expect(page.getByTestId('finetune-start')).toBeDisabled();
  await expect(page.getByTestId('model-busy')).toBeHidden();
  await page.getByTestId('finetune-cancel').click();
  await expect(page.getByTestId('finetune-message')).toHaveText(
    'Cancelled; the weights are as after the last finished step.',
  );
  await expect(page.getByTestId('finetune-start')).toBeEnabled();

  await page.getByLabel('Epochs').fill('3');
  await page.getByTestId('finetune-start').click();
  await expect(page.getByTestId('finetune-message')).toContainText('Trained 3 steps');
  await page.getByLabel('Prompt').fill('The');
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByTestId('finetune-compare')).toContainText('With adapter-1');

  await openTab(page, 'Model');
  await openTab(page, 'Fine-tune');
  await expect(page.getByTestId('finetune-message')).toContainText('Trained 3 steps');
  await expect(page.getByTestId('loss-chart').locator('canvas')).toBeVisible();
  await expect(page.getByTestId('finetune-compare')).toContainText('With adapter-1');
  await expect(page.getByLabel('Prompt')).toHaveValue('The');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download adapter (PEFT)' }).click();
  expect((await download).suggestedFilename()).toBe('adapter-1.zip');
});

test('the Generate panel keeps its prompt, settings and output across tab switches', async ({
  page,
}) => {
  await serveTinyLlama(page);
  await openApp(page, '?backend=wasm');
  await loadTinyLlama(page);

  await openTab(page, 'Generate');
  await page.getByTestId('generate-prompt').fill('Once upon');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max new tokens').fill('5');
  await page.getByTestId('generate-run').click();
  await expect(page.getByTestId('generate-stats')).toContainText('5 generated');
  const output = await page.getByTestId('generate-output').textContent();

  await openTab(page, 'Fine-tune');
  await openTab(page, 'Generate');
  await expect(page.getByTestId('generate-prompt')).toHaveValue('Once upon');
  await expect(page.getByLabel('Temperature')).toHaveValue('0');
  await expect(page.getByLabel('Max new tokens')).toHaveValue('5');
  await expect(page.getByTestId('generate-output')).toHaveText(output!);
  await expect(page.getByTestId('generate-stats')).toContainText('5 generated');
});

test('while a generation runs, nothing else that uses the model can be started', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model seal-world-1m');

  await openTab(page, 'Generate');
  // Near-uniform sampling of 16 sequences to the end of the context: it runs until cancelled.
  await page.getByLabel('Temperature').fill('5');
  await page.getByLabel('Samples').fill('16');
  await page.getByLabel('Max new tokens').fill('480');
  await page.getByTestId('generate-run').click();
  await expect(page.getByTestId('generate-cancel')).toBeEnabled();

  await openTab(page, 'Fine-tune');
  await page.getByTestId('finetune-data').fill(TEXT);
  await expect(page.getByTestId('finetune-start')).toBeDisabled();
  await expect(page.getByTestId('model-busy')).toHaveText('The model is busy with generation.');
  await openTab(page, 'Model');
  await expect(page.getByTestId('model-load')).toBeDisabled();
  await expect(page.getByTestId('model-unload')).toBeDisabled();
  await expect(page.getByTestId('model-busy')).toHaveText('The model is busy with generation.');

  await openTab(page, 'Generate');
  await expect(page.getByTestId('model-busy')).toBeHidden();
  await page.getByTestId('generate-cancel').click();
  await expect(page.getByTestId('generate-message')).toHaveText('Cancelled.');
  await openTab(page, 'Fine-tune');
  await expect(page.getByTestId('finetune-start')).toBeEnabled();
  await expect(page.getByTestId('model-busy')).toBeHidden();
});

test('adapters are listed in the Model panel, applied to generation, downloaded, deleted and freed with their model', async ({
  page,
}) => {
  await serveTinyLlama(page);
  await openApp(page, '?backend=wasm');
  const withoutModel = await tensorCount(page);
  await loadTinyLlama(page);
  await expect(page.getByTestId('adapters-none')).toBeVisible();
  await trainAdapter(page, 2);

  await openTab(page, 'Generate');
  await expect(page.getByTestId('generate-weights')).toHaveText('base model');
  await openTab(page, 'Model');
  const row = page.getByTestId('adapter-adapter-1');
  await expect(row.getByTestId('adapter-status')).toHaveText('not applied');
  await row.getByRole('button', { name: 'Apply adapter-1' }).click();
  await expect(row.getByTestId('adapter-status')).toHaveText('applied');
  await openTab(page, 'Generate');
  await expect(page.getByTestId('generate-weights')).toHaveText('base model + adapter adapter-1');

  await openTab(page, 'Model');
  const download = page.waitForEvent('download');
  await row.getByRole('button', { name: 'Download adapter-1' }).click();
  const zip = unzipSync(new Uint8Array(readFileSync(await (await download).path())));
  expect(Object.keys(zip).sort()).toEqual([
    'adapter-1/adapter_config.json',
    'adapter-1/adapter_model.safetensors',
  ]);
  await row.getByRole('button', { name: 'Remove adapter-1' }).click();
  await expect(row.getByTestId('adapter-status')).toHaveText('not applied');
  await openTab(page, 'Generate');
  await expect(page.getByTestId('generate-weights')).toHaveText('base model');
  await openTab(page, 'Model');
  await row.getByRole('button', { name: 'Delete adapter-1' }).click();
  await expect(page.getByTestId('adapters-none')).toBeVisible();

  // Unloading frees the model and, at once, the adapters made for it.
  await trainAdapter(page, 2);
  await openTab(page, 'Model');
  await expect(page.getByTestId('adapter-adapter-1')).toBeVisible();
  await page.getByTestId('model-unload').click();
  await expect(page.getByTestId('model-none')).toBeVisible();
  expect(await tensorCount(page)).toBe(withoutModel);
});

test('Generate offers chat only for a model with a chat template', async ({ page }) => {
  await serveTinyLlama(page);
  await openApp(page, '?backend=wasm', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model seal-world-1m');
  await openTab(page, 'Generate');
  await expect(page.getByLabel('plain text to continue')).toHaveCount(0);
  await expect(page.getByLabel('a chat message')).toHaveCount(0);

  await loadTinyLlama(page);
  await openTab(page, 'Generate');
  await page.getByLabel('a chat message').check();
  await page.getByTestId('generate-prompt').fill('Hi');
  await page.getByLabel('Max new tokens').fill('3');
  await page.getByTestId('generate-run').click();
  await expect(page.getByTestId('generate-stats')).toBeVisible();
});

test('an adapter kept in this browser survives a reload and loads back onto its model', async ({
  page,
}) => {
  await serveTinyLlama(page);
  await openApp(page, '?backend=wasm');
  await loadTinyLlama(page);
  await trainAdapter(page, 2);
  await openTab(page, 'Model');
  await page.getByRole('button', { name: 'Keep adapter-1 in this browser' }).click();
  await expect(page.getByTestId('kept-adapter-1')).toBeVisible();

  await page.reload();
  await waitForEngine(page, 'wasm');
  await loadTinyLlama(page);
  await expect(page.getByTestId('adapters-none')).toBeVisible();
  await page.getByRole('button', { name: 'Load kept adapter-1' }).click();
  const row = page.getByTestId('adapter-adapter-1');
  await expect(row.getByTestId('adapter-status')).toHaveText('not applied');
  await expect(page.getByRole('button', { name: 'Load kept adapter-1' })).toBeDisabled();
});
