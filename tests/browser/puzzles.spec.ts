import { expect, test } from '@playwright/test';
import { TRYOUT_SETTINGS } from '../../src/engine/puzzles/tryout';
import { openApp, type PageWithEngine } from './helpers';

const mirror = (grid: number[][]) => grid.map((row) => [...row].reverse());
const inputs = [
  [
    [1, 0, 0],
    [0, 2, 0],
  ],
  [
    [0, 3],
    [4, 0],
  ],
  [
    [5, 5, 0],
    [0, 0, 1],
  ],
  [
    [1, 2, 0],
    [0, 0, 3],
  ],
];
const mirrorTask = {
  train: inputs.slice(0, 3).map((input) => ({ input, output: mirror(input) })),
  test: [{ input: inputs[3]!, output: mirror(inputs[3]!) }],
};

test('browse a world task, import ARC files, answer in context and after test-time training', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await page.getByRole('tab', { name: 'Puzzles' }).click();

  // Browse: RL and validation tasks, the rule hidden until asked; held-out tasks on request.
  const taskSelect = page.getByRole('combobox', { name: 'Task', exact: true });
  await expect(taskSelect).toHaveValue('world:rl-0000');
  const task = page.getByTestId('puzzle-task');
  await expect(
    task.getByRole('table', { name: /^Demonstration 1, input: \d+ by \d+$/ }),
  ).toHaveCount(1);
  await expect(task.getByRole('table', { name: /^Test input/ })).toHaveCount(1);
  await expect(page.getByTestId('puzzle-rule')).toHaveCount(0);
  await page.getByRole('button', { name: 'Show rule' }).click();
  await expect(page.getByTestId('puzzle-rule')).toContainText('Rule: ');
  await expect(taskSelect.locator('optgroup[label="Evaluation tasks (held out)"]')).toHaveCount(0);
  await page.getByLabel('Show held-out evaluation tasks').check();
  await expect(taskSelect.locator('optgroup[label="Evaluation tasks (held out)"]')).toHaveCount(1);
  await taskSelect.selectOption('world:evaluation-0000');
  await expect(task.getByText('held out')).toBeVisible();

  // Import: a bad file is refused in words and stores nothing; a good one is listed and shown.
  const fileInput = page.getByLabel(/^Import ARC JSON/);
  const badTask = { ...mirrorTask, test: [{ input: [[12]], output: [[1]] }] };
  await fileInput.setInputFiles({
    name: 'bad.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(badTask)),
  });
  await expect(page.getByTestId('puzzle-import-message')).toHaveText(
    'bad.json: bad: test[0].input: cell (1, 1) is 12; a colour must be an integer 0–9. Nothing was stored.',
  );
  const stored = () =>
    page.evaluate(() => (window as unknown as PageWithEngine).seal.engine.puzzles.storedTasks());
  expect(await stored()).toEqual([]);

  await fileInput.setInputFiles({
    name: 'mirror.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(mirrorTask)),
  });
  await expect(page.getByTestId('puzzle-import-message')).toHaveText(
    'Imported 1 task from mirror.json.',
  );
  expect((await stored()).map((record) => record.task)).toEqual([mirrorTask]);
  await expect(task.getByRole('heading', { name: /^mirror/ })).toBeVisible();
  await expect(task.getByRole('table', { name: 'Test input: 2 by 3' })).toContainText('120003');

  // A puzzle model is needed: the tiny one replaces none here.
  await expect(page.getByTestId('puzzle-model-problem')).toContainText('a puzzle model is needed');
  await expect(page.getByTestId('puzzle-in-context')).toBeDisabled();
  await page.getByRole('button', { name: 'Use the tiny puzzle model' }).click();
  await expect(page.getByTestId('puzzle-model')).toHaveText('tiny-puzzle-3');
  await expect(page.getByTestId('puzzle-model-problem')).toHaveCount(0);

  // In context: eight ballots, a tally, two attempts against the truth and a verdict.
  await page.getByTestId('puzzle-in-context').click();
  const inContext = page.getByRole('region', { name: 'In context (no training)' });
  await expect(inContext.getByTestId('puzzle-verdict')).toHaveText(/^(✓ Solved|✗ Not solved)/);
  await expect(inContext.getByTestId('puzzle-ballots').getByRole('listitem')).toHaveCount(8);
  await expect(inContext.getByRole('table', { name: /^True output: 2 by 3/ })).toHaveCount(1);

  // Test-time training with a tiny recipe: its cost shown before it starts, then loss and vote.
  const recipe = page.getByTestId('recipe-form');
  await recipe.getByRole('checkbox', { name: /Basic/ }).uncheck();
  await recipe.getByRole('spinbutton', { name: 'Epochs' }).fill('1');
  await expect(page.getByTestId('recipe-cost')).toHaveText(
    /^\d+ training examples → \d+ optimizer steps of at most \d+\.$/,
  );
  const cost = (await page.getByTestId('recipe-cost').textContent())!;
  const [examples, steps] = cost.match(/\d+/g)!.map(Number) as [number, number];
  expect(steps).toBe(Math.ceil(examples / TRYOUT_SETTINGS.batchSize));
  await page.getByTestId('puzzle-ttt-start').click();
  const ttt = page.getByTestId('puzzle-ttt');
  await expect(ttt.getByTestId('loss-chart')).toBeVisible();
  await expect(ttt).toContainText(`${examples} examples, ${steps} optimizer steps`);
  const adapted = page.getByRole('region', { name: 'After test-time training' });
  await expect(adapted.getByTestId('puzzle-verdict')).toHaveText(/^(✓ Solved|✗ Not solved)/);
  await expect(adapted.getByTestId('puzzle-ballots').getByRole('listitem')).toHaveCount(8);
  await expect(adapted.getByTestId('puzzle-tally')).toHaveText(/Votes|No ballot held a grid/);

  // The panel's state outlives the tab; the imported task is deleted from the store.
  await page.getByRole('tab', { name: 'System' }).click();
  await page.getByRole('tab', { name: 'Puzzles' }).click();
  await expect(page.getByRole('region', { name: 'After test-time training' })).toBeVisible();
  await page.getByRole('button', { name: 'Delete imported task' }).click();
  await expect.poll(stored).toEqual([]);
});
