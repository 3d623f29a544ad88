/**
 * Long engine calls run as jobs: each has an id chosen by the caller, so a cancel request can
 * reach it across the Worker boundary (an AbortSignal cannot be posted to a Worker).
 */

export class CancelledError extends Error {
  constructor(jobId: string) {
    super(`Job ${jobId} was cancelled`);
    this.name = 'CancelledError';
  }
}

export function isCancelledError(error: unknown): boolean {
  return error instanceof Error && error.name === 'CancelledError';
}

export interface JobProgress {
  done: number;
  total: number;
  message?: string;
}

export type ProgressListener = (progress: JobProgress) => void;

export type Checkpoint = () => Promise<void>;

const YIELD_INTERVAL_MS = 15;

/** A macrotask boundary without setTimeout's 4 ms clamp. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** The one job that reads or changes the loaded model's weights, as the UI shows it. */
export interface ModelJob {
  id: string;
  /** What the job is, as a phrase that fits "busy with …": "a SEAL run", "fine-tuning". */
  label: string;
}

export class JobRegistry {
  private readonly running = new Map<string, AbortController>();
  private modelJob: ModelJob | null = null;
  private readonly modelJobListeners: ((job: ModelJob | null) => void)[] = [];

  /**
   * Runs `work` as job `jobId`; after `cancel(jobId)` its next `checkpoint()` throws.
   * A checkpoint also lets the event loop run now and then: backends whose reads resolve as
   * microtasks (wasm, cpu) would otherwise never let the cancel message in. `signal` aborts on
   * cancel too, for work that waits on something else than itself (a download).
   */
  async run<T>(
    jobId: string,
    work: (checkpoint: Checkpoint, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.running.has(jobId)) throw new Error(`Job ${jobId} is already running`);
    return this.runUnchecked(jobId, work);
  }

  /**
   * Runs `work` as the model's one job: it reads or changes the loaded model's weights, so a
   * second such job (or anything that replaces the model, see `assertModelFree`) is refused
   * while it runs.
   */
  async runOnModel<T>(
    jobId: string,
    label: string,
    work: (checkpoint: Checkpoint, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.running.has(jobId)) throw new Error(`Job ${jobId} is already running`);
    this.assertModelFree(label.charAt(0).toUpperCase() + label.slice(1));
    this.setModelJob({ id: jobId, label });
    try {
      return await this.runUnchecked(jobId, work);
    } finally {
      this.setModelJob(null);
    }
  }

  /** Throws, naming the running job, when a model job runs; `action` is what was refused. */
  assertModelFree(action: string): void {
    if (this.modelJob) {
      throw new Error(
        `${action} cannot start: the model is busy with ${this.modelJob.label}. ` +
          'Let it finish, or pause or cancel it first.',
      );
    }
  }

  get currentModelJob(): ModelJob | null {
    return this.modelJob;
  }

  onModelJobChange(listener: (job: ModelJob | null) => void): void {
    this.modelJobListeners.push(listener);
  }

  private setModelJob(job: ModelJob | null) {
    this.modelJob = job;
    for (const listener of this.modelJobListeners) listener(job);
  }

  private async runUnchecked<T>(
    jobId: string,
    work: (checkpoint: Checkpoint, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    this.running.set(jobId, controller);
    let lastYield = performance.now();
    const checkpoint = async () => {
      if (performance.now() - lastYield > YIELD_INTERVAL_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (controller.signal.aborted) throw new CancelledError(jobId);
    };
    try {
      return await work(checkpoint, controller.signal);
    } finally {
      this.running.delete(jobId);
    }
  }

  /** Returns whether a running job of that id was found. */
  cancel(jobId: string): boolean {
    const controller = this.running.get(jobId);
    controller?.abort();
    return controller !== undefined;
  }

  get activeJobIds(): string[] {
    return [...this.running.keys()];
  }
}
