import { expect, test, type Page } from '@playwright/test';
import { CHANGE_CHANNEL_NAME } from '../../src/engine/store/coordination';
import {
  openApp,
  TINY_SEAL_CONFIG as TINY,
  type PageWithEngine,
  waitForEngine,
  useTinySealModel,
} from './helpers';

/** 2 contexts × 2 self-edits; no held-out evaluation. */
const EPISODES = 4;

async function runs(page: Page) {
  return page.evaluate(() => (window as unknown as PageWithEngine).seal.engine.store.listRuns());
}

test('a tiny SEAL run on WebGPU stores its episodes and resumes after a reload', async ({
  page,
}) => {
  // The run's size bounds the test; how long it takes depends on the machine.
  test.setTimeout(0);
  await openApp(page, '?backend=webgpu');
  await expect(page.getByTestId('active-backend')).toHaveText('webgpu');
  await useTinySealModel(page);

  // Started through the engine (the panel's settings default to a much larger run). The store
  // announces every committed episode on its change channel; a failed run rejects with its error.
  await page.evaluate(
    async ({ config, channelName }) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const changes = new BroadcastChannel(channelName);
      try {
        await new Promise<void>((resolve, reject) => {
          changes.onmessage = async () => {
            const [run] = await engine.store.listRuns();
            if ((run?.episodeCount ?? 0) >= 1) resolve();
          };
          engine.seal
            .startRun('seal-test', { config, worldSeed: 1, name: 'tiny' })
            .then(
              (run) =>
                reject(new Error(`the run ended as ${run.status} before it could be reloaded`)),
              reject,
            );
        });
      } finally {
        changes.close();
      }
    },
    { config: TINY, channelName: CHANGE_CHANNEL_NAME },
  );

  // A reload stops the Worker mid-run; the stored run says where to go on.
  await page.reload();
  await waitForEngine(page, 'webgpu');
  const [interrupted] = await runs(page);
  expect(interrupted!.status).toBe('running');
  expect(interrupted!.episodeCount).toBeGreaterThanOrEqual(1);
  expect(interrupted!.episodeCount).toBeLessThan(EPISODES);

  await useTinySealModel(page);
  await page.getByRole('button', { name: 'Resume' }).click();
  // The message appears when the run ends, however it ends: a failure shows its own text here.
  await expect(page.getByTestId('seal-message')).toBeVisible({ timeout: 0 });
  await expect(page.getByTestId('seal-message')).toHaveText('The run is done.');
  await expect(page.getByTestId('seal-context-card').first()).toContainText('reward');
  await page.screenshot({ path: 'test-output/seal-panel.png', fullPage: true });

  const [finished] = await runs(page);
  expect(finished!.status).toBe('done');
  expect(finished!.episodeCount).toBe(EPISODES);
  const episodes = await page.evaluate(
    (id) => (window as unknown as PageWithEngine).seal.engine.store.listEpisodes(id),
    finished!.id,
  );
  expect(episodes.map((e) => [e.round, e.contextIndex, e.sampleIndex])).toEqual([
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
    [0, 1, 1],
  ]);
  for (const episode of episodes) {
    expect(episode.answers).toHaveLength(episode.grades.length);
    expect(Number.isFinite(episode.reward)).toBe(true);
  }
  const checkpoints = await page.evaluate(
    (id) => (window as unknown as PageWithEngine).seal.engine.store.listCheckpoints(id),
    finished!.id,
  );
  expect(checkpoints.map((c) => c.round)).toEqual([0]);
});

test('on wasm, a pool of Web Workers stores the same episodes as one step at a time', async ({
  page,
}) => {
  test.setTimeout(0);
  await openApp(page, '?backend=wasm');
  await expect(page.getByTestId('active-backend')).toHaveText('wasm');
  await useTinySealModel(page);
  const episodesWith = (workers: number) =>
    page.evaluate(
      async ({ config, workers }) => {
        const { engine } = (window as unknown as PageWithEngine).seal;
        const run = await engine.seal.startRun(`pool-${workers}`, {
          config,
          worldSeed: 1,
          workers,
        });
        const episodes = await engine.store.listEpisodes(run.id);
        return {
          status: run.status,
          episodes: episodes.map(({ contextIndex, sampleIndex, selfEdit, grades, reward }) => ({
            contextIndex,
            sampleIndex,
            selfEdit,
            grades,
            reward,
          })),
        };
      },
      { config: { ...TINY, heldOut: { contexts: 1 } }, workers },
    );
  const serial = await episodesWith(1);
  expect(serial.status).toBe('done');
  const pooled = await episodesWith(2);
  expect(pooled.status).toBe('done');
  expect(pooled.episodes).toEqual(serial.episodes);
  expect(serial.episodes.length).toBeGreaterThan(EPISODES);
});
