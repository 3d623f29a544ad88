/**
 * Coordination between tabs: one writer per run through the Web Locks API (a lock is released by
 * the browser when its tab closes or crashes, so a reload never leaves a run stuck), and change
 * notices over a BroadcastChannel so other tabs refresh what they show.
 */

export interface WriterLocks {
  /** Takes the lock if nobody holds it; resolves to its release function, or null if held. */
  tryAcquire(name: string): Promise<(() => void) | null>;
  /** Names of all locks held right now, by any tab. */
  held(): Promise<Set<string>>;
}

interface LockManagerLike {
  request(
    name: string,
    options: { ifAvailable: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
  query(): Promise<{ held?: { name?: string }[] }>;
}

function webLocks(manager: LockManagerLike): WriterLocks {
  return {
    tryAcquire(name) {
      return new Promise((resolve, reject) => {
        manager
          .request(name, { ifAvailable: true }, (lock) => {
            if (!lock) {
              resolve(null);
              return Promise.resolve();
            }
            // The lock is held until this promise settles.
            return new Promise<void>((release) => resolve(() => release()));
          })
          .catch(reject);
      });
    },
    async held() {
      const snapshot = await manager.query();
      return new Set((snapshot.held ?? []).flatMap((lock) => (lock.name ? [lock.name] : [])));
    },
  };
}

/** Where there are no Web Locks (Node), stores in one process share this registry. */
const processLocks = new Set<string>();

function inProcessLocks(): WriterLocks {
  return {
    async tryAcquire(name) {
      if (processLocks.has(name)) return null;
      processLocks.add(name);
      return () => processLocks.delete(name);
    },
    async held() {
      return new Set(processLocks);
    },
  };
}

export function defaultWriterLocks(): WriterLocks {
  const locks = (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;
  return locks ? webLocks(locks) : inProcessLocks();
}

export type StoreChange =
  | { kind: 'run'; id: string }
  | { kind: 'checkpoint'; id: string }
  | { kind: 'dataset'; id: string }
  | { kind: 'puzzle'; id: string }
  | { kind: 'model'; id: string };

export const CHANGE_CHANNEL_NAME = 'seal-playground-store';

/** Tells this tab's and other tabs' listeners about committed changes. */
export class ChangeFeed {
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private readonly channel: BroadcastChannel | null;

  constructor(channelName: string | null = CHANGE_CHANNEL_NAME) {
    this.channel =
      channelName && typeof BroadcastChannel === 'function'
        ? new BroadcastChannel(channelName)
        : null;
    if (this.channel) {
      this.channel.onmessage = (event: MessageEvent<StoreChange>) => this.deliver(event.data);
      // Node keeps a process alive while a channel is open; a store must not.
      (this.channel as { unref?: () => void }).unref?.();
    }
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(change: StoreChange): void {
    this.deliver(change);
    this.channel?.postMessage(change);
  }

  close(): void {
    this.channel?.close();
    this.listeners.clear();
  }

  private deliver(change: StoreChange) {
    for (const listener of this.listeners) listener(change);
  }
}
