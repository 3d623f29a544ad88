/**
 * SEAL as the engine serves it: start, pause, resume and cancel runs of the loop on the loaded
 * model, with live events for the panel, and a run's results and files read back from the store.
 * Contexts come from the synthetic world of a seed or from a stored passage dataset, as the run
 * records, so a run can be resumed in any tab.
 */
import type { JobRegistry } from '../jobs';
import { createWorkerPool, defaultPoolSize, type SpawnPoolWorker } from '../pool/executor';
import type { ModelSession } from '../model/session';
import { createRunJobs, type RunJobOptions } from '../runJobs';
import type { EpisodeRecord, RunRecord, SealStore } from '../store';
import { DEFAULT_SEAL_CONFIG, PAPER_SETTINGS, resolveSealConfig, type SealConfig } from './config';
import { worldSealContexts, type HeldOutSplit, type SealContexts } from './contexts';
import { mStepJsonl, runForgetting, squadJson, type ForgettingResult } from './experiments';
import { episodeContext, episodeKind, trainingSelfEdit, type TrainingSelfEdit } from './episodes';
import {
  appliedAccuracy,
  roundSummaries,
  table2Metrics,
  unfinishedHeldOut,
  type RoundSummary,
  type UnfinishedHeldOut,
} from './results';
import { heldOutUnits, planRound } from './plan';
import {
  resumeSealRun,
  sealConfigOfRun,
  startSealRun,
  totalSteps,
  type SealEvent,
  type SealRunOptions,
} from './restem';
import { worldSeedOfModel, worldStarter, type WorldStarter } from './starter';
import { tinySealModel } from './tinyModel';
import type { SealModel } from './innerLoop';
import { probeSpeed } from './speedProbe';
import { decodeRecordedRun, labelOf, type RecordedRunLabel } from './recordedRun';
import type { SpeedTimings } from './estimate';
import { runWork, type RunWork } from './work';

export type { SealEvent } from './restem';
export type { SealConfig } from './config';
export type { TrainingSelfEdit } from './episodes';
export type { WorldStarter } from './starter';
export type { RunWork } from './work';
export type { SpeedTimings } from './estimate';
export type { RecordedRunLabel } from './recordedRun';

/** A speed probe's timings, with what they were measured on. */
export interface SpeedProbe {
  timings: SpeedTimings;
  modelId: string;
  backend: string | null;
  /** Workers a run started now would evaluate its self-edits on. */
  workers: number;
}

/** Where a planned run's contexts come from: a world seed or a stored dataset. */
export type PlannedRunRequest = Pick<SealStartRequest, 'config' | 'worldSeed' | 'datasetId'>;

/** How a started or resumed run goes: on how many workers, and whether it pauses by itself. */
export interface SealRunJobOptions extends RunJobOptions {
  /**
   * Workers that evaluate self-edits side by side (1: one at a time in the engine). Default: one
   * per hardware thread on the wasm backend, where workers compute exactly what the engine would;
   * one on other backends.
   */
  workers?: number;
}

export interface SealStartRequest extends SealRunJobOptions {
  /** Overrides of the defaults (see `defaults()`). */
  config: unknown;
  /** Seed of the synthetic world whose contexts the run trains and is evaluated on … */
  worldSeed?: number;
  /**
   * … or a passage dataset in the store (imported SQuAD-style passages): its first half is
   * trained on, its second half held out.
   */
  datasetId?: string;
  name?: string;
}

/** Where a run's contexts come from, as its record keeps it. */
export type ContextsSource = { world: number; heldOut?: HeldOutSplit } | { dataset: string };

export interface SealResults {
  run: RunRecord;
  config: SealConfig;
  /** Table 2's rows so far (0–1). */
  table2: Record<string, number>;
  rounds: RoundSummary[];
  /** Where the run's contexts come from. */
  contexts: ContextsSource;
  /** Episodes the whole run stores. */
  totalSteps: number;
  /** Rounds whose held-out evaluation is under way: their figures are partial. */
  unfinishedHeldOut: UnfinishedHeldOut[];
}

/** A recorded run shipped with the app, read as a stored run is, for the same view. */
export interface RecordedRunView {
  label: RecordedRunLabel;
  results: SealResults;
  /** Its training self-edits in run order, each with its passage. */
  selfEdits: TrainingSelfEdit[];
}

/** Files the official SEAL code reads: contexts as SQuAD-style JSON, the M-step data as JSONL. */
export interface SealExportFiles {
  'contexts-train.json': string;
  'contexts-held-out.json': string;
  'm-step.jsonl': string;
}

export interface ForgettingRequest {
  config: unknown;
  worldSeed: number;
  /** How many held-out passages are edited, one after another. */
  passages: number;
}

export interface SealApi {
  defaults(): Promise<{ config: SealConfig; paper: typeof PAPER_SETTINGS }>;
  /**
   * A validation passage and a question about it for the Generate and Fine-tune panels to start
   * from, when the loaded model was trained on the synthetic world; null for any other model.
   */
  starter(): Promise<WorldStarter | null>;
  /** Makes a tiny random model (tokenizer from the world's corpus) the loaded model. */
  loadTinyModel(seed: number, worldSeed: number): Promise<string>;
  startRun(
    jobId: string,
    request: SealStartRequest,
    onEvent?: (event: SealEvent) => void,
  ): Promise<RunRecord>;
  /** Goes on with a paused or interrupted run; `{ pauseAfterEpisodes: 1 }` steps one episode. */
  resumeRun(
    jobId: string,
    runId: string,
    onEvent?: (event: SealEvent) => void,
    options?: SealRunJobOptions,
  ): Promise<RunRecord>;
  /**
   * Stops a running job at its next checkpoint: 'paused' keeps the run resumable, 'cancelled'
   * ends it. Resolves whether such a job was running.
   */
  stopRun(jobId: string, status: 'paused' | 'cancelled'): Promise<boolean>;
  results(runId: string): Promise<SealResults>;
  /** The run's training self-edits in run order, each with its passage. */
  selfEdits(runId: string): Promise<TrainingSelfEdit[]>;
  /**
   * A recorded run's file (see recordedRun.ts), checked and read without the store or a model:
   * its label, results and self-edits as `results` and `selfEdits` give a stored run's.
   */
  recordedRun(file: Uint8Array): Promise<RecordedRunView>;
  /**
   * The forgetting experiment on the loaded model: one adapter takes the self-edits of several
   * held-out passages in sequence; every passage is asked again after each edit.
   */
  runForgetting(
    jobId: string,
    request: ForgettingRequest,
    onEdit?: (index: number, row: number[]) => void,
  ): Promise<ForgettingResult & { titles: string[] }>;
  exportFiles(runId: string): Promise<SealExportFiles>;
  /**
   * Times a few seconds of the loaded model's work on the active backend (self-edit sampling, a
   * closed-book probe, LoRA steps), a model job that `engine.cancel(jobId)` stops.
   */
  probeSpeed(jobId: string): Promise<SpeedProbe>;
  /** The work a run of these settings would do, counted from its plan. */
  plannedWork(request: PlannedRunRequest): Promise<RunWork>;
}

function sourceOfRun(run: RunRecord): ContextsSource {
  const source = (
    run.config as { contexts?: { world?: unknown; heldOut?: unknown; dataset?: unknown } }
  ).contexts;
  if (typeof source?.world === 'number') {
    return source.heldOut === 'validation'
      ? { world: source.world, heldOut: 'validation' }
      : { world: source.world };
  }
  if (typeof source?.dataset === 'string') return { dataset: source.dataset };
  throw new Error(`Run ${run.id} does not say where its contexts come from: not a SEAL run.`);
}

function sourceOfRequest(request: PlannedRunRequest): ContextsSource {
  const { worldSeed, datasetId } = request;
  if ((worldSeed === undefined) === (datasetId === undefined)) {
    throw new Error('a SEAL run needs either a world seed or a dataset id, and not both');
  }
  if (datasetId !== undefined) return { dataset: datasetId };
  if (!Number.isInteger(worldSeed)) {
    throw new Error(`World seed must be a whole number, got ${worldSeed}`);
  }
  return { world: worldSeed! };
}

/** A run's results from its episodes, as far as they go. */
function resultsOf(
  run: RunRecord,
  episodes: readonly EpisodeRecord[],
  contexts: SealContexts,
): SealResults {
  const config = sealConfigOfRun(run);
  const plans = Array.from({ length: config.outer.rounds + 1 }, (_, round) =>
    planRound(config, contexts, round),
  );
  return {
    run,
    config,
    table2: table2Metrics(config, episodes),
    rounds: roundSummaries(config, episodes),
    contexts: sourceOfRun(run),
    totalSteps: totalSteps(config, contexts),
    unfinishedHeldOut: unfinishedHeldOut(plans, episodes),
  };
}

/** A run's training self-edits in run order, each with its passage. */
function selfEditsOf(
  episodes: readonly EpisodeRecord[],
  contexts: SealContexts,
): TrainingSelfEdit[] {
  const passages = new Map(contexts.train.map((passage) => [passage.id, passage]));
  return episodes.flatMap((episode) => {
    const passage = passages.get(episodeContext(episode));
    return episodeKind(episode) === 'self-edit' && passage
      ? [trainingSelfEdit(episode, passage, appliedAccuracy(episode))]
      : [];
  });
}

export interface SealServiceOptions {
  /** Starts a pool worker; without it every run evaluates one step at a time. */
  spawnPoolWorker?: SpawnPoolWorker;
  /** The tfjs backend now active ('wasm', 'webgpu', …), or null before one is. */
  activeBackend: () => string | null;
  /** The engine's loaded model, which runs use and the tiny model replaces. */
  session: ModelSession;
}

/** Each worker holds a float32 copy of the model: at most this much in copies. */
const POOL_MEMORY_BYTES = 2 * 1024 ** 3;

/**
 * How a run's steps run: on a pool of `workers` workers, or (undefined) in the engine itself.
 * Default: one worker per hardware thread on the wasm backend, where workers compute exactly what
 * the engine would; none on other backends.
 */
export function poolExecutorFor(
  workers: number | undefined,
  { spawnPoolWorker, activeBackend }: Pick<SealServiceOptions, 'spawnPoolWorker' | 'activeBackend'>,
): SealRunOptions['createExecutor'] {
  const wanted = wantedWorkers(workers, activeBackend);
  if (wanted === 1 || !spawnPoolWorker) return undefined;
  return (model, checkpoint) =>
    createWorkerPool(model, {
      size: poolSizeFor(wanted, model),
      spawn: spawnPoolWorker,
      checkpoint,
    });
}

function wantedWorkers(
  workers: number | undefined,
  activeBackend: SealServiceOptions['activeBackend'],
): number {
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) {
    throw new Error(`Workers must be a whole number ≥ 1, got ${String(workers)}`);
  }
  return workers ?? (activeBackend() === 'wasm' ? defaultPoolSize() : 1);
}

/** How many of `wanted` workers a pool for `model` starts: as many copies as the memory allows. */
function poolSizeFor(wanted: number, model: SealModel): number {
  const modelBytes = [...model.weights.values()].reduce((sum, w) => sum + w.size * 4, 0);
  return Math.max(1, Math.min(wanted, Math.floor(POOL_MEMORY_BYTES / modelBytes)));
}

/** How many workers a run started without a worker count evaluates its self-edits on. */
function defaultRunWorkers(
  { spawnPoolWorker, activeBackend }: Pick<SealServiceOptions, 'spawnPoolWorker' | 'activeBackend'>,
  model: SealModel,
): number {
  const wanted = wantedWorkers(undefined, activeBackend);
  return wanted === 1 || !spawnPoolWorker ? 1 : poolSizeFor(wanted, model);
}

export function createSealService(
  store: SealStore,
  jobs: JobRegistry,
  { spawnPoolWorker, activeBackend, session }: SealServiceOptions,
): SealApi {
  const { requireRun, runJob: runStoredJob, stopRun } = createRunJobs(store, jobs);
  /** The contexts results were last read with: the panel asks again after every episode. */
  let lastRead: { key: string; contexts: Promise<SealContexts> } | null = null;

  async function contextsOf(source: ContextsSource): Promise<SealContexts> {
    if ('world' in source) return worldSealContexts(source.world, source.heldOut);
    const dataset = await store.getDataset(source.dataset);
    if (!dataset) throw new Error(`There is no dataset ${source.dataset} in this browser's store.`);
    if (dataset.passages.length < 2) {
      throw new Error(
        `Dataset ${dataset.name} needs at least 2 passages (one to train, one held out).`,
      );
    }
    const half = Math.ceil(dataset.passages.length / 2);
    return { train: dataset.passages.slice(0, half), heldOut: dataset.passages.slice(half) };
  }

  function readContextsOf(run: RunRecord): Promise<SealContexts> {
    const source = sourceOfRun(run);
    const key = JSON.stringify(source);
    if (lastRead?.key !== key) lastRead = { key, contexts: contextsOf(source) };
    const { contexts } = lastRead;
    // A failed read (a deleted dataset) is not kept.
    contexts.catch(() => {
      if (lastRead?.contexts === contexts) lastRead = null;
    });
    return contexts;
  }

  const executorFor = (workers: number | undefined) =>
    poolExecutorFor(workers, { spawnPoolWorker, activeBackend });

  /**
   * Runs `drive` as job `jobId`. A pause or cancel is a normal end of the call: it resolves to
   * the run as stopped, which says which of the two it was.
   */
  const runJob = async (
    jobId: string,
    source: ContextsSource,
    onEvent: ((event: SealEvent) => void) | undefined,
    drive: (options: SealRunOptions) => Promise<RunRecord>,
    { workers, pauseAfterEpisodes }: SealRunJobOptions = {},
  ): Promise<RunRecord> => {
    const createExecutor = executorFor(workers);
    const contexts = await contextsOf(source);
    return runStoredJob(
      jobId,
      'a SEAL run',
      onEvent,
      (job) =>
        drive({ model: session.require(), contexts, records: store, ...job, createExecutor }),
      { pauseAfterEpisodes },
    );
  };

  return {
    async starter() {
      const model = session.current();
      const worldSeed = model ? worldSeedOfModel(model.id) : null;
      return worldSeed === null ? null : worldStarter(worldSeed);
    },

    async defaults() {
      return { config: DEFAULT_SEAL_CONFIG, paper: PAPER_SETTINGS };
    },

    async loadTinyModel(seed, worldSeed) {
      jobs.assertModelFree('Loading the tiny demo model');
      const model = tinySealModel(seed, worldSeed);
      session.replace(model);
      return model.id;
    },

    async startRun(jobId, request, onEvent) {
      const source = sourceOfRequest(request);
      return runJob(
        jobId,
        source,
        onEvent,
        (options) =>
          startSealRun(options, {
            config: request.config,
            name: request.name,
            contextsSource: source,
            datasetIds: 'dataset' in source ? [source.dataset] : [],
          }),
        request,
      );
    },

    async resumeRun(jobId, runId, onEvent, options) {
      const source = sourceOfRun(await requireRun(runId));
      return runJob(jobId, source, onEvent, (run) => resumeSealRun(run, runId), options);
    },

    stopRun,

    async results(runId) {
      const run = await requireRun(runId);
      const [episodes, contexts] = await Promise.all([
        store.listEpisodes(runId),
        readContextsOf(run),
      ]);
      return resultsOf(run, episodes, contexts);
    },

    async selfEdits(runId) {
      const run = await requireRun(runId);
      const [episodes, contexts] = await Promise.all([
        store.listEpisodes(runId),
        readContextsOf(run),
      ]);
      return selfEditsOf(episodes, contexts);
    },

    async recordedRun(file) {
      const recorded = await decodeRecordedRun(file);
      const contexts = await readContextsOf(recorded.run);
      return {
        label: labelOf(recorded),
        results: resultsOf(recorded.run, recorded.episodes, contexts),
        selfEdits: selfEditsOf(recorded.episodes, contexts),
      };
    },

    async runForgetting(jobId, request, onEdit) {
      const config = resolveSealConfig(request.config);
      if (!(Number.isInteger(request.passages) && request.passages >= 1)) {
        throw new Error(
          `the number of passages must be a positive whole number, got ${request.passages}`,
        );
      }
      const passages = worldSealContexts(request.worldSeed).heldOut.slice(0, request.passages);
      const result = await jobs.runOnModel(jobId, 'the forgetting measurement', (checkpoint) =>
        runForgetting(session.require(), passages, config, { checkpoint, onEdit }),
      );
      return { ...result, titles: passages.map((p) => p.title) };
    },

    async probeSpeed(jobId) {
      return jobs.runOnModel(jobId, 'the speed probe', async (checkpoint) => {
        const model = session.require();
        return {
          timings: await probeSpeed(model, checkpoint),
          modelId: model.id,
          backend: activeBackend(),
          workers: defaultRunWorkers({ spawnPoolWorker, activeBackend }, model),
        };
      });
    },

    async plannedWork(request) {
      const config = resolveSealConfig(request.config);
      return runWork(config, await contextsOf(sourceOfRequest(request)));
    },

    async exportFiles(runId) {
      const run = await requireRun(runId);
      const config = sealConfigOfRun(run);
      const contexts = await contextsOf(sourceOfRun(run));
      return {
        'contexts-train.json': squadJson(contexts.train),
        'contexts-held-out.json': squadJson(heldOutUnits(config, contexts).flat()),
        'm-step.jsonl': mStepJsonl(config, await store.listEpisodes(runId)),
      };
    },
  };
}
