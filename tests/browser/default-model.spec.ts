import { expect, test } from '@playwright/test';
import { readingPrompt } from '../../src/engine/seal/prompts';
import { contextOf } from '../../src/engine/world/contexts';
import { generateWorld } from '../../src/engine/world/generate';
import { openApp, type PageWithEngine } from './helpers';

/** Questions (by index) about the first held-out evaluation passage. */
const QUESTIONS = [0, 1];

/**
 * The default model ships with the app and loads on opening, with no click: the Model panel
 * shows it, and its answers about a held-out passage on WebGPU are those it gives on wasm, and of
 * the kind asked for.
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
  const questions = QUESTIONS.map((i) => ({
    prompt: readingPrompt(context.title, context.context, context.asked[i]!),
    gold: context.questions[i]!.answer,
  }));
  const answers = await page.evaluate(
    async (prompts) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const request = {
        prompts: prompts.map((text) => ({ kind: 'completion' as const, text })),
        samplesPerPrompt: 1,
        maxNewTokens: 8,
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
  // The first question asks for a year, the second for a town: answered in kind.
  expect(questions[0]!.gold).toMatch(/^\d{4}$/);
  expect(answers.webgpu[0]).toMatch(/^\d{4}$/);
  expect(answers.webgpu[1]).toMatch(/^[A-Z][a-z]+$/);
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
    '?model=no-such-model names no shipped model (shipped: seal-world-1m)',
  );
  await expect(page.getByTestId('model-none')).toBeVisible();
});
