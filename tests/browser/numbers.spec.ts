import { expect, test } from '@playwright/test';
import type { TrainingSelfEdit } from '../../src/engine/api';
import { worldStarter } from '../../src/engine/seal/starter';
import {
  openApp,
  TINY_SEAL_CONFIG as TINY,
  type PageWithEngine,
  useTinySealModel,
  pausedSealRun,
} from './helpers';

/** The tiny run with two held-out contexts, so that Table 2 has rows to chart. */
const CONFIG = { ...TINY, heldOut: { contexts: 2, conditions: ['base', 'passage'] } };

test('a tiny run explains its numbers: reward, best, the questions, Table 2 and forgetting', async ({
  page,
}) => {
  test.setTimeout(0);
  await openApp(page, '?backend=wasm');
  await useTinySealModel(page);
  const runId = await pausedSealRun(page, CONFIG);
  // Resumed from the panel, so its cards and results are the panel's own.
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('seal-message')).toBeVisible({ timeout: 0 });
  await expect(page.getByTestId('seal-message')).toHaveText('The run is done.');

  const card = page.getByTestId('seal-context-card').first();
  await card.getByText('What the numbers mean').click();
  const explain = card.getByTestId('seal-card-explain');
  await expect(explain).toContainText('nats per answer token');
  await expect(explain).toContainText('Baseline, the model before the update');
  await expect(explain).toContainText('Best: the highest reward');
  await expect(card.getByTestId('seal-sample-numbers').first()).toContainText(/nats\/token/);
  await expect(card.locator('li.best')).toHaveCount(1);
  await expect(card.locator('li.best')).toContainText('best');

  // The questions behind the accuracy are the passage's own, with their gold answers.
  const edits: TrainingSelfEdit[] = await page.evaluate(
    (id) => (window as unknown as PageWithEngine).seal.engine.seal.selfEdits(id),
    runId,
  );
  const title = (await card.locator('h4').textContent()) ?? '';
  const first = edits.find((e) => title.startsWith(e.title) && e.sampleIndex === 0)!;
  expect(first.asked).toHaveLength(TINY.grading.maxQuestions);
  const questions = card.getByTestId('seal-sample-questions').first();
  await questions.getByText('Questions (2)').click();
  await expect(questions.locator('tbody tr')).toHaveCount(2);
  await expect(questions).toContainText(first.asked[0]!.question);
  await expect(questions).toContainText(first.asked[0]!.gold);
  await expect(questions).toContainText('does not store the answers before the update');

  // Table 2 as a chart beside the paper's numbers, with the numbers as a table too.
  const chart = page.getByTestId('seal-table2-chart');
  await expect(chart).toContainText('this run');
  await expect(chart).toContainText('paper (Qwen2.5-7B, SQuAD)');
  await expect(chart.getByRole('img')).toHaveAttribute('aria-label', /Base model: this run/);
  await chart.getByText('The numbers as a table').click();
  const chartTable = page.getByTestId('seal-table2-chart-table');
  await expect(chartTable).toBeVisible();
  await expect(chartTable).toContainText('32.7%');

  // The round chart's legend works from the keyboard.
  const legendEntry = page
    .getByTestId('seal-round-chart')
    .getByRole('button', { name: 'mean reward' });
  await expect(legendEntry).toHaveAttribute('aria-pressed', 'true');
  await legendEntry.focus();
  await page.keyboard.press('Enter');
  await expect(legendEntry).toHaveAttribute('aria-pressed', 'false');

  // The forgetting experiment, with the run's tiny settings, as a heat map and a table.
  await page.getByLabel('Passages', { exact: true }).fill('2');
  await page.getByRole('button', { name: 'Edit in sequence' }).click();
  const heatmap = page.getByTestId('seal-forgetting-heatmap');
  await expect(heatmap).toContainText('after editing passage 2', { timeout: 0 });
  await expect(heatmap).toContainText('0%');
  await expect(heatmap.locator('.cell')).toHaveCount(6, { timeout: 0 });
  await heatmap.getByText('The numbers as a table').click();
  await expect(page.getByTestId('seal-forgetting').locator('tbody tr')).toHaveCount(3);
});

test('Generate and Fine-tune start from a validation passage of the default model’s world', async ({
  page,
}) => {
  const starter = worldStarter(1);
  await openApp(page, '', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('seal-world-1m');
  await page.getByRole('tab', { name: 'Generate' }).click();
  await expect(page.getByTestId('generate-prompt')).toHaveValue(starter.prompt);
  await expect(page.getByTestId('generate-prompt')).toHaveValue(new RegExp(starter.title));
  await page.getByRole('tab', { name: 'Fine-tune' }).click();
  await expect(page.getByTestId('finetune-data')).toHaveValue(starter.passage);
  await expect(page.getByLabel('Learning rate')).toHaveValue(String(starter.finetune.learningRate));
  await expect(page.getByLabel('Epochs')).toHaveValue(String(starter.finetune.epochs));
});
