import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { JobRegistry } from '../../src/engine/jobs';
import { createModelSession } from '../../src/engine/model/session';
import { createTable1Service, type Table1Event } from '../../src/engine/puzzles/experiment/service';
import { tinyPuzzleModel } from '../../src/engine/puzzles/tinyModel';
import { freshStore } from './storeHelpers';

beforeAll(async () => {
  await selectBackend('wasm');
});

const TINY = (
  JSON.parse(readFileSync('experiments/table1-tiny.json', 'utf8')) as { table1: unknown }
).table1;

describe('engine.table1', () => {
  it('runs Table 1 as the model job, pauses it, resumes it to the end and reports the table', async () => {
    const store = freshStore();
    const session = createModelSession();
    const jobs = new JobRegistry();
    const table1 = createTable1Service(store, jobs, { activeBackend: () => 'wasm', session });
    await expect(table1.runTable1('no-model', { config: TINY })).rejects.toThrow(
      /no model is loaded/,
    );
    session.replace(tinyPuzzleModel(3));
    expect((await table1.defaults()).config.testTimeTraining.attempts).toBe(2);

    const events: Table1Event[] = [];
    let busy: unknown = null;
    const paused = await table1.runTable1('first', { config: TINY, name: 'tiny' }, (event) => {
      events.push(event);
      if (event.type === 'episode' && events.filter((e) => e.type === 'episode').length === 2) {
        busy = jobs.currentModelJob;
        void table1.stopRun('first', 'paused');
      }
    });
    expect(busy).toEqual({ id: 'first', label: 'a Table 1 run' });
    expect(paused.status).toBe('paused');
    expect(paused.episodeCount).toBe(2);
    expect(events[0]).toMatchObject({ type: 'run', totalSteps: 8 });
    const partial = await table1.results(paused.id);
    expect(Object.keys(partial.table1)).toContain('oracle');
    expect(partial.table1.seal).toBeUndefined();

    // A step stores exactly one more episode and pauses again.
    const stepped = await table1.resumeTable1('step', paused.id, undefined, {
      pauseAfterEpisodes: 1,
    });
    expect(stepped).toMatchObject({ id: paused.id, status: 'paused', episodeCount: 3 });

    const done = await table1.resumeTable1('second', paused.id);
    expect(done.status).toBe('done');
    expect(done.episodeCount).toBe(8);
    const results = await table1.results(done.id);
    expect(results.totalSteps).toBe(8);
    expect(results.rounds).toEqual([expect.objectContaining({ round: 0, recipes: 2 })]);
    expect(partial.rowTasks).toEqual({ icl: 1, oracle: 1 });
    expect(results.rowTasks).toEqual({
      icl: 1,
      oracle: 1,
      ttt_untrained: 1,
      seal_round_1: 1,
      seal: 1,
    });
    for (const row of ['icl', 'oracle', 'ttt_untrained', 'seal', 'seal_minus_ttt_untrained']) {
      expect(results.table1[row]).toBeGreaterThanOrEqual(results.table1[`${row}_ci_low`]!);
    }
    await expect(table1.resumeTable1('third', done.id)).rejects.toThrow(
      /done; it cannot be resumed/,
    );

    // A new run stepped once: one episode stored, paused; a step must be a whole number ≥ 1.
    const first = await table1.runTable1('fourth', { config: TINY, pauseAfterEpisodes: 1 });
    expect(first).toMatchObject({ status: 'paused', episodeCount: 1 });
    await expect(
      table1.runTable1('fifth', { config: TINY, pauseAfterEpisodes: 0 }),
    ).rejects.toThrow(/whole number ≥ 1, got 0/);
    session.replace(null);
    await store.close();
  });
});
