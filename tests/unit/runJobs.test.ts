import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { JobRegistry } from '../../src/engine/jobs';
import { inProcessExecutor } from '../../src/engine/pool/executor';
import { createRunJobs } from '../../src/engine/runJobs';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { startSealRun, type SealEvent } from '../../src/engine/seal/restem';
import { tinySealModel } from '../../src/engine/seal/tinyModel';
import { freshStore } from './storeHelpers';
import { TINY_SEAL_CONFIG } from './tinySealConfig';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('a run job that pauses after a number of episodes', () => {
  it('stores exactly that many, even when the episodes after them are evaluated already', async () => {
    const model = tinySealModel(3, 1);
    const store = freshStore();
    const jobs = new JobRegistry();
    const runJobs = createRunJobs(store, jobs);
    const episodes: SealEvent[] = [];
    // Two tasks at a time, each run to its end whatever the job asks: the steps of a window are
    // evaluated together, and those after the first are ready when the job pauses.
    const run = await runJobs.runJob<SealEvent>(
      'step',
      'a SEAL run',
      (event) => {
        if (event.type === 'episode') episodes.push(event);
      },
      (job) =>
        startSealRun(
          {
            model,
            contexts: worldSealContexts(1),
            records: store,
            ...job,
            createExecutor: async (m) => ({ ...inProcessExecutor(m), parallelism: 2 }),
          },
          { config: TINY_SEAL_CONFIG, contextsSource: { world: 1 } },
        ),
      { pauseAfterEpisodes: 1 },
    );
    expect(run.status).toBe('paused');
    expect(run.episodeCount).toBe(1);
    expect(episodes).toHaveLength(1);
    expect(await store.listEpisodes(run.id)).toHaveLength(1);
    expect(jobs.currentModelJob).toBeNull();
    tf.dispose([...model.weights.values()]);
    await store.close();
  });
});
