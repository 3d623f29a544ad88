import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { JobRegistry } from '../../src/engine/jobs';
import { createModelSession } from '../../src/engine/model/session';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { squadJson } from '../../src/engine/seal/experiments';
import { spawnNodePoolWorker } from '../../src/engine/pool/node';
import { createSealService, type SealEvent } from '../../src/engine/seal/service';
import type { SealStore } from '../../src/engine/store';
import { freshStore } from './storeHelpers';
import { TINY_SEAL_CONFIG } from './tinySealConfig';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('engine.seal', () => {
  it('pauses a run, resumes it to the end, then reports Table 2 and the official-code files', async () => {
    const store = freshStore();
    const session = createModelSession();
    const seal = createSealService(store, new JobRegistry(), {
      activeBackend: () => 'wasm',
      session,
    });
    await expect(
      seal.startRun('no-model', { config: TINY_SEAL_CONFIG, worldSeed: 1 }),
    ).rejects.toThrow(/no model is loaded/);
    expect(await seal.loadTinyModel(3, 1)).toBe('tiny-seal-3-world-1');

    const phases: string[] = [];
    const onEvent = (event: SealEvent) => {
      if (event.type === 'phase') phases.push(event.phase);
      if (event.type === 'episode' && event.episode.sampleIndex === 1) {
        void seal.stopRun('first', 'paused');
      }
    };
    const paused = await seal.startRun(
      'first',
      { config: TINY_SEAL_CONFIG, worldSeed: 1, name: 'tiny' },
      onEvent,
    );
    expect(paused.status).toBe('paused');
    expect(paused.episodeCount).toBe(2);
    expect(phases.slice(0, 5)).toEqual(['read', 'answer', 'reward', 'read', 'finetune']);
    expect(await seal.stopRun('first', 'cancelled')).toBe(false);
    // Stopped inside round 0's held-out evaluation (base, passage, self-edit of one passage).
    const pausedResults = await seal.results(paused.id);
    expect(pausedResults.totalSteps).toBe(8);
    expect(pausedResults.contexts).toEqual({ world: 1 });
    expect(pausedResults.unfinishedHeldOut).toEqual([{ round: 0, evaluated: 0, passages: 1 }]);

    const done = await seal.resumeRun('second', paused.id);
    expect(done.status).toBe('done');
    expect(done.episodeCount).toBe(8);
    const results = await seal.results(done.id);
    for (const row of ['base', 'passage', 'base_self_edits', 'seal_final', 'seal_round_1']) {
      expect(results.table2[row]).toBeGreaterThanOrEqual(results.table2[`${row}_ci_low`]!);
    }
    expect(results.rounds.map((r) => r.round)).toEqual([0, 1]);
    expect(results.unfinishedHeldOut).toEqual([]);
    const selfEdits = await seal.selfEdits(done.id);
    expect(selfEdits.map((e) => [e.round, e.sampleIndex])).toEqual([
      [0, 0],
      [0, 1],
      [0, 0],
      [0, 1],
    ]);
    for (const edit of selfEdits) expect(edit.passage).toContain(edit.title);
    const files = await seal.exportFiles(done.id);
    expect(JSON.parse(files['contexts-held-out.json'])).toHaveLength(1);
    expect(files['m-step.jsonl'].trim().split('\n')).toHaveLength(2);

    // A cancelled run is over for good.
    const cancelOnFirst = (event: SealEvent) => {
      if (event.type === 'episode') void seal.stopRun('third', 'cancelled');
    };
    const cancelled = await seal.startRun(
      'third',
      { config: TINY_SEAL_CONFIG, worldSeed: 1 },
      cancelOnFirst,
    );
    expect(cancelled.status).toBe('cancelled');
    await expect(seal.resumeRun('fourth', cancelled.id)).rejects.toThrow(
      /cancelled; it cannot be resumed/,
    );
    const rows: number[][] = [];
    const forgetting = await seal.runForgetting(
      'forgetting',
      { config: TINY_SEAL_CONFIG, worldSeed: 1, passages: 2 },
      (_, row) => rows.push(row),
    );
    expect(forgetting.titles).toHaveLength(2);
    expect(forgetting.accuracy).toEqual(rows);
    await expect(
      seal.runForgetting('bad', { config: TINY_SEAL_CONFIG, worldSeed: 1, passages: 0 }),
    ).rejects.toThrow(/number of passages must be a positive whole number/);
    session.replace(null);
    await store.close();
  });

  it('runs on a stored passage dataset: its first half trained on, its second half held out', async () => {
    const store = freshStore();
    const session = createModelSession();
    const seal = createSealService(store, new JobRegistry(), {
      activeBackend: () => 'wasm',
      session,
    });
    await seal.loadTinyModel(3, 1);
    const passages = worldSealContexts(1).heldOut.slice(0, 4);
    const dataset = await store.importDataset('four.json', squadJson(passages));
    await expect(
      seal.startRun('both', { config: TINY_SEAL_CONFIG, worldSeed: 1, datasetId: dataset.id }),
    ).rejects.toThrow(/either a world seed or a dataset id/);
    const run = await seal.startRun('dataset', {
      config: { ...TINY_SEAL_CONFIG, outer: { rounds: 1, contextsPerRound: 1 } },
      datasetId: dataset.id,
    });
    expect(run.status).toBe('done');
    expect(run.datasetIds).toEqual([dataset.id]);
    const files = await seal.exportFiles(run.id);
    expect(JSON.parse(files['contexts-train.json'])).toHaveLength(2);
    const heldOut = JSON.parse(files['contexts-held-out.json']) as { title: string }[];
    expect(heldOut.map((p) => p.title)).toEqual([passages[2]!.title]);
    session.replace(null);
    await store.close();
  });
});

describe('a run evaluated one step at a time, in one go', () => {
  const session = createModelSession();
  const serviceOn = (store: SealStore) =>
    createSealService(store, new JobRegistry(), {
      spawnPoolWorker: spawnNodePoolWorker,
      activeBackend: () => 'wasm',
      session,
    });
  const storedEpisodes = async (store: SealStore, runId: string) =>
    (await store.listEpisodes(runId)).map(
      ({ round, contextIndex, sampleIndex, selfEdit, grades, reward, lossCurve }) => ({
        round,
        contextIndex,
        sampleIndex,
        selfEdit,
        grades,
        reward,
        lossCurve,
      }),
    );
  let serial: Awaited<ReturnType<typeof storedEpisodes>>;

  beforeAll(async () => {
    await serviceOn(freshStore()).loadTinyModel(3, 1);
    const store = freshStore();
    const run = await serviceOn(store).startRun('serial', {
      config: TINY_SEAL_CONFIG,
      worldSeed: 1,
      workers: 1,
    });
    expect(run.status).toBe('done');
    serial = await storedEpisodes(store, run.id);
    expect(serial).toHaveLength(8);
    await store.close();
  });
  afterAll(() => session.replace(null));

  it('stores the same episodes on a pool of workers', async () => {
    const store = freshStore();
    const seal = serviceOn(store);
    const run = await seal.startRun('pooled', {
      config: TINY_SEAL_CONFIG,
      worldSeed: 1,
      workers: 2,
    });
    expect(run.status).toBe('done');
    expect(await storedEpisodes(store, run.id)).toEqual(serial);
    await expect(
      seal.startRun('bad', { config: TINY_SEAL_CONFIG, worldSeed: 1, workers: 0 }),
    ).rejects.toThrow(/Workers must be a whole number/);
    await store.close();
  });

  it('stores the same episodes stepped one episode at a time, each step adding exactly one', async () => {
    const store = freshStore();
    const seal = serviceOn(store);
    // Across the M-step too: the step after a round's last episode pauses in it or after it.
    const step = { workers: 1, pauseAfterEpisodes: 1 };
    let run = await seal.startRun('step-0', { config: TINY_SEAL_CONFIG, worldSeed: 1, ...step });
    const counts = [run.episodeCount];
    while (run.status === 'paused') {
      run = await seal.resumeRun(`step-${counts.length}`, run.id, undefined, step);
      counts.push(run.episodeCount);
    }
    expect(run.status).toBe('done');
    expect(counts).toEqual(serial.map((_, i) => i + 1));
    expect(await storedEpisodes(store, run.id)).toEqual(serial);
    await expect(
      seal.startRun('bad', { config: TINY_SEAL_CONFIG, worldSeed: 1, pauseAfterEpisodes: 0 }),
    ).rejects.toThrow('Episodes before a pause must be a whole number ≥ 1, got 0');
    await store.close();
  });
});

describe('world contexts', () => {
  it('hold out the eval split, or for validation the second half of the RL split', () => {
    const ids = (passages: { id: string }[]) => passages.map((p) => p.id);
    const reported = worldSealContexts(1);
    const validation = worldSealContexts(1, 'validation');
    expect(reported.train.length).toBeGreaterThanOrEqual(200);
    expect(ids(validation.train)).toEqual(ids(reported.train).slice(0, validation.train.length));
    expect([...ids(validation.train), ...ids(validation.heldOut)]).toEqual(ids(reported.train));
    const evalIds = new Set(ids(reported.heldOut));
    expect(ids(validation.heldOut).filter((id) => evalIds.has(id))).toEqual([]);
    expect(validation.heldOut.length).toBe(reported.train.length - validation.train.length);
  });
});
