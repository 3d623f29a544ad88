/**
 * The playground's persistent store in IndexedDB: runs and their episodes, checkpoints, imported
 * datasets and cached model files. docs/formats.md documents the records and the export format.
 */
import { estimateStorage, type EstimateStorage } from './capacity';
import { createCheckpointStore } from './checkpoints';
import { ChangeFeed, defaultWriterLocks, type StoreChange, type WriterLocks } from './coordination';
import type { StoreContext } from './context';
import { createDatasetStore } from './datasets';
import { DEFAULT_DATABASE_NAME, openDatabase } from './db';
import { createExchange } from './exchange';
import { createModelCache } from './models';
import { createPuzzleTaskStore } from './puzzles';
import { createRunStore } from './runs';

export { SCHEMA_VERSION, StorageFullError, isQuotaError } from './db';
export { bytesLeft, estimateStorage } from './capacity';
export type { StorageEstimate } from './capacity';
export { RunBusyError, comparePositions } from './runs';
export type { RunSummary, EpisodePage } from './runs';
export type { NewCheckpoint, TensorData, CheckpointWithTensors } from './checkpoints';
export type { DatasetSummary, ParsedDataset } from './datasets';
export { parseDataset } from './datasets';
export { MAX_ARC_FILE_LENGTH } from './puzzles';
export type { ModelFileRecord } from './models';
export type { StoreChange } from './coordination';
export {
  EPISODE_KINDS,
  EVALUATION_CONDITIONS,
  MAX_RUN_NAME_LENGTH,
  PUZZLE_CONDITIONS,
  PUZZLE_STATUSES,
} from './records';
export type {
  CheckpointRecord,
  DatasetRecord,
  EpisodeKind,
  EpisodeRecord,
  EvaluationCondition,
  Json,
  NewEpisode,
  NewRun,
  Passage,
  PuzzleCondition,
  PuzzleEpisode,
  PuzzleStatus,
  PuzzleTaskRecord,
  RunPosition,
  RunRecord,
  RunStatus,
  TensorInfo,
} from './records';

export interface StoreOptions {
  /** IndexedDB database name; tests use their own. */
  databaseName?: string;
  /** BroadcastChannel for change notices between tabs; null for none. */
  channelName?: string | null;
  locks?: WriterLocks;
  now?: () => number;
  /** What the browser says is used and left; tests pass their own. */
  estimateStorage?: EstimateStorage;
}

export function openStore(options: StoreOptions = {}) {
  const ctx: StoreContext = {
    db: openDatabase(options.databaseName ?? DEFAULT_DATABASE_NAME),
    changes: new ChangeFeed(options.channelName === undefined ? undefined : options.channelName),
    locks: options.locks ?? defaultWriterLocks(),
    now: options.now ?? Date.now,
    estimateStorage: options.estimateStorage ?? estimateStorage,
  };
  const runs = createRunStore(ctx);
  const checkpoints = createCheckpointStore(ctx);
  const datasets = createDatasetStore(ctx);
  const models = createModelCache(ctx);
  const puzzles = createPuzzleTaskStore(ctx);
  const exchange = createExchange(ctx);
  return {
    ...runs,
    ...checkpoints,
    ...datasets,
    ...models,
    ...puzzles,
    ...exchange,
    estimateStorage: ctx.estimateStorage,
    /** Calls `listener` after every change committed by this or another tab. */
    onChange(listener: (change: StoreChange) => void): () => void {
      return ctx.changes.subscribe(listener);
    },
    async close(): Promise<void> {
      runs.releaseAll();
      ctx.changes.close();
      await ctx.db.close();
    },
  };
}

export type SealStore = ReturnType<typeof openStore>;

/**
 * What the engine serves of the store over its RPC (changes arrive as engine events; an export
 * crosses as one Blob rather than chunk by chunk through a callback).
 */
export type StoreApi = Omit<SealStore, 'onChange' | 'close' | 'releaseAll' | 'streamRun'>;
