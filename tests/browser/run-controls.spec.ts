import { expect, test, type Page } from '@playwright/test';
import {
  openApp,
  TINY_SEAL_CONFIG as TINY,
  type PageWithEngine,
  waitForEngine,
  useTinySealModel,
  pausedSealRun,
} from './helpers';

/**
 * Runs are made through the engine with the tiny settings (the panel's form does not show them
 * all), paused after a given number of episodes, then driven, renamed and compared in the panels.
 */

async function storedRuns(page: Page) {
  return page.evaluate(() => (window as unknown as PageWithEngine).seal.engine.store.listRuns());
}

async function episodeCount(page: Page, runId: string): Promise<number> {
  const runs = await storedRuns(page);
  return runs.find((run) => run.id === runId)!.episodeCount;
}

test('Step evaluates exactly one more self-edit and pauses; Reset clears the panel for a new run', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  const runId = await pausedSealRun(page, TINY, { name: 'stepped' });
  await page.getByTestId('seal-resumable').getByRole('button', { name: 'Show' }).click();
  await expect(page.getByTestId('seal-run-name')).toContainText('stepped');

  await page.getByTestId('seal-step').click();
  await expect(page.getByTestId('seal-message')).toHaveText('The run is paused.');
  expect(await episodeCount(page, runId)).toBe(2);
  await expect(page.getByRole('progressbar', { name: 'SEAL run progress' })).toHaveAttribute(
    'value',
    '2',
  );
  // Both self-edits of the first context, each with its reward.
  await expect(page.getByTestId('seal-context-card').first().locator('li')).toHaveCount(2);

  await page.getByTestId('seal-reset').click();
  await expect(page.getByTestId('seal-run-name')).toHaveCount(0);
  await expect(page.getByTestId('seal-context-card')).toHaveCount(0);
  await expect(page.getByRole('progressbar', { name: 'SEAL run progress' })).toHaveCount(0);
  expect(new URL(page.url()).searchParams.get('run')).toBeNull();
  await expect(page.getByTestId('seal-reset')).toBeDisabled();

  // From a cleared panel a step starts a new run with the form's settings.
  await page.getByTestId('seal-step').click();
  await expect.poll(async () => (await storedRuns(page)).length).toBe(2);
  await expect(page.getByTestId('seal-message')).toHaveText('The run is paused.');
  const [newest, first] = await storedRuns(page);
  expect(newest).toMatchObject({ status: 'paused', episodeCount: 1 });
  expect(first).toMatchObject({ id: runId, status: 'paused', episodeCount: 2 });
});

test('a run renamed in History and in the SEAL panel keeps its name after a reload', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  const runId = await pausedSealRun(page, TINY, { name: 'unnamed' });

  await page.getByRole('tab', { name: 'History' }).click();
  const row = page.locator(`tr[data-run-id="${runId}"]`);
  await row.getByRole('button', { name: 'Rename run unnamed' }).click();
  const input = row.getByLabel('Run name');
  await input.fill('   ');
  await input.press('Enter');
  await expect(row.getByRole('alert')).toHaveText('Run name: must not be empty');
  await input.fill('  Tiny stepped run  ');
  await input.press('Enter');
  await expect(row.getByTestId('run-name')).toHaveText('Tiny stepped run');
  await expect(row.getByRole('button', { name: 'Rename run Tiny stepped run' })).toBeFocused();

  await page.reload();
  await waitForEngine(page, 'wasm');
  await expect(row.getByTestId('run-name')).toHaveText('Tiny stepped run');

  await page.goto(`/?backend=wasm&model=none&tab=seal&run=${runId}`);
  await waitForEngine(page, 'wasm');
  const shown = page.getByTestId('seal-run-name');
  await expect(shown.getByTestId('run-name')).toHaveText('Tiny stepped run');
  await shown.getByRole('button', { name: /^Rename run/ }).click();
  await shown.getByLabel('Run name').fill('Renamed in the panel');
  await shown.getByRole('button', { name: 'Save' }).click();
  await expect(shown.getByTestId('run-name')).toHaveText('Renamed in the panel');
  await page.reload();
  await waitForEngine(page, 'wasm');
  await expect(shown.getByTestId('run-name')).toHaveText('Renamed in the panel');
});

test('two runs compared side by side: their settings that differ, numbers and charts, stacked on a phone', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  const seven = await pausedSealRun(page, { ...TINY, seed: 7 }, { name: 'Seed 7', episodes: 2 });
  const eight = await pausedSealRun(page, { ...TINY, seed: 8 }, { name: 'Seed 8', episodes: 2 });

  await page.getByRole('tab', { name: 'History' }).click();
  const compare = page.getByRole('button', { name: /^Compare ticked runs/ });
  await page.getByRole('checkbox', { name: 'Compare Seed 7' }).check();
  await expect(compare).toBeDisabled();
  await page.getByRole('checkbox', { name: 'Compare Seed 8' }).check();
  await compare.click();

  // In the order History lists them: the newest first.
  const comparison = page.getByTestId('run-comparison');
  const cards = comparison.getByTestId('compared-run');
  await expect(cards).toHaveCount(2);
  await expect(cards.nth(0).getByRole('heading')).toHaveText('Seed 8');
  await expect(cards.nth(1).getByRole('heading')).toHaveText('Seed 7');
  for (const card of await cards.all()) {
    await expect(card).toContainText('2 of 4 episodes');
    await expect(card.getByTestId('seal-round-chart')).toBeVisible();
    await expect(card.locator('tbody tr').first()).toContainText('round 0 (base model)');
  }
  const seedRow = comparison.getByTestId('compared-settings').locator('tr', { hasText: 'seed' });
  await expect(seedRow.locator('td')).toHaveText(['seed', '8', '7']);
  await expect(seedRow.locator('td.differs')).toHaveText(['7']);
  expect(new URL(page.url()).searchParams.get('compare')).toBe(`${eight},${seven}`);

  // The address opens the comparison again; on a phone the runs stack, nothing sticking out.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await waitForEngine(page, 'wasm');
  await expect(cards).toHaveCount(2);
  await expect(cards.nth(1).getByTestId('seal-round-chart')).toBeVisible();
  const [top, bottom] = await Promise.all([cards.nth(0).boundingBox(), cards.nth(1).boundingBox()]);
  expect(bottom!.y).toBeGreaterThanOrEqual(top!.y + top!.height);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(
    true,
  );

  await comparison.getByRole('button', { name: 'Close the comparison' }).click();
  await expect(comparison).toHaveCount(0);
  expect(new URL(page.url()).searchParams.get('compare')).toBeNull();
});
