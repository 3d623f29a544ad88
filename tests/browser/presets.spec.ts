import { expect, test, type Page } from '@playwright/test';
import {
  openApp,
  TINY_SEAL_CONFIG as TINY,
  type PageWithEngine,
  waitForEngine,
  useTinySealModel,
} from './helpers';

/** A SEAL preset fills the form and is priced on this machine; the address keeps the form. */

const samples = (page: Page) => page.getByLabel('Self-edits per context (K)');
const rounds = (page: Page) => page.getByLabel('Rounds');
const contexts = (page: Page) => page.getByLabel('Contexts per round');

test('a preset fills the form with an estimate, an edit makes it custom, and a reload keeps both', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm&tab=seal');
  await useTinySealModel(page);
  const preset = page.getByTestId('seal-preset');
  await expect(preset).toHaveValue('defaults');

  await preset.selectOption('quick-demo');
  await expect(samples(page)).toHaveValue('2');
  await expect(rounds(page)).toHaveValue('1');
  await expect(contexts(page)).toHaveValue('2');
  const estimate = page.getByTestId('seal-estimate');
  await expect(estimate).toContainText(
    /Estimated run time: about [\d.]+(–[\d.]+)? (seconds?|minutes?|hours?|days?) on this machine with WASM/,
  );
  await expect(page).toHaveURL(/[?&]preset=quick-demo(&|$)/);

  await samples(page).fill('3');
  await expect(preset).toHaveValue('custom');
  await expect(page.getByText('Custom: edited from Quick demo')).toBeVisible();
  await expect(page).toHaveURL(/[?&]k=3(&|$)/);
  await expect(estimate).toContainText(/about [\d.]+/);

  // Settings a link cannot name are kept by the form only; the ones it can survive a reload.
  await page.reload();
  await waitForEngine(page, 'wasm');
  await expect(samples(page)).toHaveValue('3');
  await expect(rounds(page)).toHaveValue('1');
  await expect(contexts(page)).toHaveValue('2');
  await expect(preset).toHaveValue('custom');
  await expect(page.getByText('Custom: edited from Quick demo')).toBeVisible();

  // Back to the preset's value: the preset again, and a link that only names it.
  await samples(page).fill('2');
  await expect(preset).toHaveValue('quick-demo');
  await expect(page).not.toHaveURL(/[?&]k=/);
  await expect(page).toHaveURL(/[?&]preset=quick-demo(&|$)/);
});

test('a link to a stored run shows its own settings, not the settings the link names', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm&tab=seal');
  await useTinySealModel(page);
  const runId = await page.evaluate(async (config) => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const run = await engine.seal.startRun('preset-run', { config, worldSeed: 1, workers: 1 });
    if (run.status !== 'done') throw new Error(`the run ended as ${run.status}`);
    return run.id;
  }, TINY);

  await page.goto(`/?backend=wasm&model=none&tab=seal&run=${runId}&preset=classroom&k=4`);
  await waitForEngine(page, 'wasm');
  await expect(samples(page)).toHaveValue(String(TINY.selfEdit.samples));
  await expect(rounds(page)).toHaveValue(String(TINY.outer.rounds));
  await expect(contexts(page)).toHaveValue(String(TINY.outer.contextsPerRound));
  await expect(page.getByTestId('seal-preset')).toHaveValue('custom');
  // The address names the run alone now.
  await expect(page).toHaveURL(new RegExp(`[?&]run=${runId}(&|$)`));
  await expect(page).not.toHaveURL(/[?&](preset|k)=/);

  // A new run's settings leave the run's link.
  await page.getByTestId('seal-preset').selectOption('classroom');
  await expect(samples(page)).toHaveValue('3');
  await expect(page).toHaveURL(/[?&]preset=classroom(&|$)/);
  await expect(page).not.toHaveURL(/[?&]run=/);
});
