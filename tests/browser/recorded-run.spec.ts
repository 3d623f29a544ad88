import { expect, test, type Page } from '@playwright/test';
import { openApp, type PageWithEngine } from './helpers';

/** The recorded run shipped under public/recorded/, as the app fetches it. */
const RECORDED_FILE = '**/recorded/table2.json.gz';

function storedRunCount(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    return (await engine.store.listRuns()).length;
  });
}

/**
 * The shipped recorded run opens from Start here in the SEAL panel's run view with no model at
 * all: the label with its settings, commit and rounds, the round chart, every context's K
 * self-edits with their rewards, and the held-out table; it stays out of the store and has no
 * run controls of its own; its address opens it again.
 */
test('the recorded run opens from Start here with no model loaded @no-webgpu', async ({ page }) => {
  await openApp(page, '?backend=wasm&tab=start');
  await page.getByRole('button', { name: 'Explore a finished run' }).click();

  await expect(page.getByRole('tab', { name: 'SEAL' })).toHaveAttribute('aria-selected', 'true');
  const label = page.getByTestId('recorded-run-label');
  await expect(label).toContainText('Recorded run: Table 2 experiment');
  await expect(label).toContainText(/shows rounds 0, 1, 2, 3, 4 of 4, from the finished run/);
  await expect(label).toContainText(
    /model models\/seal-world-1m, world 1's passages, 5 self-edits/,
  );
  await expect(label).toContainText(/at commit [0-9a-f]{12}/);
  await expect(label).not.toContainText('Not shown');
  await expect(page.getByTestId('seal-model')).toHaveText('none loaded');

  await expect(page.getByTestId('seal-round-chart')).toBeVisible();
  const table = page.getByTestId('seal-table2');
  await expect(table).toContainText('Base model');
  await expect(table.getByRole('row', { name: /Base model/ })).toContainText(/\d+(\.\d)?%/);
  // A header, then rounds 0 to 4.
  await expect(page.getByTestId('seal-rounds').getByRole('row')).toHaveCount(6);

  // Every context of the round, a page at a time, each with its K = 5 self-edits and rewards.
  const cards = page.getByTestId('seal-context-card');
  await expect(page.getByTestId('seal-card-page')).toHaveText('contexts 1–12 of 50');
  await expect(cards).toHaveCount(12);
  // The last round with self-edits (round 4 only evaluates) comes first.
  await expect(cards.first()).toContainText('round 3 (after 3 M-steps)');
  const samples = cards.first().getByTestId('seal-sample-numbers');
  await expect(samples).toHaveCount(5);
  for (const sample of await samples.all()) await expect(sample).toContainText(/reward \S+/);
  const firstTitle = await cards.first().locator('h4').textContent();
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('seal-card-page')).toHaveText('contexts 13–24 of 50');
  await expect(cards.first().locator('h4')).not.toHaveText(firstTitle!);
  await expect(cards.first().getByTestId('seal-sample-numbers')).toHaveCount(5);

  // Read-only and in this tab only: nothing to download or resume, nothing written to the store.
  await expect(page.getByRole('button', { name: /for the official code/ })).toHaveCount(0);
  await expect(page.getByTestId('seal-resumable')).toHaveCount(0);
  expect(await storedRunCount(page)).toBe(0);

  await expect(page).toHaveURL(/[?&]run=recorded(&|$)/);
  await page.reload();
  await expect(page.getByTestId('recorded-run-label')).toContainText('Table 2 experiment');
  await expect(page.getByTestId('seal-context-card').first()).toBeVisible();
});

test.describe(() => {
  // The service worker would answer from its precache, where the page's routes do not reach.
  test.use({ serviceWorkers: 'block' });

  test('a recorded run that cannot be fetched or read says why @no-webgpu', async ({ page }) => {
    await page.route(RECORDED_FILE, (route) => route.fulfill({ status: 404, body: 'not found' }));
    await openApp(page, '?backend=wasm&tab=seal&run=recorded');
    await expect(page.getByTestId('seal-message')).toHaveText(
      /The recorded run could not be read from \/recorded\/table2\.json\.gz: the server answered 404/,
    );
    await expect(page.getByTestId('recorded-run-label')).toHaveCount(0);

    await page.unroute(RECORDED_FILE);
    await page.route(RECORDED_FILE, (route) =>
      route.fulfill({ status: 200, body: JSON.stringify({ format: 'seal-playground-run' }) }),
    );
    await openApp(page, '?backend=wasm&tab=seal&run=recorded');
    await expect(page.getByTestId('seal-message')).toHaveText(
      /recorded run: not a recorded-run file \(format "seal-playground-run"/,
    );
    await expect(page.getByTestId('recorded-run-label')).toHaveCount(0);
  });
});
