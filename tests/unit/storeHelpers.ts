import 'fake-indexeddb/auto';
import {
  openStore,
  type NewEpisode,
  type RunPosition,
  type SealStore,
} from '../../src/engine/store';

let databaseCounter = 0;

/** A store on its own fresh fake-IndexedDB database, with no cross-tab channel. */
export function freshStore(databaseName = uniqueDatabaseName()): SealStore {
  return openStore({ databaseName, channelName: null });
}

export function uniqueDatabaseName(): string {
  databaseCounter += 1;
  return `store-test-${process.pid}-${databaseCounter}`;
}

export function episodeAt(runId: string, position: RunPosition, reward = 0.5): NewEpisode {
  return {
    runId,
    ...position,
    contextId: `passage-${position.contextIndex}`,
    prompt: `Passage ${position.contextIndex}. Implications:`,
    selfEdit: `edit ${position.round}/${position.contextIndex}/${position.sampleIndex}`,
    parsedExamples: ['first implication', 'second implication'],
    lossCurve: [2.5, 1.75, 1.25],
    answers: ['an answer'],
    grades: [1],
    reward,
    seeds: { sample: 1000 + position.sampleIndex, train: 7 },
    timings: { generateMs: 12, trainMs: 80, gradeMs: 9 },
    adapterId: null,
  };
}

/** Positions of a plan with `rounds` × `contexts` × `samples` episodes, in run order. */
export function planPositions(rounds: number, contexts: number, samples: number): RunPosition[] {
  const positions: RunPosition[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let contextIndex = 0; contextIndex < contexts; contextIndex++) {
      for (let sampleIndex = 0; sampleIndex < samples; sampleIndex++) {
        positions.push({ round, contextIndex, sampleIndex });
      }
    }
  }
  return positions;
}

/** The position after `positions[i]`, or the first position of the round after the last. */
export function nextOf(positions: RunPosition[], i: number): RunPosition {
  return positions[i + 1] ?? { round: positions[i]!.round + 1, contextIndex: 0, sampleIndex: 0 };
}

/** Every key of one object store, read straight from IndexedDB. */
export function rawKeys(databaseName: string, storeName: string): Promise<IDBValidKey[]> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(databaseName);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const keys = db.transaction(storeName).objectStore(storeName).getAllKeys();
      keys.onsuccess = () => {
        db.close();
        resolve(keys.result);
      };
      keys.onerror = () => reject(keys.error);
    };
  });
}

/**
 * Makes IndexedDB `add`/`put` throw QuotaExceededError for the values `fails` picks, as a browser
 * does when a write does not fit; returns the function that undoes it.
 */
export function failWrites(fails: (value: unknown, storeName: string) => boolean): () => void {
  const originalAdd = IDBObjectStore.prototype.add;
  const originalPut = IDBObjectStore.prototype.put;
  const guard = (original: typeof originalAdd) =>
    function (this: IDBObjectStore, value: unknown, key?: IDBValidKey): IDBRequest<IDBValidKey> {
      if (fails(value, this.name)) {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return original.call(this, value, key);
    };
  IDBObjectStore.prototype.add = guard(originalAdd);
  IDBObjectStore.prototype.put = guard(originalPut);
  return () => {
    IDBObjectStore.prototype.add = originalAdd;
    IDBObjectStore.prototype.put = originalPut;
  };
}

export const failEpisodeWrites = () => failWrites((_value, storeName) => storeName === 'episodes');
