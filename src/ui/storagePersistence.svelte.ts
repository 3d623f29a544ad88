/**
 * Asking the browser to keep this site's data. `navigator.storage.persist()` exists only in a
 * window (not in the engine's Worker), so the UI asks: on the first write of data that cannot be
 * fetched again (a run, a checkpoint, an imported dataset), rather than on opening, because some
 * browsers show the user a prompt and an empty store has nothing to keep yet.
 */
import type { StoreChange } from '../engine/store';

/** Bumped whenever the browser answered; what shows persistence reloads on it. */
export const persistence = $state({ answers: 0 });

const IRREPLACEABLE_KINDS: ReadonlySet<StoreChange['kind']> = new Set([
  'run',
  'checkpoint',
  'dataset',
]);

let askedOnFirstWrite = false;

/** Asks the browser to keep the site's data; resolves to whether it promised to. */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = globalThis.navigator?.storage;
  if (!storage?.persist) return false;
  try {
    return (await storage.persisted()) || (await storage.persist());
  } finally {
    persistence.answers += 1;
  }
}

/** Asks once, on the first change to data that could not be fetched again. */
export function requestPersistenceOnFirstWrite(change: StoreChange): void {
  if (askedOnFirstWrite || !IRREPLACEABLE_KINDS.has(change.kind)) return;
  askedOnFirstWrite = true;
  void requestPersistentStorage();
}
