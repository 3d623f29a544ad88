/**
 * Table 1 as the engine serves it: start, pause, resume and cancel runs of the puzzle experiment
 * on the loaded model — the model's one job while it runs — with live events, and a run's table
 * read back from the store.
 */
import type { JobRegistry } from '../../jobs';
import { createRunJobs } from '../../runJobs';
import {
  poolExecutorFor,
  type SealRunJobOptions,
  type SealServiceOptions,
} from '../../seal/service';
import type { RunRecord, SealStore } from '../../store';
import { DEFAULT_TABLE1_CONFIG, resolveTable1Config, type Table1Config } from './config';
import { totalPuzzleSteps } from './plan';
import { table1Metrics, table1Rounds, table1RowTasks, type Table1RoundSummary } from './results';
import {
  resumeTable1Run,
  startTable1Run,
  table1ConfigOfRun,
  type Table1Event,
  type Table1RunOptions,
} from './run';
import { table1Tasks } from './worldTasks';

export type { Table1Config } from './config';
export type { Table1Event } from './run';
export type { Table1RoundSummary } from './results';

/** Workers that evaluate recipes side by side, and a pause after a number of episodes. */
export type Table1RunJobOptions = SealRunJobOptions;

export interface Table1StartRequest extends Table1RunJobOptions {
  /** Overrides of the defaults (see `defaults()`). */
  config: unknown;
  name?: string;
}

export interface Table1Results {
  run: RunRecord;
  config: Table1Config;
  /** Table 1's rows so far (0–1), with their intervals; see puzzles/experiment/results.ts. */
  table1: Record<string, number>;
  /** Per row of `table1`: the held-out tasks with all their samples stored so far. */
  rowTasks: Record<string, number>;
  rounds: Table1RoundSummary[];
  /** Episodes the whole run stores. */
  totalSteps: number;
}

export interface Table1Api {
  defaults(): Promise<{ config: Table1Config }>;
  runTable1(
    jobId: string,
    request: Table1StartRequest,
    onEvent?: (event: Table1Event) => void,
  ): Promise<RunRecord>;
  /** Goes on with a paused or interrupted run; `{ pauseAfterEpisodes: 1 }` steps one episode. */
  resumeTable1(
    jobId: string,
    runId: string,
    onEvent?: (event: Table1Event) => void,
    options?: Table1RunJobOptions,
  ): Promise<RunRecord>;
  /**
   * Stops a running job at its next checkpoint: 'paused' keeps the run resumable, 'cancelled'
   * ends it. Resolves whether such a job was running.
   */
  stopRun(jobId: string, status: 'paused' | 'cancelled'): Promise<boolean>;
  results(runId: string): Promise<Table1Results>;
}

export type Table1ServiceOptions = Pick<
  SealServiceOptions,
  'spawnPoolWorker' | 'activeBackend' | 'session'
>;

export function createTable1Service(
  store: SealStore,
  jobs: JobRegistry,
  { spawnPoolWorker, activeBackend, session }: Table1ServiceOptions,
): Table1Api {
  const { requireRun, runJob: runStoredJob, stopRun } = createRunJobs(store, jobs);

  /** Runs `drive` as the model's job; a pause or cancel resolves to the run as stopped. */
  const runJob = async (
    jobId: string,
    config: Table1Config,
    onEvent: ((event: Table1Event) => void) | undefined,
    drive: (options: Table1RunOptions) => Promise<RunRecord>,
    { workers, pauseAfterEpisodes }: Table1RunJobOptions = {},
  ): Promise<RunRecord> => {
    const createExecutor = poolExecutorFor(workers, { spawnPoolWorker, activeBackend });
    const tasks = table1Tasks(config);
    return runStoredJob(
      jobId,
      'a Table 1 run',
      onEvent,
      (job) => drive({ model: session.require(), tasks, records: store, ...job, createExecutor }),
      { pauseAfterEpisodes },
    );
  };

  return {
    async defaults() {
      return { config: DEFAULT_TABLE1_CONFIG };
    },

    async runTable1(jobId, request, onEvent) {
      const config = resolveTable1Config(request.config);
      return runJob(
        jobId,
        config,
        onEvent,
        (options) => startTable1Run(options, { config: request.config, name: request.name }),
        request,
      );
    },

    async resumeTable1(jobId, runId, onEvent, options) {
      const config = table1ConfigOfRun(await requireRun(runId));
      return runJob(jobId, config, onEvent, (run) => resumeTable1Run(run, runId), options);
    },

    stopRun,

    async results(runId) {
      const run = await requireRun(runId);
      const config = table1ConfigOfRun(run);
      const episodes = await store.listEpisodes(runId);
      return {
        run,
        config,
        table1: table1Metrics(episodes),
        rowTasks: table1RowTasks(episodes, config.evaluation.samples),
        rounds: table1Rounds(episodes),
        totalSteps: totalPuzzleSteps(config, table1Tasks(config)),
      };
    },
  };
}
