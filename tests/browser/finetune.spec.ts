import { expect, test, type Page } from '@playwright/test';
import {
  openApp,
  serveTinyLlama,
  TINY_LLAMA_PATH as MODEL_PATH,
  type PageWithEngine,
} from './helpers';

const TEXT = 'The sea is salty.';
/** Three kinds of linear (12 trainable tensors): enough to memorise, few shaders to compile. */
const TARGETS = ['q_proj', 'v_proj', 'up_proj'];

async function loadModel(page: Page, backend: 'webgpu' | 'wasm'): Promise<void> {
  await page.evaluate(
    async ({ backend, path }) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      await engine.init(backend);
      await engine.model.load(`load-${backend}`, {
        kind: 'url',
        baseUrl: `${location.origin}${path}`,
      });
    },
    { backend, path: MODEL_PATH },
  );
}

test('LoRA on WebGPU memorises a sentence, agreeing with WASM step by step', async ({ page }) => {
  // Fixed numbers of training steps bound the test; how long they take depends on the machine.
  test.setTimeout(0);
  await serveTinyLlama(page);
  await openApp(page);
  const losses: Record<string, number[]> = {};
  for (const backend of ['wasm', 'webgpu'] as const) {
    await loadModel(page, backend);
    losses[backend] = await page.evaluate(
      async ({ text, targets }) => {
        const { engine } = (window as unknown as PageWithEngine).seal;
        const result = await engine.train.finetune('agree', {
          dataset: { source: text, format: 'text' },
          method: {
            kind: 'lora',
            adapter: 'agree',
            settings: { targets, rank: 8, alpha: 16, dropout: 0 },
            seed: 3,
          },
          lossOn: 'all',
          // Adam's first steps move every weight by ±lr whatever its gradient's size, so a
          // gradient near 0 that differs in sign between backends moves it either way: a small lr
          // keeps that from hiding real disagreements.
          options: { epochs: 5, learningRate: 1e-4 },
        });
        return result.losses;
      },
      { text: TEXT, targets: TARGETS },
    );
  }
  losses.webgpu!.forEach((loss, i) => expect(loss).toBeCloseTo(losses.wasm![i]!, 3));

  // Bound as in the Node test: the fixture's small lm_head caps how low a LoRA can take the loss.
  const result = await page.evaluate(
    async ({ text, targets }) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const trained = await engine.train.finetune('memorise', {
        dataset: { source: text, format: 'text' },
        method: {
          kind: 'lora',
          adapter: 'memory',
          settings: { targets, rank: 8, alpha: 16, dropout: 0 },
          seed: 3,
        },
        lossOn: 'all',
        options: { epochs: 15, learningRate: 5e-2, reportEvery: 15 },
      });
      const answers = await engine.train.compareAnswers('compare', {
        prompt: 'The',
        adapter: 'memory',
        maxNewTokens: 10,
      });
      return { first: trained.losses[0]!, last: trained.losses.at(-1)!, answers };
    },
    { text: TEXT, targets: TARGETS },
  );
  expect(result.first).toBeGreaterThan(4);
  expect(result.last).toBeLessThan(1.4);
  expect('The' + result.answers.adapted).toBe(TEXT);
  expect('The' + result.answers.base).not.toBe(TEXT);
});

test('training holds tensors and GPU bytes flat across training steps and adapter resets', async ({
  page,
}) => {
  test.setTimeout(0);
  await serveTinyLlama(page);
  await openApp(page);
  await loadModel(page, 'webgpu');
  const memory = await page.evaluate(async (text) => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const train = (epochs: number) =>
      engine.train.finetune('leak', {
        dataset: { source: text, format: 'text' },
        method: {
          kind: 'lora',
          adapter: 'leak',
          settings: { targets: ['q_proj'], rank: 4, alpha: 8, dropout: 0.1 },
          seed: 1,
        },
        lossOn: 'all',
        // Reading the loss back after every step lets the GPU finish each step's work before the
        // next is queued: without it the pool also grows with how far the queue runs ahead.
        options: { epochs, learningRate: 1e-3, reportEvery: 1 },
      });
    const resetAndTrain = async () => {
      for (let seed = 1; seed <= 5; seed++) await engine.train.resetAdapter('leak', seed);
      await train(3);
    };
    // Warm-up: resets and reads between trainings leave freed buffers in WebGPU's pool (training
    // itself empties it at its end); two rounds fill it with all a round needs. A leak grows the
    // bytes in use every round instead.
    for (let round = 0; round < 2; round++) {
      await train(5);
      await resetAndTrain();
    }
    // Every step is alike once warm: a step that kept a tensor would add ten here.
    const before = await engine.memory();
    await train(10);
    const afterTraining = await engine.memory();
    await resetAndTrain();
    return { before, afterTraining, afterResets: await engine.memory() };
  }, TEXT);
  expect(memory.before.gpuBytes).not.toBeNull();
  // Training gives back the buffers its steps freed: the device keeps only what is in use.
  expect(memory.afterTraining.gpuPooledBytes).toBe(0);
  for (const after of [memory.afterTraining, memory.afterResets]) {
    expect(after.numTensors).toBe(memory.before.numTensors);
    expect(after.gpuBytes).toBe(memory.before.gpuBytes);
  }
});

test('the Fine-tune panel trains, draws the loss, compares answers and refuses bad JSONL', async ({
  page,
}) => {
  test.setTimeout(0);
  await serveTinyLlama(page);
  await openApp(page, '?backend=wasm');
  await loadModel(page, 'wasm');
  await page.getByRole('tab', { name: 'Fine-tune' }).click();

  await page.getByTestId('finetune-format').selectOption('jsonl');
  await page.getByTestId('finetune-data').fill('{"prompt": "Q", "completion": "A"}\n{"prompt": 1}');
  await page.getByTestId('finetune-start').click();
  const refusal = 'pasted.jsonl line 2: "prompt" must be a string, got a number';
  await expect(page.getByTestId('finetune-message')).toHaveText(refusal);

  await page.getByTestId('finetune-format').selectOption('text');
  await page.getByTestId('finetune-data').fill(TEXT);
  await page.getByLabel('Epochs').fill('4');
  await page.getByTestId('finetune-start').click();
  // Training clears the message and writes a new one when it ends, however it ends.
  await expect(page.getByTestId('finetune-message')).not.toHaveText(refusal);
  await expect(page.getByTestId('finetune-message')).toBeVisible({ timeout: 0 });
  await expect(page.getByTestId('finetune-message')).toContainText(
    'Trained 4 steps on 1 example in',
  );
  await expect(page.getByTestId('loss-chart').locator('canvas')).toBeVisible();
  await expect(page.getByTestId('finetune-progress')).toContainText('tokens/s');

  await page.getByLabel('Prompt').fill('The');
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByTestId('finetune-compare')).toContainText('With adapter-1');
});
