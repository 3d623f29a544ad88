/**
 * Runs and their episodes. An episode is stored under `[runId, round, contextIndex, sampleIndex]`
 * in the same transaction that moves the run's `progress` to the next position, so after any
 * crash the run's progress says exactly which episodes exist: resuming continues at `progress`
 * with nothing lost and nothing run twice.
 */
import { get, values } from 'idb-keyval';
import * as v from 'valibot';
import { request, prefixRange, SCHEMA_VERSION, StorageFullError } from './db';
import type { StoreContext } from './context';
import {
  EpisodeSchema,
  IdSchema,
  NewEpisodeSchema,
  NewRunSchema,
  RunNameSchema,
  RunPositionSchema,
  RUN_STATUSES,
  MAX_STATUS_LENGTH,
  validate,
  type EpisodeRecord,
  type NewEpisode,
  type NewRun,
  type RunPosition,
  type RunRecord,
  type RunStatus,
  newId,
} from './records';
import { deleteCheckpointsOfRun } from './checkpoints';

const RUN_LOCK_PREFIX = 'seal-playground/run/';

export class RunBusyError extends Error {
  constructor(runId: string) {
    super(
      `Run ${runId} is being written by another tab of this app; it can only be viewed here. ` +
        'Stop it there (or close that tab) to continue it here.',
    );
    this.name = 'RunBusyError';
  }
}

export interface RunSummary extends RunRecord {
  /** This tab holds the run's writer lock. */
  writable: boolean;
  /** Another tab runs it and holds its writer lock: view it read-only here. */
  activeElsewhere: boolean;
}

export interface EpisodePage {
  offset?: number;
  limit?: number;
}

/** A status message as stored: long ones (an error with its details) are cut to fit. */
function statusText(message: string): string {
  return message.length <= MAX_STATUS_LENGTH
    ? message
    : `${message.slice(0, MAX_STATUS_LENGTH - 1)}…`;
}

export function comparePositions(a: RunPosition, b: RunPosition): number {
  return a.round - b.round || a.contextIndex - b.contextIndex || a.sampleIndex - b.sampleIndex;
}

function formatPosition(p: RunPosition): string {
  return `round ${p.round}, context ${p.contextIndex}, sample ${p.sampleIndex}`;
}

export function episodeKey(runId: string, p: RunPosition): IDBValidKey {
  return [runId, p.round, p.contextIndex, p.sampleIndex];
}

export function createRunStore(ctx: StoreContext) {
  const leases = new Map<string, () => void>();

  async function takeLease(runId: string): Promise<void> {
    if (leases.has(runId)) return;
    const release = await ctx.locks.tryAcquire(RUN_LOCK_PREFIX + runId);
    if (!release) throw new RunBusyError(runId);
    leases.set(runId, release);
  }

  function dropLease(runId: string) {
    leases.get(runId)?.();
    leases.delete(runId);
  }

  function requireLease(runId: string) {
    if (!leases.has(runId)) {
      throw new Error(
        `Run ${runId} is not open for writing in this tab: start or resume it first ` +
          '(another tab may be writing it).',
      );
    }
  }

  async function getRun(runId: string): Promise<RunRecord | undefined> {
    return get<RunRecord>(runId, ctx.db.use('runs'));
  }

  async function requireRun(tx: IDBTransaction, runId: string): Promise<RunRecord> {
    const run = (await request(tx.objectStore('runs').get(runId))) as RunRecord | undefined;
    if (!run) throw new Error(`There is no run ${runId} in this browser's store.`);
    return run;
  }

  /**
   * Changes `fields` of the run as stored, read and written in one transaction: a change made
   * meanwhile by the run's writer (an episode, its progress) is kept, never overwritten.
   */
  async function updateRun(
    runId: string,
    what: string,
    fields: Partial<Pick<RunRecord, 'name' | 'status' | 'statusMessage'>>,
  ): Promise<RunRecord> {
    const run = await ctx.db.transact(['runs'], 'readwrite', what, async (tx) => {
      const updated: RunRecord = {
        ...(await requireRun(tx, runId)),
        ...fields,
        updatedAt: ctx.now(),
      };
      tx.objectStore('runs').put(updated, runId);
      return updated;
    });
    ctx.changes.publish({ kind: 'run', id: runId });
    return run;
  }

  async function setStatus(runId: string, status: RunStatus, message: string | null) {
    return updateRun(runId, `the status of run ${runId}`, { status, statusMessage: message });
  }

  return {
    getRun,

    /** Stores a new run with status 'running' and takes its writer lock in this tab. */
    async createRun(input: NewRun): Promise<RunRecord> {
      const fields = validate(NewRunSchema, input, 'new run');
      const id = fields.id ?? newId('run');
      await takeLease(id);
      const now = ctx.now();
      const run: RunRecord = {
        schemaVersion: SCHEMA_VERSION,
        id,
        kind: fields.kind,
        name: fields.name ?? `${fields.kind} ${new Date(now).toISOString()}`,
        config: fields.config,
        seeds: fields.seeds,
        datasetIds: fields.datasetIds,
        status: 'running',
        statusMessage: null,
        progress: { round: 0, contextIndex: 0, sampleIndex: 0 },
        episodeCount: 0,
        storedBytes: 0,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await ctx.db.transact(['runs', 'datasets'], 'readwrite', `run ${id}`, async (tx) => {
          if ((await request(tx.objectStore('runs').getKey(id))) !== undefined) {
            throw new Error(`A run with id ${id} already exists.`);
          }
          for (const datasetId of run.datasetIds) {
            if ((await request(tx.objectStore('datasets').getKey(datasetId))) === undefined) {
              throw new Error(`Run ${id} uses dataset ${datasetId}, which is not stored.`);
            }
          }
          tx.objectStore('runs').add(run, id);
        });
      } catch (error) {
        dropLease(id);
        throw error;
      }
      ctx.changes.publish({ kind: 'run', id });
      return run;
    },

    /**
     * Takes the run's writer lock in this tab and marks it running again. Its `progress` is the
     * position of the next episode to run; its seeds are unchanged.
     */
    async resumeRun(runId: string): Promise<RunRecord> {
      validate(IdSchema, runId, 'run id');
      await takeLease(runId);
      try {
        const run = await getRun(runId);
        if (!run) throw new Error(`There is no run ${runId} in this browser's store.`);
        if (run.status === 'done' || run.status === 'cancelled') {
          throw new Error(`Run ${runId} is ${run.status}; it cannot be resumed.`);
        }
        return await setStatus(runId, 'running', null);
      } catch (error) {
        dropLease(runId);
        throw error;
      }
    },

    /** Records why a run stopped and gives up its writer lock. */
    async stopRun(
      runId: string,
      status: Exclude<RunStatus, 'running'>,
      message: string | null = null,
    ): Promise<RunRecord> {
      requireLease(runId);
      validate(
        v.picklist(RUN_STATUSES.filter((s) => s !== 'running')),
        status,
        'a stopped run status',
      );
      validate(v.nullable(v.string()), message, 'status message');
      try {
        return await setStatus(runId, status, message === null ? null : statusText(message));
      } finally {
        dropLease(runId);
      }
    },

    /**
     * Gives a run a new name (trimmed; 1–200 characters). Any tab may rename any run, one that is
     * running here or in another tab too: only the name changes, in a transaction of its own.
     */
    async renameRun(runId: string, name: string): Promise<RunRecord> {
      validate(IdSchema, runId, 'run id');
      const trimmed = validate(RunNameSchema, name, 'Run name');
      return updateRun(runId, `the name of run ${runId}`, { name: trimmed });
    },

    /**
     * Stores one episode at the run's current position and moves the run to `next`, in one
     * transaction. A full disk pauses the run (with a message saying so) and throws
     * StorageFullError; the episode and everything stored before stay as they were.
     */
    async appendEpisode(input: NewEpisode, next: RunPosition): Promise<RunRecord> {
      const fields = validate(NewEpisodeSchema, input, 'episode');
      const nextPosition = validate(RunPositionSchema, next, 'next position');
      const episode: EpisodeRecord = {
        ...fields,
        schemaVersion: SCHEMA_VERSION,
        createdAt: ctx.now(),
      };
      validate(EpisodeSchema, episode, 'episode');
      const { runId } = episode;
      if (comparePositions(nextPosition, episode) <= 0) {
        throw new Error(
          `The next position (${formatPosition(nextPosition)}) must come after the episode's ` +
            `(${formatPosition(episode)}).`,
        );
      }
      requireLease(runId);
      let run: RunRecord;
      try {
        run = await ctx.db.transact(
          ['runs', 'episodes'],
          'readwrite',
          `the episode at ${formatPosition(episode)} of run ${runId}`,
          async (tx) => {
            const current = await requireRun(tx, runId);
            if (current.status !== 'running') {
              throw new Error(
                `Run ${runId} is ${current.status}; resume it before adding episodes.`,
              );
            }
            if (comparePositions(current.progress, episode) !== 0) {
              throw new Error(
                `Run ${runId} is at ${formatPosition(current.progress)}; an episode at ` +
                  `${formatPosition(episode)} would ${comparePositions(current.progress, episode) > 0 ? 'repeat one already stored' : 'skip positions'}.`,
              );
            }
            const updated: RunRecord = {
              ...current,
              progress: nextPosition,
              episodeCount: current.episodeCount + 1,
              storedBytes: current.storedBytes + JSON.stringify(episode).length,
              updatedAt: episode.createdAt,
            };
            tx.objectStore('episodes').add(episode, episodeKey(runId, episode));
            tx.objectStore('runs').put(updated, runId);
            return updated;
          },
        );
      } catch (error) {
        if (error instanceof StorageFullError) await pauseForFullStorage(runId, error);
        throw error;
      }
      ctx.changes.publish({ kind: 'run', id: runId });
      return run;
    },

    /** Moves a run to `next` without an episode (e.g. after a round's training step). */
    async advanceRun(runId: string, next: RunPosition): Promise<RunRecord> {
      const nextPosition = validate(RunPositionSchema, next, 'next position');
      requireLease(runId);
      const run = await ctx.db.transact(['runs'], 'readwrite', `run ${runId}`, async (tx) => {
        const current = await requireRun(tx, runId);
        if (comparePositions(nextPosition, current.progress) < 0) {
          throw new Error(
            `Run ${runId} is at ${formatPosition(current.progress)}; it cannot move back to ` +
              `${formatPosition(nextPosition)}.`,
          );
        }
        const updated = { ...current, progress: nextPosition, updatedAt: ctx.now() };
        tx.objectStore('runs').put(updated, runId);
        return updated;
      });
      ctx.changes.publish({ kind: 'run', id: runId });
      return run;
    },

    async listRuns(): Promise<RunSummary[]> {
      const [runs, held] = await Promise.all([
        values<RunRecord>(ctx.db.use('runs')),
        ctx.locks.held(),
      ]);
      return runs
        .map((run) => {
          const writable = leases.has(run.id);
          // A run that another tab has just stopped is announced before that tab lets go of its
          // lock: the status it stored is the truth, and no later change would correct it.
          const lockedElsewhere = !writable && held.has(RUN_LOCK_PREFIX + run.id);
          return {
            ...run,
            writable,
            activeElsewhere: lockedElsewhere && run.status === 'running',
          };
        })
        .sort((a, b) => b.createdAt - a.createdAt);
    },

    /** A run's episodes in the order they ran. */
    async listEpisodes(runId: string, page: EpisodePage = {}): Promise<EpisodeRecord[]> {
      const offset = page.offset ?? 0;
      const limit = page.limit ?? Infinity;
      return ctx.db.transact(['episodes'], 'readonly', `episodes of run ${runId}`, (tx) => {
        return new Promise<EpisodeRecord[]>((resolve, reject) => {
          const episodes: EpisodeRecord[] = [];
          const cursorRequest = tx.objectStore('episodes').openCursor(prefixRange([runId]));
          let skipped = offset === 0;
          cursorRequest.onerror = () => reject(cursorRequest.error);
          cursorRequest.onsuccess = () => {
            const cursor = cursorRequest.result;
            if (!cursor || episodes.length >= limit) return resolve(episodes);
            if (!skipped) {
              skipped = true;
              cursor.advance(offset);
              return;
            }
            episodes.push(cursor.value as EpisodeRecord);
            cursor.continue();
          };
        });
      });
    },

    /** Deletes a run, its episodes and its checkpoints together. */
    async deleteRun(runId: string): Promise<void> {
      validate(IdSchema, runId, 'run id');
      const heldHere = leases.has(runId);
      if (heldHere) {
        const run = await getRun(runId);
        if (run?.status === 'running') {
          throw new Error(`Run ${runId} is running in this tab; stop it before deleting it.`);
        }
      }
      await takeLease(runId);
      try {
        await ctx.db.transact(
          ['runs', 'episodes', 'checkpoints', 'tensors'],
          'readwrite',
          `the deletion of run ${runId}`,
          async (tx) => {
            await requireRun(tx, runId);
            tx.objectStore('runs').delete(runId);
            tx.objectStore('episodes').delete(prefixRange([runId]));
            await deleteCheckpointsOfRun(tx, runId);
          },
        );
      } finally {
        dropLease(runId);
      }
      ctx.changes.publish({ kind: 'run', id: runId });
    },

    /** Gives up every writer lock this store holds (the tab is going away). */
    releaseAll() {
      for (const runId of [...leases.keys()]) dropLease(runId);
    },
  };

  async function pauseForFullStorage(runId: string, error: StorageFullError) {
    try {
      await setStatus(runId, 'paused', statusText(error.message));
      dropLease(runId);
    } catch {
      // Even this small write may not fit; the run stays as it was and the caller sees the error.
    }
  }
}
