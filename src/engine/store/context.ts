import type { ChangeFeed, WriterLocks } from './coordination';
import type { EstimateStorage } from './capacity';
import type { Database } from './db';

/** What every part of the store shares. */
export interface StoreContext {
  db: Database;
  changes: ChangeFeed;
  locks: WriterLocks;
  now: () => number;
  estimateStorage: EstimateStorage;
}
