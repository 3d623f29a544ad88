import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumArgs, findChromium } from '../../scripts/chromium.mjs';
import type { NewEpisode, RunPosition } from '../../src/engine/store';
import { openApp, type PageWithEngine, waitForEngine } from './helpers';

// Storage needs no GPU: these run once, in the project without WebGPU, each in a browser with a
// persistent profile of its own so that reloads and restarts keep what was stored.

let profileDir: string;
let context: BrowserContext | undefined;

async function launch(baseURL: string): Promise<BrowserContext> {
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: findChromium() ?? undefined,
    args: chromiumArgs({ webgpu: false }),
    headless: true,
    baseURL,
    acceptDownloads: true,
  });
  await context.addInitScript(defineEpisodeMaker);
  return context;
}

test.beforeEach(async () => {
  profileDir = await mkdtemp(join(tmpdir(), 'seal-persistence-'));
});

test.afterEach(async () => {
  await context?.close();
  context = undefined;
  await rm(profileDir, { recursive: true, force: true });
});

type MakeEpisode = (runId: string, index: number) => { episode: NewEpisode; next: RunPosition };
type TestWindow = PageWithEngine & { makeEpisode: MakeEpisode };

/**
 * Defines, in every page, the episode for position `index` of a plan of four samples per passage
 * in one round (an init script, so it survives reloads; the app's CSP forbids eval).
 */
function defineEpisodeMaker() {
  (window as unknown as TestWindow).makeEpisode = (runId, index) => ({
    episode: {
      runId,
      round: 0,
      contextIndex: Math.floor(index / 4),
      sampleIndex: index % 4,
      contextId: `passage-${Math.floor(index / 4)}`,
      prompt: 'Passage. Implications:',
      selfEdit: `self-edit number ${index}`,
      parsedExamples: [`example ${index}`],
      lossCurve: [2, 1],
      answers: ['an answer'],
      grades: [index % 2],
      reward: index / 1000,
      seeds: { sample: index },
      timings: { trainMs: 1 },
      adapterId: null,
    },
    next: { round: 0, contextIndex: Math.floor((index + 1) / 4), sampleIndex: (index + 1) % 4 },
  });
}

async function openHistory(page: Page) {
  await page.getByRole('tab', { name: 'History' }).click();
  await expect(page.getByRole('heading', { name: 'Storage' })).toBeVisible();
}

test('a reload in the middle of a run resumes it with no episode lost or repeated @no-webgpu', async ({
  baseURL,
}) => {
  const AFTER_RESUME = 100;
  const page = await (await launch(baseURL!)).newPage();
  await openApp(page);
  await page.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    await store.createRun({
      id: 'reload-run',
      kind: 'seal',
      config: { samples: 4 },
      seeds: { run: 1234 },
      datasetIds: [],
    });
    // The "loop" writes for as long as the page lives; the test reloads the page under it.
    void (async () => {
      for (let i = 0; ; i++) {
        const { episode, next } = make('reload-run', i);
        await store.appendEpisode(episode, next);
      }
    })();
  });
  await expect
    .poll(() =>
      page.evaluate(
        async () =>
          (await (window as unknown as PageWithEngine).seal.engine.store.getRun('reload-run'))!
            .episodeCount,
      ),
    )
    .toBeGreaterThan(20);
  await page.reload();
  await waitForEngine(page);

  const outcome = await page.evaluate(async (afterResume) => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    const statusAtReload = (await store.getRun('reload-run'))!.status;
    // Taking the run's lock also means the old page's writer is gone: nothing changes after.
    const resumed = await store.resumeRun('reload-run');
    const storedAtReload = await store.listEpisodes('reload-run');
    const resumeIndex = resumed.progress.contextIndex * 4 + resumed.progress.sampleIndex;
    for (let i = resumeIndex; i < resumeIndex + afterResume; i++) {
      const { episode, next } = make('reload-run', i);
      await store.appendEpisode(episode, next);
    }
    await store.stopRun('reload-run', 'done');
    const episodes = await store.listEpisodes('reload-run');
    return {
      statusAtReload,
      countAtReload: resumed.episodeCount,
      storedAtReload: storedAtReload.length,
      resumeIndex,
      seeds: resumed.seeds,
      finalCount: (await store.getRun('reload-run'))!.episodeCount,
      selfEdits: episodes.map((e) => e.selfEdit),
    };
  }, AFTER_RESUME);
  test.info().annotations.push({
    type: 'reloaded after',
    description: `${outcome.countAtReload} episodes`,
  });
  const total = outcome.countAtReload + AFTER_RESUME;
  expect(outcome.statusAtReload).toBe('running');
  expect(outcome.countAtReload).toBeGreaterThan(20);
  expect(outcome.storedAtReload).toBe(outcome.countAtReload);
  expect(outcome.resumeIndex).toBe(outcome.countAtReload);
  expect(outcome.seeds).toEqual({ run: 1234 });
  expect(outcome.finalCount).toBe(total);
  expect(outcome.selfEdits).toEqual(
    Array.from({ length: total }, (_, i) => `self-edit number ${i}`),
  );

  await openHistory(page);
  const row = page.locator('[data-run-id="reload-run"]');
  await expect(row.getByTestId('run-episodes')).toHaveText(String(total));
  await expect(row).toContainText('done');
});

test('closing the page during a large checkpoint write leaves it absent or complete @no-webgpu', async ({
  baseURL,
}) => {
  const TENSORS = 8;
  const VALUES = 2 * 1024 * 1024; // 8 MiB per tensor, 64 MiB in all
  const expectedSums = Array.from({ length: TENSORS }, (_, t) => (t + 1) * VALUES);
  const saveLarge = (page: Page, id: string) =>
    page.evaluate(
      ({ id, tensors, values }) =>
        (window as unknown as PageWithEngine).seal.engine.store.saveCheckpoint({
          id,
          kind: 'full',
          config: {},
          tensors: Array.from({ length: tensors }, (_, t) => ({
            name: `layer.${t}.weight`,
            shape: [values],
            data: new Float32Array(values).fill(t + 1),
          })),
        }),
      { id, tensors: TENSORS, values: VALUES },
    );

  let browser = await launch(baseURL!);
  let page = await browser.newPage();
  await openApp(page);
  // The first, complete save also tells how long one takes; the second is cut short in its
  // last stretch, when the tensors are being written.
  const started = Date.now();
  await saveLarge(page, 'kept');
  const saveMs = Date.now() - started;
  void saveLarge(page, 'cut').catch(() => undefined);
  await page.waitForTimeout(saveMs * 0.7);
  await page.close();
  await browser.close();

  browser = await launch(baseURL!);
  page = await browser.newPage();
  await openApp(page);
  const state = await page.evaluate(async () => {
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    const ids = (await store.listCheckpoints()).map((c) => c.id).sort();
    const sums = async (id: string) =>
      (await store.loadCheckpoint(id)).tensors.map((t) => t.data.reduce((sum, x) => sum + x, 0));
    // Tensor records of a checkpoint whose manifest is missing would be a partial write.
    const orphans = await new Promise<number>((resolve, reject) => {
      const open = indexedDB.open('seal-playground');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const keys = open.result
          .transaction('tensors')
          .objectStore('tensors')
          .getAllKeys(IDBKeyRange.bound(['cut'], ['cut', []]));
        keys.onsuccess = () => {
          open.result.close();
          resolve(keys.result.length);
        };
      };
    });
    return {
      ids,
      kept: await sums('kept'),
      cut: ids.includes('cut') ? await sums('cut') : null,
      orphans,
    };
  });
  test.info().annotations.push({
    type: 'checkpoint after the kill',
    description: `${state.cut ? 'complete' : 'absent'} (killed ${Math.round(saveMs * 0.7)} ms into a ${saveMs} ms save)`,
  });
  expect(state.kept).toEqual(expectedSums);
  if (state.cut) {
    expect(state.ids).toEqual(['cut', 'kept']);
    expect(state.cut).toEqual(expectedSums);
    expect(state.orphans).toBe(TENSORS);
  } else {
    expect(state.ids).toEqual(['kept']);
    expect(state.orphans).toBe(0);
  }
});

test('a second tab sees a run being written elsewhere and can only view it @no-webgpu', async ({
  baseURL,
}) => {
  const browser = await launch(baseURL!);
  const writer = await browser.newPage();
  await openApp(writer);
  await writer.evaluate(async () => {
    await (window as unknown as PageWithEngine).seal.engine.store.createRun({
      id: 'shared-run',
      kind: 'seal',
      config: {},
      seeds: { run: 5 },
      datasetIds: [],
    });
  });

  const viewer = await browser.newPage();
  await openApp(viewer);
  await openHistory(viewer);
  const row = viewer.locator('[data-run-id="shared-run"]');
  await expect(row).toContainText('running in another tab (view only)');
  await expect(row.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  const refused = await viewer.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    const errors: string[] = [];
    const { episode, next } = make('shared-run', 0);
    for (const attempt of [
      () => store.appendEpisode(episode, next),
      () => store.resumeRun('shared-run'),
    ]) {
      try {
        await attempt();
        errors.push('accepted');
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    return errors;
  });
  expect(refused[0]).toMatch(/not open for writing in this tab/);
  expect(refused[1]).toMatch(
    /being written by another tab of this app; it can only be viewed here/,
  );

  // The writer's progress shows up in the viewer as it happens.
  await writer.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    for (let i = 0; i < 3; i++) {
      const { episode, next } = make('shared-run', i);
      await store.appendEpisode(episode, next);
    }
  });
  await expect(row.getByTestId('run-episodes')).toHaveText('3');
  await row.getByRole('button', { name: 'Episodes' }).click();
  await expect(viewer.getByTestId('episodes')).toContainText('self-edit number 2');

  await writer.evaluate(() =>
    (window as unknown as PageWithEngine).seal.engine.store.stopRun('shared-run', 'paused'),
  );
  await expect(row).toContainText('paused');
  const resumed = await viewer.evaluate(
    async () =>
      (await (window as unknown as PageWithEngine).seal.engine.store.resumeRun('shared-run'))
        .status,
  );
  expect(resumed).toBe('running');
});

test('a full disk pauses the run with a clear message and damages nothing @no-webgpu', async ({
  baseURL,
}) => {
  const browser = await launch(baseURL!);
  const page = await browser.newPage();
  // Chromium itself enforces a small quota (set before the store opens its database).
  const cdp = await browser.newCDPSession(page);
  const origin = new URL(baseURL!).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 2 * 1024 * 1024 });
  await openApp(page);
  await page.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    await store.createRun({
      id: 'full-run',
      kind: 'seal',
      config: {},
      seeds: { run: 3 },
      datasetIds: [],
    });
    for (let i = 0; i < 3; i++) {
      const { episode, next } = make('full-run', i);
      await store.appendEpisode(episode, next);
    }
  });

  const failure = await page.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    const { episode, next } = make('full-run', 3);
    // Text the browser cannot compress away (it compresses large values): seeded noise.
    let state = 12345;
    const noise = (length: number) =>
      Array.from({ length }, () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return String.fromCharCode(0x4e00 + (state % 20000));
      }).join('');
    try {
      // About 4 MB: far more than the room left.
      await store.appendEpisode(
        { ...episode, selfEdit: noise(999_000), parsedExamples: [noise(999_000)] },
        next,
      );
      return 'stored';
    } catch (error) {
      return (error as Error).message;
    }
  });
  expect(failure).toMatch(/^Browser storage is full: .* nothing stored was changed/);

  await openHistory(page);
  const row = page.locator('[data-run-id="full-run"]');
  await expect(row).toContainText('paused');
  await expect(row).toContainText('Browser storage is full');
  await expect(row.getByTestId('run-episodes')).toHaveText('3');

  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  const after = await page.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    const before = (await store.listEpisodes('full-run')).map((e) => e.selfEdit);
    await store.resumeRun('full-run');
    const { episode, next } = make('full-run', 3);
    await store.appendEpisode(episode, next);
    return { before, count: (await store.getRun('full-run'))!.episodeCount };
  });
  expect(after.before).toEqual(['self-edit number 0', 'self-edit number 1', 'self-edit number 2']);
  expect(after.count).toBe(4);
});

test('the History panel exports, deletes (after confirming) and imports runs, imports passages and shows storage @no-webgpu', async ({
  baseURL,
}) => {
  const browser = await launch(baseURL!);
  const page = await browser.newPage();
  await openApp(page);
  await page.evaluate(async () => {
    const make = (window as unknown as TestWindow).makeEpisode;
    const { store } = (window as unknown as PageWithEngine).seal.engine;
    await store.createRun({
      id: 'exported-run',
      kind: 'seal',
      config: {},
      seeds: { run: 8 },
      datasetIds: [],
    });
    for (let i = 0; i < 5; i++) {
      const { episode, next } = make('exported-run', i);
      await store.appendEpisode(episode, next);
    }
    await store.stopRun('exported-run', 'done');
  });
  await openHistory(page);
  const row = page.locator('[data-run-id="exported-run"]');

  const downloading = page.waitForEvent('download');
  await row.getByRole('button', { name: 'Export' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('exported-run.zip');
  const archive = await readFile((await download.path())!);

  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Keep' }).click();
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(row).toHaveCount(0);

  const input = page.getByLabel('Import a run (.zip)');
  await input.setInputFiles({
    name: 'broken.zip',
    mimeType: 'application/zip',
    buffer: Buffer.from('not a zip'),
  });
  await expect(page.getByTestId('history-message')).toContainText('Not a readable zip file');
  await input.setInputFiles({
    name: 'exported-run.zip',
    mimeType: 'application/zip',
    buffer: archive,
  });
  await expect(page.getByTestId('history-message')).toContainText('with 5 episodes');
  await expect(row.getByTestId('run-episodes')).toHaveText('5');

  await page.getByLabel('Import passages (SEAL / SQuAD JSON or JSONL)').setInputFiles({
    name: 'passages.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(
      [
        {
          title: 'Nile',
          context: 'The Nile flows north.',
          questions: [{ question: 'Which way?', answer: 'north' }],
        },
        {
          title: 'Alps',
          context: 'The Alps are in Europe.',
          questions: [{ question: 'Where?', answer: 'Europe' }],
        },
      ]
        .map((item) => JSON.stringify(item))
        .join('\n'),
    ),
  });
  await expect(page.getByTestId('history-message')).toHaveText(
    'Imported passages: 2 passages, 2 questions.',
  );
  await expect(page.getByTestId('datasets')).toContainText('jsonl');

  await expect(page.getByTestId('storage-meter')).toContainText('used of');
  await expect(page.getByTestId('storage-meter')).toContainText('left');
  await page.getByRole('button', { name: 'Persist storage' }).click();
  await expect(page.getByTestId('history-message')).toContainText('The browser');
});
