import { expect, test, type Page } from '@playwright/test';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { walkthroughPassage } from '../../src/engine/seal/walkthrough';
import { checkSelfEditLine, generateWorld } from '../../src/engine/world';
import { openApp, type PageWithEngine } from './helpers';

const VERDICT_OF_MARK = { '✓': 'consistent', '✗': 'contradicts', '?': 'unverifiable' } as const;

function stepHeading(page: Page) {
  return page.getByTestId('walkthrough-step').getByRole('heading', { level: 3 });
}

/** The self-edit's lines as shown: each line's text and the verdict its mark stands for. */
function shownLines(page: Page) {
  return page
    .getByTestId('walkthrough-self-edit')
    .locator('li')
    .evaluateAll((items) =>
      items.map((item) => {
        const mark = item.querySelector('.mark')!;
        const symbol = mark.firstChild!.textContent!.trim();
        return { symbol, text: item.textContent!.replace(mark.textContent!, '').trim() };
      }),
    );
}

test('the walkthrough runs one episode end to end on wasm with real values, keeps each step when going back, and finishes', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await openApp(page, '?backend=wasm&tab=start', { defaultModel: true });
  await expect(page.getByTestId('walkthrough-model')).toHaveText('seal-world-1m', {
    timeout: 120_000,
  });
  await page.getByLabel(/Quick look/).check();

  // Step 1: the passage the seed picks, a validation context and no evaluation one.
  const validation = worldSealContexts(1, 'validation');
  const passage = walkthroughPassage(validation, { seed: 1, worldSeed: 1 });
  expect(worldSealContexts(1).heldOut.map((p) => p.id)).not.toContain(passage.id);
  await expect(stepHeading(page)).toHaveText('Step 1 of 6: Read a passage');
  await expect(page.getByTestId('walkthrough-passage')).toContainText(passage.context);
  await expect(page.getByTestId('walkthrough-step')).toContainText(
    `validation context ${passage.index + 1} of ${passage.count}`,
  );

  // Step 2: the self-edit, each line marked as the world's fact checker marks it.
  await page.getByRole('button', { name: 'Next →' }).click();
  await expect(stepHeading(page)).toHaveText('Step 2 of 6: Write a self-edit');
  await expect(page.getByTestId('walkthrough-fact-counts')).toBeVisible();
  await expect(page.getByRole('list', { name: 'Legend' })).toContainText('unverifiable');
  const lines = await shownLines(page);
  expect(lines.length).toBeGreaterThan(0);
  const world = generateWorld(1);
  for (const line of lines) {
    expect(VERDICT_OF_MARK[line.symbol as keyof typeof VERDICT_OF_MARK], line.text).toBe(
      checkSelfEditLine(world, passage.id, line.text),
    );
  }

  // Step 3: the fine-tune, its loss drawn.
  await page.getByRole('button', { name: 'Next →' }).click();
  await expect(stepHeading(page)).toHaveText('Step 3 of 6: Fine-tune');
  await expect(page.getByTestId('loss-chart')).toBeVisible();
  const trained = page.getByTestId('walkthrough-finetune-status');
  await expect(trained).toHaveText(
    /^Trained \d+ steps on \d+ examples in\s+[\d.]+ s: loss [\d.]+ → [\d.]+\.$/,
  );
  const trainedText = await trained.textContent();

  // Back shows the earlier step as it was; Next shows this one again without computing it.
  await page.getByRole('button', { name: '← Back' }).click();
  await expect(stepHeading(page)).toHaveText('Step 2 of 6: Write a self-edit');
  expect(await shownLines(page)).toEqual(lines);
  await page.getByRole('button', { name: 'Next →' }).click();
  await expect(trained).toHaveText(trainedText!);
  await expect(page.getByRole('button', { name: 'Cancel' })).toHaveCount(0);
  expect(
    await page.evaluate(() => (window as unknown as PageWithEngine).seal.engine.modelJob()),
  ).toBeNull();

  // Play goes through the rest to the last step.
  await page.getByRole('button', { name: '▶ Play' }).click();
  await expect(page.getByTestId('walkthrough-finished')).toBeVisible();
  await expect(stepHeading(page)).toHaveText('Step 6 of 6: Learn to self-edit');
  await expect(page.getByRole('link', { name: /SEAL paper/ })).toHaveAttribute(
    'href',
    'https://arxiv.org/abs/2506.10943',
  );
  const card = page.getByRole('link', { name: /model's card/ });
  expect((await page.request.get((await card.getAttribute('href'))!)).ok()).toBe(true);

  // Step 4, opened again: three questions, each answer before and after with p(gold).
  const steps = page.getByRole('navigation', { name: 'Walkthrough steps' });
  await steps.getByRole('button', { name: '4. Answer closed book' }).click();
  const answers = page.getByTestId('walkthrough-answers').locator(':scope > li');
  await expect(answers).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    const text = (await answers.nth(i).textContent())!;
    expect(text).toContain(passage.questions[i]!.question);
    expect(text).toContain(`gold: ${passage.questions[i]!.answer}`);
    expect(text.match(/p\(gold\) = [\d.e+-]+ %/g)).toHaveLength(2);
  }
  await expect(page.getByTestId('walkthrough-accuracy')).toHaveText(
    /Right before the update: \d of 3; after:\s+\d of 3\./,
  );

  // Step 5: the reward is the gain in the gold answers' mean log-probability it names.
  await steps.getByRole('button', { name: '5. Reward' }).click();
  const reward = Number(
    (await page.getByTestId('walkthrough-reward').textContent())!
      .match(/Reward:\s+([+−][\d.]+)/)![1]!
      .replace('−', '-'),
  );
  const [before, after] = (await page.getByTestId('walkthrough-step').textContent())!
    .match(/was\s+(-?[\d.]+)\s+nats before the update and\s+(-?[\d.]+)\s+after/)!
    .slice(1)
    .map(Number) as [number, number];
  expect(Math.abs(reward - (after - before))).toBeLessThanOrEqual(0.0015);
});
