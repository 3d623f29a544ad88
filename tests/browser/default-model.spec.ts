import { expect, test } from '@playwright/test';
import { exactMatch } from '../../src/engine/seal/grade';
import { readingPrompt } from '../../src/engine/prompts';
import { contextOf } from '../../src/engine/world/contexts';
import { generateWorld } from '../../src/engine/world/generate';
import { openApp, type PageWithEngine } from './helpers';

/**
 * The default model ships with the app and loads on opening, with no click: the Model panel
 * shows it, and it answers questions about a held-out passage from the passage in the prompt, on
 * WebGPU as on wasm.
 */
test('the shipped default model loads on opening and answers on WebGPU as on wasm', async ({
  page,
}) => {
  await openApp(page, '', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model seal-world-1m', {
    timeout: 120_000,
  });
  await page.getByRole('tab', { name: 'Model' }).click();
  await expect(page.getByLabel('Shipped with the app')).toBeChecked();
  await expect(page.getByTestId('model-id')).toContainText('seal-world-1m');

  const world = generateWorld(1);
  const context = contextOf(world, world.splits.eval[0]!);
  const questions = context.questions.map((question, i) => ({
    prompt: readingPrompt(context.title, context.context, context.asked[i]!),
    gold: question.answer,
  }));
  const answers = await page.evaluate(
    async (prompts) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const request = {
        prompts: prompts.map((text) => ({ kind: 'completion' as const, text })),
        samplesPerPrompt: 1,
        maxNewTokens: 16,
        sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 },
        stopStrings: ['\n'],
      };
      const texts = async (jobId: string) =>
        (await engine.generate(jobId, request)).sequences.map((s) => s.text.trim());
      const webgpu = await texts('default-model-webgpu');
      await engine.init('wasm');
      await engine.model.load('default-model-wasm', { kind: 'shipped', name: 'seal-world-1m' });
      const wasm = await texts('default-model-wasm');
      await engine.init('webgpu');
      return { webgpu, wasm };
    },
    questions.map((q) => q.prompt),
  );
  expect(answers.webgpu).toEqual(answers.wasm);
  const right = answers.webgpu.filter((answer, i) => exactMatch(answer, questions[i]!.gold));
  expect(questions.length).toBeGreaterThanOrEqual(5);
  expect(right.length).toBeGreaterThanOrEqual(questions.length / 2);
});

test('?model=none opens with no model, and an unknown name says what ships @no-webgpu', async ({
  page,
}) => {
  await openApp(page);
  await page.getByRole('tab', { name: 'Model' }).click();
  await expect(page.getByTestId('model-none')).toBeVisible();
  await expect(page.getByTestId('status-model')).toHaveText('No model loaded');

  await page.goto('/?model=no-such-model');
  await page.getByRole('tab', { name: 'Model' }).click();
  await expect(page.getByTestId('model-error')).toContainText(
    '?model=no-such-model names no shipped model (shipped: seal-world-1m, seal-puzzles-1m)',
  );
  await expect(page.getByTestId('model-none')).toBeVisible();
});

test('the shipped puzzle model loads by name and is one the Puzzles tab can use', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm&model=seal-puzzles-1m', { defaultModel: true });
  await expect(page.getByTestId('status-model')).toContainText('Model seal-puzzles-1m', {
    timeout: 120_000,
  });
  await page.getByRole('tab', { name: 'Puzzles' }).click();
  await expect(page.getByTestId('puzzle-model')).toHaveText('seal-puzzles-1m');
  // It reads grids cell by cell, so the panel lets it answer the first task in context.
  await expect(page.getByTestId('puzzle-in-context')).toBeEnabled();
  await expect(page.getByTestId('puzzle-model-problem')).toHaveCount(0);
  await page.getByTestId('puzzle-in-context').click();
  const inContext = page.getByRole('region', { name: 'In context (no training)' });
  await expect(inContext.getByTestId('puzzle-verdict')).toHaveText(/^(✓ Solved|✗ Not solved)/, {
    timeout: 120_000,
  });
});
