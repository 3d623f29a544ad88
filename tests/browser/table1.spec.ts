import { expect, test } from '@playwright/test';
import { CHANGE_CHANNEL_NAME } from '../../src/engine/store/coordination';
import { openApp, type PageWithEngine } from './helpers';

const ROWS = ['icl', 'ttt_untrained', 'seal', 'seal_minus_ttt_untrained', 'oracle'];

test('Table 1 with one click: the tiny run fills the table in, pauses, steps, resumes to done, resets and is listed in History', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await page.getByRole('tab', { name: 'Puzzles' }).click();
  const section = page.getByTestId('table1-section');
  const start = page.getByTestId('table1-start');
  await expect(start).toBeDisabled();
  await page.getByRole('button', { name: 'Use the tiny puzzle model' }).click();
  await expect(page.getByTestId('puzzle-model')).toHaveText('tiny-puzzle-3');

  // The tiny preset: one task, two recipes per task, one RL round of one task.
  const settings = page.getByTestId('table1-settings');
  await expect(settings.getByLabel('Preset')).toHaveValue('tiny');
  await expect(settings.getByLabel('Held-out tasks')).toHaveValue('1');
  await expect(settings.getByLabel('RL rounds')).toHaveValue('1');

  // Start, and press Pause as soon as the store holds the first episode.
  await page.evaluate((channelName) => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const changes = new BroadcastChannel(channelName);
    changes.onmessage = async () => {
      const [run] = await engine.store.listRuns();
      if ((run?.episodeCount ?? 0) < 1) return;
      changes.close();
      document.querySelector<HTMLButtonElement>('[data-testid="table1-pause"]')?.click();
    };
  }, CHANGE_CHANNEL_NAME);
  await start.click();
  await expect(section.getByTestId('table1-progress')).toContainText(/\d+ \/ 8 \(/);
  await expect(page.getByTestId('table1-message')).toHaveText('The run is paused.');
  await expect(section.getByTestId('table1-partial').first()).toContainText(
    /partial: \d of 1 tasks/,
  );
  const resumable = page.getByTestId('table1-resumable');
  await expect(resumable).toContainText('paused');

  // Step: exactly one more episode, then paused again.
  const storedEpisodes = () =>
    page.evaluate(async () => {
      const [run] = await (window as unknown as PageWithEngine).seal.engine.store.listRuns();
      return run!.episodeCount;
    });
  const beforeStep = await storedEpisodes();
  await page.getByTestId('table1-step').click();
  await expect(section.getByTestId('table1-progress')).toContainText(`${beforeStep + 1} / 8 (`);
  await expect(page.getByTestId('table1-message')).toHaveText('The run is paused.');
  expect(await storedEpisodes()).toBe(beforeStep + 1);
  await resumable.getByRole('button', { name: 'Resume' }).click();

  // To done: every row measured, with its interval, and no row partial.
  await expect(page.getByTestId('table1-message')).toHaveText(
    'The run is done: the table is complete.',
  );
  await expect(section.getByText('8 / 8 (100%)')).toBeVisible();
  for (const key of ROWS) {
    const row = section.locator(`[data-testid="table1-row"][data-row="${key}"]`);
    await expect(row.getByTestId('table1-interval')).toHaveText(/\d.* to .*\d/);
  }
  await expect(section.getByTestId('table1-partial')).toHaveCount(0);
  // The recipe rows again, split by whether the puzzle is solved in context.
  await expect(section.getByTestId('table1-split-row')).toHaveCount(3);
  const splitHeader = await section.getByTestId('table1-split').locator('thead').innerText();
  const [solved, unsolved] = [...splitHeader.matchAll(/on the (\d+)/g)].map((m) => Number(m[1]));
  expect(solved! + unsolved!).toBe(1);
  await expect(section.getByTestId('table1-chart')).toBeVisible();
  await expect(section.getByTestId('table1-recipe').first()).toBeVisible();
  await expect(section.getByTestId('table1-resumable')).toHaveCount(0);

  // The state outlives the tab.
  await page.getByRole('tab', { name: 'System' }).click();
  await page.getByRole('tab', { name: 'Puzzles' }).click();
  await expect(page.getByTestId('table1-table')).toBeVisible();

  // Reset clears the section for a new run; the run stays stored.
  await page.getByTestId('table1-reset').click();
  await expect(section.getByTestId('table1-table')).toHaveCount(0);
  await expect(section.getByTestId('table1-progress')).toHaveCount(0);
  await expect(page.getByTestId('table1-reset')).toBeDisabled();

  // History lists the run by its kind and shows its table.
  await page.getByRole('tab', { name: 'History' }).click();
  const run = page.getByTestId('runs').locator('tr', { hasText: 'Table 1 run (few-shot puzzles)' });
  await expect(run).toHaveCount(1);
  await expect(run.getByTestId('run-episodes')).toHaveText('8');
  await run.getByRole('button', { name: 'Table 1' }).click();
  const table = page.getByTestId('history-table1');
  await expect(table.getByTestId('table1-row')).toHaveCount(ROWS.length);
  await expect(table.getByTestId('table1-partial')).toHaveCount(0);
});
