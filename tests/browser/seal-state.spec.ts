import { expect, test, type Locator, type Page } from '@playwright/test';
import {
  openApp,
  TINY_SEAL_CONFIG as TINY,
  type PageWithEngine,
  waitForEngine,
  useTinySealModel,
  pausedSealRun,
} from './helpers';

/**
 * Runs the SEAL panel drives are resumed from a run started (and paused) through the engine, so
 * they have small settings the panel's form does not all show. One step at a time, so that a
 * pause lands right after the episode it follows.
 */

function sealTab(page: Page) {
  return page.getByRole('tab', { name: 'SEAL' });
}

/** How many self-edits the run has stored of its latest `contexts` contexts. */
async function storedSelfEditsOfLatestContexts(
  page: Page,
  runId: string,
  contexts: number,
): Promise<number> {
  const episodes = await page.evaluate(
    (id) => (window as unknown as PageWithEngine).seal.engine.store.listEpisodes(id),
    runId,
  );
  const latest = [...new Set(episodes.map((e) => e.contextIndex))].slice(-contexts);
  return episodes.filter((e) => latest.includes(e.contextIndex)).length;
}

/** Each card's samples as [reward, marked best]. */
async function cardSamples(cards: Locator): Promise<[number, boolean][][]> {
  return cards.evaluateAll((elements) =>
    elements.map((card) =>
      [...card.querySelectorAll('li')].map((item): [number, boolean] => [
        // A reward reads '+0.812 nats/token' or '−0.500 nats/token' (a minus sign).
        Number(/reward ([+−-]?[\d.]+)/.exec(item.textContent ?? '')![1]!.replace('−', '-')),
        item.querySelector('.badge')?.textContent === 'best',
      ]),
    ),
  );
}

test('a SEAL run the panel drives outlives leaving the panel, with its controls, cards and locked settings', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  // Long enough that it is still going when the panel is left and opened again.
  const runId = await pausedSealRun(page, {
    ...TINY,
    selfEdit: { samples: 4, maxNewTokens: 4 },
    outer: { rounds: 1, contextsPerRound: 40 },
  });
  const row = page.getByTestId('seal-resumable');
  await expect(row).toHaveText(/paused · \d+ episodes/);

  await row.getByRole('button', { name: 'Resume' }).click();
  const pause = page.getByRole('button', { name: 'Pause' });
  await expect(pause).toBeEnabled();
  // The row of a run that goes on again is gone; the form shows its settings, locked.
  await expect(row).toHaveCount(0);
  const settings = page.getByTestId('seal-settings');
  const samplesPerContext = settings.getByLabel('Self-edits per context (K)');
  await expect(samplesPerContext).toBeDisabled();
  await expect(samplesPerContext).toHaveValue('4');
  await expect(settings.getByLabel('Contexts per round')).toHaveValue('40');
  // One job uses the model at a time: nothing here may start another.
  await expect(page.getByTestId('model-busy')).toHaveText('The model is busy with a SEAL run.');
  for (const name of ['Start run', 'Compare formats', 'the tiny demo model', 'Edit in sequence']) {
    await expect(page.getByRole('button', { name })).toBeDisabled();
  }

  await page.getByRole('tab', { name: 'History' }).click();
  await expect(page.getByTestId('runs')).toBeVisible();
  await sealTab(page).click();
  await expect(pause).toBeEnabled();
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeEnabled();
  await expect(page.getByTestId('seal-start')).toBeDisabled();
  await expect(samplesPerContext).toBeDisabled();
  await expect(page.getByRole('progressbar', { name: 'SEAL run progress' })).toBeVisible();
  const cards = page.getByTestId('seal-context-card');
  await expect(cards.first()).toBeVisible();

  await pause.click();
  await expect(page.getByTestId('seal-message')).toHaveText('The run is paused.');
  await expect(row).toHaveText(/paused · \d+ episodes/);
  await expect(page.getByTestId('seal-start')).toBeEnabled();
  await expect(samplesPerContext).toBeEnabled();
  // The cards hold every self-edit stored of the contexts they show, those from before the panel
  // resumed the run too.
  const samples = await cardSamples(cards);
  expect(samples.flat()).toHaveLength(
    await storedSelfEditsOfLatestContexts(page, runId, samples.length),
  );
});

test('an interrupted run shows as such, opens with its own settings and partial results, and resumes its cards where they stopped', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  const runId = await pausedSealRun(page, { ...TINY, heldOut: { contexts: 2 } });
  // Marked running by this tab, then cut off by a reload: how an interrupted run is stored.
  await page.evaluate(
    (id) => (window as unknown as PageWithEngine).seal.engine.store.resumeRun(id),
    runId,
  );
  await page.reload();
  await waitForEngine(page, 'wasm');
  await useTinySealModel(page);

  const row = page.getByTestId('seal-resumable');
  await expect(row).toContainText('interrupted (can resume)');
  await row.getByRole('button', { name: 'Show' }).click();
  const settings = page.getByTestId('seal-settings');
  await expect(settings.getByLabel('Self-edits per context (K)')).toHaveValue('2');
  await expect(settings.getByLabel('Held-out contexts')).toHaveValue('2');
  // Paused inside round 0's held-out evaluation: its figures so far are partial.
  await expect(page.getByTestId('seal-table2')).toBeVisible();
  await expect(page.getByTestId('seal-partial').first()).toHaveText('partial: 0 of 2 passages');

  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('seal-message')).toHaveText('The run is done.');
  await expect(page.getByTestId('seal-partial')).toHaveCount(0);
  const cards = page.getByTestId('seal-context-card');
  await expect(cards).toHaveCount(2);
  await expect(cards.first()).toContainText('round 0 (base model)');
  await expect(cards.first()).not.toContainText('more self-edit');
  for (const samples of await cardSamples(cards)) {
    expect(samples).toHaveLength(2);
    const best = Math.max(...samples.map(([reward]) => reward));
    expect(samples.filter(([, isBest]) => isBest).map(([reward]) => reward)).toEqual([best]);
  }
  const rounds = page.getByTestId('seal-rounds');
  await expect(rounds.locator('tbody tr').first()).toContainText('Round 0 (base model)');
  await expect(rounds.locator('tbody tr').nth(1)).toContainText('Round 1 (after 1 M-step)');
  // The legend names the series without waiting for a hover.
  await expect(page.getByTestId('seal-round-chart')).toContainText('held-out accuracy');
  await expect(page.getByTestId('seal-round-chart').locator('.u-legend')).not.toContainText('--');

  await page.getByRole('tab', { name: 'History' }).click();
  const checkpoint = page.getByTestId('checkpoints').locator('tbody tr').first();
  await expect(checkpoint).toContainText("round 1 generator (after round 0's M-step)");
  await expect(checkpoint).toContainText('made in round 0');
});

test('a setting the run refuses is named as the panel labels it, and a run that fails before its first episode leaves no progress bar', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  const message = page.getByTestId('seal-message');
  const progress = page.getByRole('progressbar', { name: 'SEAL run progress' });
  await page.getByLabel('Self-edits per context (K)').fill('');
  await page.getByTestId('seal-start').click();
  await expect(message).toContainText(
    'Self-edits per context (K) must be a whole number ≥ 1, got null',
  );
  await expect(progress).toHaveCount(0);

  // The tiny model has no chat template: the run starts, then fails at its first prompt.
  await page.getByLabel('Self-edits per context (K)').fill('2');
  await page.getByLabel('Prompts').selectOption('chat');
  await page.getByTestId('seal-start').click();
  await expect(message).toHaveText(
    'This model has no chat template: set Prompts to plain text (base model).',
  );
  await expect(page.getByTestId('seal-start')).toBeEnabled();
  await expect(progress).toHaveCount(0);
});

test('the tiny demo model says whom it replaces and becomes the loaded model everywhere', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model');
  const loaded = (await page.getByTestId('status-model').locator('strong').textContent())!;
  await sealTab(page).click();
  await page.getByRole('button', { name: `Replace ${loaded} with the tiny demo model` }).click();
  await expect(page.getByTestId('seal-model')).toHaveText('tiny-seal-3-world-1');
  await expect(page.getByTestId('status-model')).toHaveText('Model tiny-seal-3-world-1');
  await page.getByRole('tab', { name: 'Model' }).click();
  await expect(page.getByRole('tabpanel')).toContainText('tiny-seal-3-world-1');
});
