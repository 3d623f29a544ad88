/** The page's side of the engine RPC: one Worker, one typed Comlink proxy. */
import * as Comlink from 'comlink';
import type { EngineApi, JobProgress } from '../engine/api';

export type EngineClient = Comlink.Remote<EngineApi>;

export function connectEngine(): EngineClient {
  const worker = new Worker(new URL('../worker.ts', import.meta.url), { type: 'module' });
  return Comlink.wrap<EngineApi>(worker);
}

let jobCounter = 0;

export function newJobId(kind: string): string {
  jobCounter += 1;
  return `${kind}-${Date.now().toString(36)}-${jobCounter}`;
}

/** Wraps a progress callback so it can cross into the Worker. */
export function progressProxy(listener: (progress: JobProgress) => void) {
  return Comlink.proxy(listener);
}

export { Comlink };
