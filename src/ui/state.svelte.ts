import type { BackendInfo, LogEntry, MemoryInfo, ModelSummary } from '../engine/api';
import { Comlink, connectEngine, type EngineClient } from './engineClient';
import type { BackendRequest } from '../engine/backendChoice';

const MAX_LOG_ENTRIES = 200;

export const app = $state({
  backend: null as BackendInfo | null,
  backendError: null as string | null,
  switchingBackend: false,
  memory: null as MemoryInfo | null,
  logs: [] as LogEntry[],
  /** The engine's loaded model, as the Model panel last saw it. */
  loadedModel: null as ModelSummary | null,
});

export const engine: EngineClient = connectEngine();

export async function startEngine(request: BackendRequest): Promise<void> {
  app.switchingBackend = true;
  app.backendError = null;
  try {
    app.backend = await engine.init(request);
  } catch (error) {
    app.backendError = error instanceof Error ? error.message : String(error);
  } finally {
    app.switchingBackend = false;
  }
  await refreshMemory();
}

export async function refreshMemory(): Promise<void> {
  app.memory = await engine.memory();
}

export function listenToEngine(): void {
  void engine.subscribe(
    Comlink.proxy((event) => {
      if (event.type === 'log') app.logs = [...app.logs, event.entry].slice(-MAX_LOG_ENTRIES);
    }),
  );
}
