/**
 * What every stored experiment run does around its rounds: it resumes only on the model it was
 * made with, starts from the model it kept last, runs on an executor, says when it starts and
 * ends, records how it stopped (paused, cancelled, or failed with the message), and leaves the
 * model with the weights it started with, whatever happens. Within a round, its steps are
 * evaluated side by side and stored one by one in plan order, and the model each round ends with
 * is kept as a checkpoint, so that a stop anywhere resumes exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { isCancelledError, type Checkpoint } from './jobs';
import { inProcessExecutor, type SealExecutor } from './pool/executor';
import type { SealModel } from './seal/innerLoop';
import type { CheckpointRecord, RunPosition, RunRecord, SealStore } from './store';
import { hubConfig } from './train/peft';
import { logicalShape } from './model/float16';
import { assignFloat32Weight, readFloat32Weight } from './model/weights';

export type StoredRunEvent =
  { type: 'run'; run: RunRecord; totalSteps?: number } | { type: 'done'; run: RunRecord };

export interface StoredRunOptions {
  model: SealModel;
  records: Pick<SealStore, 'stopRun'>;
  checkpoint?: Checkpoint;
  onEvent?: (event: StoredRunEvent) => void;
  /** Says what a stop (cancel) of the job means for the run; default 'paused'. */
  stopStatus?: () => 'paused' | 'cancelled';
  /**
   * Where the steps' work runs, made for the run once its round's model is restored (default: one
   * step at a time in this thread); it is disposed when the run stops.
   */
  createExecutor?: (model: SealModel, checkpoint?: Checkpoint) => Promise<SealExecutor>;
}

export interface StoredRunWork {
  /** Episodes the whole run stores. */
  totalSteps: () => number;
  /** Loads the model the run kept after `round` (a resumed run goes on from it). */
  restore: (round: number) => Promise<void>;
  /** Runs from the run's position to its end; `base` holds the weights the run started with. */
  runRounds: (executor: SealExecutor, base: ReadonlyMap<string, tf.Tensor>) => Promise<void>;
}

/** Stored run `runId`, once it is known to have been made with the model that is to resume it. */
export async function storedRunToResume(
  options: { records: Pick<SealStore, 'getRun'>; model: { id: string } },
  runId: string,
): Promise<RunRecord> {
  const stored = await options.records.getRun(runId);
  if (!stored) throw new Error(`There is no run ${runId} to resume.`);
  const modelId = (stored.config as { model?: string }).model;
  if (modelId !== options.model.id) {
    throw new Error(
      `Run ${runId} was made with model '${modelId}'; load it first (loaded: '${options.model.id}').`,
    );
  }
  return stored;
}

/** Drives `run` from its position to its end or a stop; resolves to the run as done. */
export async function driveStoredRun(
  options: StoredRunOptions,
  run: RunRecord,
  { totalSteps, restore, runRounds }: StoredRunWork,
): Promise<RunRecord> {
  const { model, records } = options;
  const base = new Map([...model.weights].map(([name, v]) => [name, tf.keep(v.clone())]));
  let executor: SealExecutor | null = null;
  try {
    if (run.progress.round > 0) await restore(run.progress.round - 1);
    executor = await (options.createExecutor?.(model, options.checkpoint) ??
      inProcessExecutor(model, options.checkpoint));
    options.onEvent?.({ type: 'run', run, totalSteps: totalSteps() });
    await runRounds(executor, base);
    const done = await records.stopRun(run.id, 'done');
    options.onEvent?.({ type: 'done', run: done });
    return done;
  } catch (error) {
    const status = isCancelledError(error) ? (options.stopStatus?.() ?? 'paused') : 'failed';
    const message = isCancelledError(error)
      ? null
      : String((error as Error).message ?? error).slice(0, 1000);
    const stopped = await records.stopRun(run.id, status, message).catch(() => null);
    if (stopped) options.onEvent?.({ type: 'run', run: stopped });
    throw error;
  } finally {
    await executor?.dispose();
    for (const [name, variable] of model.weights) variable.assign(base.get(name)!);
    tf.dispose([...base.values()]);
  }
}

/** The first position of the round after `round`. */
export function nextRound(round: number): RunPosition {
  return { round: round + 1, contextIndex: 0, sampleIndex: 0 };
}

/** Where the run stands once each step is stored: the next step's position, `end` after the last. */
export function positionsAfter<Step extends { position: RunPosition }>(
  steps: readonly Step[],
  end: RunPosition,
): Map<Step, RunPosition> {
  return new Map(steps.map((step, i) => [step, steps[i + 1]?.position ?? end]));
}

/**
 * Consecutive steps that run together: as many as keep every worker of the executor busy, and only
 * steps that `sameWeights` says share the model's weights. One step at a time without parallelism,
 * so that a stop loses at most one.
 */
export function stepWindows<Step>(
  steps: readonly Step[],
  parallelism: number,
  sameWeights: (a: Step, b: Step) => boolean = () => true,
): Step[][] {
  const size = parallelism === 1 ? 1 : parallelism * 3;
  const windows: Step[][] = [];
  for (const step of steps) {
    const current = windows.at(-1);
    if (current && current.length < size && sameWeights(current[0]!, step)) current.push(step);
    else windows.push([step]);
  }
  return windows;
}

export interface WindowedWork<Step, Result> {
  /** Readies the model for a window, given its first step. */
  beforeWindow?: (first: Step) => Promise<void>;
  evaluate: (step: Step) => Promise<Result>;
  /** Stores one step's result; called in plan order. */
  store: (step: Step, result: Result) => Promise<void>;
  checkpoint?: Checkpoint;
}

/** Evaluates each window's steps side by side, then stores their results one by one in order. */
export async function evaluateAndStore<Step, Result>(
  windows: readonly (readonly Step[])[],
  { beforeWindow, evaluate, store, checkpoint }: WindowedWork<Step, Result>,
): Promise<void> {
  for (const window of windows) {
    await beforeWindow?.(window[0]!);
    const results = window.map((step) => evaluate(step));
    // Every result is awaited below; a failure of one must not go unheard as unhandled.
    for (const result of results) result.catch(() => undefined);
    for (const [i, step] of window.entries()) {
      const result = await results[i]!;
      // A pause asked for meanwhile stores nothing more, even of a window already evaluated.
      await checkpoint?.();
      await store(step, result);
    }
  }
}

export type RoundModelRecords = Pick<
  SealStore,
  'listCheckpoints' | 'loadCheckpoint' | 'saveCheckpoint'
>;

/** The model's weights as checkpoint tensors (float32, whatever the model keeps in memory). */
export async function weightTensors(model: SealModel) {
  const tensors = [];
  for (const [name, variable] of model.weights) {
    tensors.push({
      name,
      shape: logicalShape(variable),
      data: await readFloat32Weight(variable),
    });
  }
  return tensors;
}

/** The model a run kept after `round`, if it got that far. */
export async function savedRoundModel(
  records: Pick<SealStore, 'listCheckpoints'>,
  runId: string,
  round: number,
): Promise<CheckpointRecord | undefined> {
  return (await records.listCheckpoints(runId)).find((c) => c.round === round && c.kind === 'full');
}

/** Puts a kept model's weights into the run's model. */
export async function loadRoundModel(
  options: { model: SealModel; records: Pick<SealStore, 'loadCheckpoint'> },
  checkpointId: string,
): Promise<void> {
  const { tensors } = await options.records.loadCheckpoint(checkpointId);
  for (const { name, shape, data } of tensors) {
    const variable = options.model.weights.get(name);
    if (!variable) {
      throw new Error(`checkpoint ${checkpointId} has '${name}', which the model lacks`);
    }
    assignFloat32Weight(variable, data, shape);
  }
}

/** Loads the model a run kept after `round`, which a run resumed in a later round goes on from. */
export async function restoreRoundModel(
  options: { model: SealModel; records: RoundModelRecords },
  runId: string,
  round: number,
): Promise<void> {
  const saved = await savedRoundModel(options.records, runId, round);
  if (!saved) {
    throw new Error(
      `Run ${runId} has no model for round ${round + 1} (the checkpoint kept after round ${round}); it cannot resume.`,
    );
  }
  await loadRoundModel(options, saved.id);
}

/**
 * Updates the model at the end of `round` and keeps it as the round's checkpoint, named `name`;
 * a run stopped between keeping it and moving on loads the one it kept instead.
 */
export async function keepRoundModel(
  options: { model: SealModel; records: RoundModelRecords },
  runId: string,
  round: number,
  name: string,
  update: () => Promise<void>,
): Promise<void> {
  const saved = await savedRoundModel(options.records, runId, round);
  if (saved) {
    await loadRoundModel(options, saved.id);
    return;
  }
  await update();
  await options.records.saveCheckpoint({
    kind: 'full',
    name,
    runId,
    round,
    config: hubConfig(options.model.config) as Record<string, never>,
    tensors: await weightTensors(options.model),
  });
}
