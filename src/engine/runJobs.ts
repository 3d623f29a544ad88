/**
 * Stored experiment runs as jobs on the model: each run is driven as the model's one job, and a
 * pause or cancel of that job is a normal end of the call — it resolves to the run as stopped,
 * which says which of the two it was. A job may also pause itself after a number of episodes
 * (stepping a run one episode at a time).
 */
import { isCancelledError, type Checkpoint, type JobRegistry } from './jobs';
import type { RunRecord, SealStore } from './store';

export type RunStopStatus = 'paused' | 'cancelled';

/** What a run's driver gets from its job. */
export interface RunJobContext<Event> {
  checkpoint: Checkpoint;
  onEvent: (event: Event) => void;
  /** What a stop of the job means for the run. */
  stopStatus: () => RunStopStatus;
}

export interface RunJobOptions {
  /**
   * Pauses the run once this many more episodes are stored (1: step one episode). The run's driver
   * checks for the pause before it stores each episode, so no more than this many are stored.
   */
  pauseAfterEpisodes?: number;
}

export interface RunJobs {
  requireRun(runId: string): Promise<RunRecord>;
  /** Runs `drive` as job `jobId` (`label` names it in a busy model's error). */
  runJob<Event extends { type: string }>(
    jobId: string,
    label: string,
    onEvent: ((event: Event) => void) | undefined,
    drive: (context: RunJobContext<Event>) => Promise<RunRecord>,
    options?: RunJobOptions,
  ): Promise<RunRecord>;
  /**
   * Stops a running job at its next checkpoint: 'paused' keeps the run resumable, 'cancelled'
   * ends it. Resolves whether such a job was running.
   */
  stopRun(jobId: string, status: RunStopStatus): Promise<boolean>;
}

/** A run's event that says which run it is (the run started, resumed or stopped). */
export function isRunEvent(event: { type: string }): event is { type: 'run'; run: RunRecord } {
  return event.type === 'run';
}

function checkedEpisodeLimit(limit: number | undefined): number {
  if (limit === undefined) return Infinity;
  if (!(Number.isInteger(limit) && limit >= 1)) {
    throw new Error(`Episodes before a pause must be a whole number ≥ 1, got ${String(limit)}`);
  }
  return limit;
}

export function createRunJobs(store: Pick<SealStore, 'getRun'>, jobs: JobRegistry): RunJobs {
  const stopStatuses = new Map<string, RunStopStatus>();

  async function requireRun(runId: string): Promise<RunRecord> {
    const run = await store.getRun(runId);
    if (!run) throw new Error(`There is no run ${runId} in this browser's store.`);
    return run;
  }

  return {
    requireRun,

    async runJob(jobId, label, onEvent, drive, options = {}) {
      const episodeLimit = checkedEpisodeLimit(options.pauseAfterEpisodes);
      let episodes = 0;
      // Known once the run is stored: a stop before that has no run to resolve to.
      let runId: string | null = null;
      try {
        return await jobs.runOnModel(jobId, label, (checkpoint) =>
          drive({
            checkpoint,
            onEvent: (event) => {
              if (isRunEvent(event)) runId = event.run.id;
              // A stop without a status pauses, unless a cancel was asked for already.
              if (event.type === 'episode' && ++episodes === episodeLimit) jobs.cancel(jobId);
              onEvent?.(event);
            },
            stopStatus: () => stopStatuses.get(jobId) ?? 'paused',
          }),
        );
      } catch (error) {
        if (!isCancelledError(error) || runId === null) throw error;
        return requireRun(runId);
      } finally {
        stopStatuses.delete(jobId);
      }
    },

    async stopRun(jobId, status) {
      if (!jobs.activeJobIds.includes(jobId)) return false;
      stopStatuses.set(jobId, status);
      return jobs.cancel(jobId);
    },
  };
}
