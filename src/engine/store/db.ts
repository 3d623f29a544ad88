/**
 * The one IndexedDB database behind the store: its object stores, the schema version with its
 * migrations, and transactions that span several object stores.
 *
 * idb-keyval's own `createStore` opens one object store per database and cannot version it, so
 * the database is opened here and handed to idb-keyval as a `UseStore` per object store; writes
 * that must land together (a record and its index entries) run in one transaction over all the
 * object stores they touch.
 */
import { promisifyRequest, type UseStore } from 'idb-keyval';

/** Version of every record format; records carry it as `schemaVersion`. */
export const SCHEMA_VERSION = 2;

/**
 * Version of the database layout (object stores and indexes). A new object store needs no change
 * to the records already kept, so the layout can move on while the record formats stay.
 */
export const DATABASE_VERSION = 3;

export const DEFAULT_DATABASE_NAME = 'seal-playground';

export type StoreName =
  | 'runs'
  | 'episodes'
  | 'checkpoints'
  | 'tensors'
  | 'datasets'
  | 'models'
  | 'modelBytes'
  | 'puzzles';

/**
 * `MIGRATIONS[v]` takes a database from version v to v + 1 inside the upgrade transaction.
 * Version 1: one object store per record kind, keyed as documented in docs/formats.md.
 * Version 2: runs keep their episode count and stored size (backfilled from their episodes), and
 * checkpoints are indexed by run so a run's checkpoints are found without a scan.
 * Version 3: imported puzzle tasks (ARC JSON) get their own object store.
 */
const MIGRATIONS: ((db: IDBDatabase, tx: IDBTransaction) => void)[] = [
  (db) => {
    db.createObjectStore('runs');
    db.createObjectStore('episodes');
    db.createObjectStore('checkpoints');
    db.createObjectStore('tensors');
    db.createObjectStore('datasets');
    db.createObjectStore('models');
    db.createObjectStore('modelBytes');
  },
  (_db, tx) => {
    tx.objectStore('checkpoints').createIndex('runId', 'runId');
    const totals = new Map<string, { count: number; bytes: number }>();
    tx.objectStore('episodes').openCursor().onsuccess = function () {
      const cursor = this.result;
      if (cursor) {
        const runId = (cursor.value as { runId: string }).runId;
        const total = totals.get(runId) ?? { count: 0, bytes: 0 };
        total.count += 1;
        total.bytes += JSON.stringify(cursor.value).length;
        totals.set(runId, total);
        cursor.continue();
        return;
      }
      tx.objectStore('runs').openCursor().onsuccess = function () {
        const runCursor = this.result;
        if (!runCursor) return;
        const run = runCursor.value as Record<string, unknown> & { id: string };
        const total = totals.get(run.id) ?? { count: 0, bytes: 0 };
        runCursor.update({
          ...run,
          episodeCount: total.count,
          storedBytes: total.bytes,
          schemaVersion: 2,
        });
        runCursor.continue();
      };
    };
  },
  (db) => {
    db.createObjectStore('puzzles');
  },
];

export interface StorageShortfall {
  neededBytes: number;
  leftBytes: number;
}

export class StorageFullError extends Error {
  constructor(what: string, cause: unknown, shortfall?: StorageShortfall) {
    const problem = shortfall
      ? `Browser storage has too little room: ${what} needs at least ` +
        `${mebibytes(shortfall.neededBytes)} but only ${mebibytes(shortfall.leftBytes)} is left, ` +
        'so it was not saved and nothing stored was changed. '
      : `Browser storage is full: ${what} was not saved and nothing stored was changed. `;
    super(
      problem +
        'Free space by exporting and deleting old runs or checkpoints in the History panel, ' +
        'or ask the browser to keep this site’s data (Persist storage).',
      { cause },
    );
    this.name = 'StorageFullError';
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function isQuotaError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'name' in error &&
    (error as { name: unknown }).name === 'QuotaExceededError'
  );
}

export interface Database {
  /** An idb-keyval `UseStore` for one object store. */
  use(name: StoreName): UseStore;
  /**
   * Runs `work` in one transaction over `names` and resolves once it has committed. Every request
   * must be issued from `work` or from callbacks of earlier requests (no awaiting other promises
   * in between, or the transaction commits early). If `work` throws or a request fails, the
   * transaction aborts and nothing it wrote is kept. `what` names the write in errors.
   */
  transact<T>(
    names: StoreName[],
    mode: IDBTransactionMode,
    what: string,
    work: (tx: IDBTransaction) => Promise<T> | T,
  ): Promise<T>;
  close(): Promise<void>;
}

export function openDatabase(name = DEFAULT_DATABASE_NAME): Database {
  let connection: Promise<IDBDatabase> | undefined;
  const connect = () => {
    connection ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, DATABASE_VERSION);
      request.onupgradeneeded = (event) => {
        const tx = request.transaction!;
        for (let version = event.oldVersion; version < DATABASE_VERSION; version++) {
          MIGRATIONS[version]!(request.result, tx);
        }
      };
      request.onblocked = () => {
        connection = undefined;
        reject(
          new Error(
            'The store needs an upgrade that another tab of this app is holding up: close the ' +
              'other tabs of this app, then reload.',
          ),
        );
      };
      request.onsuccess = () => {
        const db = request.result;
        // A newer version of the app opened in another tab: step aside so it can upgrade.
        db.onversionchange = () => {
          db.close();
          connection = undefined;
        };
        db.onclose = () => (connection = undefined);
        resolve(db);
      };
      request.onerror = () => {
        connection = undefined;
        reject(request.error);
      };
    });
    return connection;
  };

  const transact: Database['transact'] = async (names, mode, what, work) => {
    const db = await connect();
    const tx = db.transaction(names, mode);
    const committed = promisifyRequest(tx);
    // Handled below; keeps an abort from surfacing as an unhandled rejection first.
    committed.catch(() => undefined);
    try {
      const result = await work(tx);
      await committed;
      return result;
    } catch (error) {
      if (!tx.error) {
        try {
          tx.abort();
        } catch {
          // Already finished: the original error is what matters.
        }
      }
      const cause = tx.error ?? error;
      if (isQuotaError(cause) || isQuotaError(error)) throw new StorageFullError(what, cause);
      throw error instanceof Error ? error : (cause ?? error);
    }
  };

  return {
    use: (store) => (mode, callback) =>
      connect().then((db) => callback(db.transaction(store, mode).objectStore(store))),
    transact,
    async close() {
      if (connection) (await connection).close();
      connection = undefined;
    },
  };
}

/** Wraps one IndexedDB request in a promise; for use inside `transact`. */
export const request = promisifyRequest;

/** Keys of all records whose array key starts with `prefix`. */
export function prefixRange(prefix: IDBValidKey[]): IDBKeyRange {
  // An empty array sorts after every string and number, so it bounds every key under the prefix.
  return IDBKeyRange.bound(prefix, [...prefix, []]);
}
