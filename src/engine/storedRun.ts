/**
 * What every stored experiment run does around its rounds: it resumes only on the model it was
 * made with, starts from the model it kept last, runs on an executor, says when it starts and
 * ends, records how it stopped (paused, cancelled, or failed with the message), and leaves the
 * model with the weights it started with, whatever happens.
 */
import * as tf from '@tensorflow/tfjs';
import { isCancelledError, type Checkpoint } from './jobs';
import { inProcessExecutor, type SealExecutor } from './pool/executor';
import type { SealModel } from './seal/innerLoop';
import type { RunRecord, SealStore } from './store';

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
