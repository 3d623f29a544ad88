/**
 * How much this origin stores and may store, and the check that refuses a large write before it
 * starts when the browser says it cannot fit: a write refused up front names the sizes, while one
 * that hits the quota half-way only says the storage is full.
 */
import { StorageFullError } from './db';

export interface StorageEstimate {
  usageBytes: number | null;
  quotaBytes: number | null;
  /** Whether the browser promised not to evict this site's data; null where unknown. */
  persisted: boolean | null;
}

export type EstimateStorage = () => Promise<StorageEstimate>;

/** How much this origin stores and may store, as far as the browser tells. */
export async function estimateStorage(): Promise<StorageEstimate> {
  const storage = (globalThis.navigator as { storage?: StorageManager } | undefined)?.storage;
  if (!storage?.estimate) return { usageBytes: null, quotaBytes: null, persisted: null };
  const [estimate, persisted] = await Promise.all([
    storage.estimate(),
    storage.persisted ? storage.persisted() : Promise.resolve(null),
  ]);
  return {
    usageBytes: estimate.usage ?? null,
    quotaBytes: estimate.quota ?? null,
    persisted,
  };
}

/** Bytes this origin may still store, or null where the browser does not say. */
export function bytesLeft(estimate: StorageEstimate): number | null {
  if (estimate.usageBytes === null || estimate.quotaBytes === null) return null;
  return Math.max(0, estimate.quotaBytes - estimate.usageBytes);
}

/**
 * Throws a StorageFullError naming both sizes when `bytes` (a lower bound of what the write
 * stores) exceeds what the browser says is left; does nothing where it says nothing.
 */
export async function checkRoom(
  estimate: EstimateStorage,
  bytes: number,
  what: string,
): Promise<void> {
  const left = bytesLeft(await estimate());
  if (left !== null && bytes > left) {
    throw new StorageFullError(what, null, { neededBytes: bytes, leftBytes: left });
  }
}
