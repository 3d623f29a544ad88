/**
 * Where SEAL's independent tasks run: one at a time on the model itself, or spread over a pool of
 * workers that each hold their own copy of the model on their own wasm backend. Both give the
 * same results for the same tasks.
 *
 * Cancelling a pool: while tasks are queued or running, the pool calls the job's checkpoint every
 * `CANCEL_POLL_MS`. When it throws, every queued and running task rejects with that error at once,
 * and the running ones are told to stop at their next checkpoint; their workers stay alive (with
 * the model) and take new tasks once they have stopped.
 *
 * A worker that fails (its thread dies, or it cannot build the model) is dropped: its task rejects
 * with the worker's error, and the remaining workers carry on. Workers are never respawned.
 */
import type { Checkpoint } from '../jobs';
import type { SealModel } from '../seal/innerLoop';
import {
  readWeightValues,
  snapshotModel,
  type PoolErrorDescription,
  type PoolReply,
  type PoolRequest,
  type PoolRequestBody,
} from './protocol';
import { runSealTask, type SealTask, type SealTaskResult } from './tasks';

export interface SealExecutor {
  /** How many tasks can run at once. */
  readonly parallelism: number;
  run<T extends SealTask>(task: T): Promise<SealTaskResult<T>>;
  /** The generator's weights changed (after an M-step or a checkpoint restore): later tasks must see the new ones. */
  syncWeights(): Promise<void>;
  dispose(): Promise<void>;
}

/** Runs the tasks one after another on `model` itself. */
export function inProcessExecutor(model: SealModel, checkpoint?: Checkpoint): SealExecutor {
  let last: Promise<unknown> = Promise.resolve();
  return {
    parallelism: 1,
    run(task) {
      const result = last.then(() => runSealTask(model, task, checkpoint));
      last = result.catch(() => undefined);
      return result;
    },
    // The tasks read the model's own variables.
    async syncWeights() {},
    async dispose() {},
  };
}

/** A worker seen from the pool, whatever hosts it. */
export interface PoolWorker {
  postMessage(request: PoolRequest): void;
  /** Called once, right after spawning. `onError` reports the worker's death. */
  listen(onReply: (reply: PoolReply) => void, onError: (error: Error) => void): void;
  terminate(): void;
}

export type SpawnPoolWorker = () => PoolWorker;

export interface WorkerPoolOptions {
  size: number;
  spawn: SpawnPoolWorker;
  /** The job's checkpoint: when it throws, the pool's tasks reject with its error. */
  checkpoint?: Checkpoint;
}

/** The machine's hardware threads, at least 1. */
export function defaultPoolSize(): number {
  const browserCount = globalThis.navigator?.hardwareConcurrency;
  const nodeOs = globalThis.process?.getBuiltinModule?.('node:os');
  return Math.max(1, browserCount ?? nodeOs?.availableParallelism() ?? 1);
}

const CANCEL_POLL_MS = 25;

interface Settlers {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface QueuedTask extends Settlers {
  task: SealTask;
  /** Set once the task has been rejected by a cancel or a dispose, before its worker stopped. */
  settled: boolean;
}

class Member {
  private readonly replies = new Map<number, Settlers>();
  running: { requestId: number; queued: QueuedTask } | null = null;
  failed = false;

  constructor(
    readonly worker: PoolWorker,
    private readonly nextId: () => number,
    onFailure: (member: Member, error: Error) => void,
  ) {
    worker.listen(
      (reply) => {
        const settlers = this.replies.get(reply.id);
        this.replies.delete(reply.id);
        if (reply.ok) settlers?.resolve(reply.result);
        else settlers?.reject(errorFrom(reply.error));
      },
      (error) => {
        if (this.failed) return;
        this.failed = true;
        for (const settlers of this.replies.values()) settlers.reject(error);
        this.replies.clear();
        onFailure(this, error);
      },
    );
  }

  request(body: PoolRequestBody): { id: number; reply: Promise<unknown> } {
    const id = this.nextId();
    const reply = new Promise<unknown>((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
    });
    try {
      this.worker.postMessage({ ...body, id });
    } catch (error) {
      // A task that cannot be copied to the worker (not plain data).
      this.replies.get(id)!.reject(error);
      this.replies.delete(id);
    }
    return { id, reply };
  }
}

function errorFrom({ name, message }: PoolErrorDescription): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** An application's expected work: characters of training text times LoRA seeds. */
function handOutWeight(task: SealTask): number {
  if (task.kind !== 'apply') return Number.POSITIVE_INFINITY;
  return task.loraSeeds.length * task.texts.reduce((sum, text) => sum + text.length, 0);
}

class WorkerPool implements SealExecutor {
  private readonly members: Member[];
  private readonly queue: QueuedTask[] = [];
  private requestCount = 0;
  /** Tasks wait while new weights are being read (by this many `syncWeights` calls). */
  private weightReads = 0;
  private watching = false;
  private disposed = false;
  private lastFailure: Error | null = null;

  constructor(
    private readonly model: SealModel,
    spawned: PoolWorker[],
    private readonly checkpoint: Checkpoint | undefined,
  ) {
    this.members = spawned.map(
      (worker) =>
        new Member(
          worker,
          () => this.requestCount++,
          (member, error) => this.drop(member, error),
        ),
    );
  }

  /** The workers still alive. */
  get parallelism(): number {
    return this.members.length;
  }

  async init(): Promise<void> {
    const snapshot = await snapshotModel(this.model);
    await Promise.all(
      this.members.map((member) => member.request({ type: 'init', model: snapshot }).reply),
    );
  }

  async run<T extends SealTask>(task: T): Promise<SealTaskResult<T>> {
    await this.checkpoint?.();
    this.assertUsable();
    const result = new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject, settled: false });
    });
    this.dispatch();
    void this.watchForCancel();
    return result as Promise<SealTaskResult<T>>;
  }

  async syncWeights(): Promise<void> {
    this.assertUsable();
    this.weightReads += 1;
    let updates: Promise<unknown>[];
    try {
      const weights = await readWeightValues(this.model.weights);
      // Each worker takes requests in order: tasks handed out from now on see the new weights.
      updates = this.members.map((member) => member.request({ type: 'weights', weights }).reply);
    } finally {
      this.weightReads -= 1;
    }
    this.dispatch();
    await Promise.all(updates);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.rejectAll(new Error('the worker pool was disposed'));
    for (const member of this.members) {
      member.failed = true;
      member.worker.terminate();
    }
    this.members.length = 0;
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('the worker pool was disposed');
    if (this.members.length === 0) throw this.noWorkersError();
  }

  private noWorkersError(): Error {
    return new Error(`every pool worker has failed; the last: ${this.lastFailure?.message}`);
  }

  private dispatch(): void {
    if (this.weightReads > 0) return;
    for (const member of this.members) {
      if (member.running) continue;
      const queued = this.takeNext();
      if (!queued) return;
      const { id, reply } = member.request({ type: 'run', task: queued.task });
      member.running = { requestId: id, queued };
      reply.then(queued.resolve, queued.reject).finally(() => {
        member.running = null;
        this.dispatch();
      });
    }
  }

  /**
   * Removes and returns the queued task to hand out next: tasks other work waits on (sampling,
   * probing, puzzle tasks) in the order they came, then self-edit applications, the most training
   * text first. Handed out in arrival order, a long application that came last would keep one
   * worker busy while the others sit idle at the end of an E-step.
   */
  private takeNext(): QueuedTask | undefined {
    let best = 0;
    for (let i = 1; i < this.queue.length; i++) {
      if (handOutWeight(this.queue[i]!.task) > handOutWeight(this.queue[best]!.task)) best = i;
    }
    return this.queue.splice(best, 1)[0];
  }

  /** Polls the job's checkpoint while there is work: a cancelled job must not wait for its tasks. */
  private async watchForCancel(): Promise<void> {
    if (this.watching || !this.checkpoint) return;
    this.watching = true;
    try {
      while (this.hasUnsettledWork()) {
        await this.checkpoint();
        await new Promise((resolve) => setTimeout(resolve, CANCEL_POLL_MS));
      }
    } catch (error) {
      for (const member of this.members) {
        if (member.running)
          member.worker.postMessage({ type: 'cancel', id: member.running.requestId });
      }
      this.rejectAll(error);
    } finally {
      this.watching = false;
    }
  }

  private hasUnsettledWork(): boolean {
    return (
      this.queue.length > 0 ||
      this.members.some((member) => member.running && !member.running.queued.settled)
    );
  }

  private rejectAll(error: unknown): void {
    const running = this.members.flatMap((member) =>
      member.running ? [member.running.queued] : [],
    );
    for (const queued of [...this.queue.splice(0), ...running]) {
      if (queued.settled) continue;
      queued.settled = true;
      queued.reject(error);
    }
  }

  private drop(member: Member, error: Error): void {
    this.lastFailure = error;
    member.worker.terminate();
    this.members.splice(this.members.indexOf(member), 1);
    if (this.members.length === 0) {
      for (const queued of this.queue.splice(0)) queued.reject(this.noWorkersError());
    }
  }
}

/**
 * Spawns `size` workers and gives each a copy of `model` (its config, tokenizer files, chat
 * template and current weights); resolves once every worker has built it.
 */
export async function createWorkerPool(
  model: SealModel,
  { size, spawn, checkpoint }: WorkerPoolOptions,
): Promise<SealExecutor> {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new Error(`a worker pool needs a whole number of workers ≥ 1, got ${size}`);
  }
  const pool = new WorkerPool(
    model,
    Array.from({ length: size }, () => spawn()),
    checkpoint,
  );
  try {
    await pool.init();
  } catch (error) {
    await pool.dispose();
    throw error;
  }
  return pool;
}
