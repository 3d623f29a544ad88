/**
 * The `table1` experiment of `npm run seal`: SEAL's few-shot puzzle experiment (the paper's Table
 * 1) in Node on wasm, its recipe evaluations on a pool of workers, its records written to a
 * folder: the run in the History panel's export format (run.zip), its episodes as JSONL, the
 * behaviour-cloning data of every round as prompt/completion JSONL, the held-out puzzles as ARC
 * task files and summary.json with Table 1's rows. With --resume a finished run is read back and
 * an interrupted one continues where it was last saved.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobRegistry } from '../src/engine/jobs';
import type { LoadedModel } from '../src/engine/model/session';
import { createWorkerPool } from '../src/engine/pool/executor';
import { spawnNodePoolWorker } from '../src/engine/pool/node';
import { arcTaskJson } from '../src/engine/puzzles/arc';
import { resolveTable1Config, type Table1Config } from '../src/engine/puzzles/experiment/config';
import { totalPuzzleSteps } from '../src/engine/puzzles/experiment/plan';
import { table1Goals, table1Metrics, table1Rounds } from '../src/engine/puzzles/experiment/results';
import {
  behaviourCloningData,
  resumeTable1Run,
  startTable1Run,
  type Table1Event,
  type Table1RunOptions,
} from '../src/engine/puzzles/experiment/run';
import { table1Tasks } from '../src/engine/puzzles/experiment/worldTasks';
import type { EpisodeRecord } from '../src/engine/store';
import { openRunFolder, readFinishedRun, type ProgressTick } from './runFolder';

export interface Table1Outcome {
  config: Table1Config;
  /** Table 1's rows and `wall_s`, the time spent on the run over all its sessions. */
  metrics: Record<string, number>;
}

/** summary.json: Table 1's rows, the RL rounds and the wall time; returns the rows with `wall_s`. */
function writeSummary(
  outDir: string,
  runId: string,
  modelId: string,
  config: Table1Config,
  episodes: readonly EpisodeRecord[],
  wallSeconds: number,
): Record<string, number> {
  const metrics = { ...table1Metrics(episodes), wall_s: wallSeconds };
  const summary = {
    run: runId,
    model: modelId,
    config,
    metrics,
    goals: table1Goals(metrics),
    rounds: table1Rounds(episodes),
    note: 'Sampled rows (ttt_untrained, seal, seal_round_<r>) are shares of sampled recipes; a recipe still invalid after its resamples, or over the step budget, counts as a failure. <row>_on_icl_solved and <row>_on_icl_unsolved: the same share on the tasks the model solves in context and on the others.',
    wallSeconds,
  };
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return metrics;
}

export async function runTable1(
  name: string,
  overrides: unknown,
  model: LoadedModel,
  outDir: string,
  { resume, workers }: { resume: boolean; workers: number },
  progress: (total: number, alreadyDone: number) => ProgressTick,
): Promise<Table1Outcome> {
  const config = resolveTable1Config(overrides);
  const finished = resume ? readFinishedRun(outDir, resolveTable1Config) : null;
  if (finished) {
    // A finished run: its table is computed again from its episodes by this version's code.
    const { runId, config: runConfig, episodes, wallSeconds } = finished;
    return {
      config: runConfig,
      metrics: writeSummary(outDir, runId, model.id, runConfig, episodes, wallSeconds),
    };
  }
  const tasks = table1Tasks(config);
  const folder = await openRunFolder(outDir, {
    storeName: 'table1-cli',
    resume,
    progress: (alreadyDone) => progress(totalPuzzleSteps(config, tasks), alreadyDone),
  });
  const { store, interrupted, tick } = folder;
  const onEvent = (event: Table1Event) => {
    if (event.type === 'episode') {
      const { round, contextId, sampleIndex, reward, puzzle } = event.episode;
      const condition = puzzle?.condition ?? 'rl';
      tick(
        `round ${round} ${condition} ${contextId} #${sampleIndex}: ${puzzle?.status}, reward ${reward}`,
      );
    }
    folder.noteEvent(event);
  };
  const createExecutor: Table1RunOptions['createExecutor'] = (generator, checkpoint) =>
    createWorkerPool(generator, { size: workers, spawn: spawnNodePoolWorker, checkpoint });
  const run = await new JobRegistry().run('table1', (checkpoint) => {
    const options: Table1RunOptions = {
      model,
      tasks,
      records: store,
      checkpoint,
      onEvent,
      createExecutor: workers > 1 ? createExecutor : undefined,
    };
    return interrupted
      ? resumeTable1Run(options, interrupted.id)
      : startTable1Run(options, { config: overrides, name });
  });
  const episodes = await folder.writeRun(run.id);
  writeFileSync(
    join(outDir, 'behaviour-cloning.jsonl'),
    behaviourCloningData(episodes)
      .map(({ prompt, selfEdit }) => `${JSON.stringify({ prompt, completion: selfEdit })}\n`)
      .join(''),
  );
  const heldOutDir = join(outDir, 'tasks-held-out');
  mkdirSync(heldOutDir, { recursive: true });
  for (const task of tasks.heldOut.slice(0, config.evaluation.tasks)) {
    writeFileSync(join(heldOutDir, `${task.id}.json`), `${arcTaskJson(task.task)}\n`);
  }
  const wallSeconds = folder.writeWallSeconds();
  const metrics = writeSummary(outDir, run.id, model.id, config, episodes, wallSeconds);
  await store.close();
  return { config, metrics };
}
