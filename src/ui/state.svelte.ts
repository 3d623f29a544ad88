import type {
  AdapterInfo,
  BackendInfo,
  EngineEventListener,
  JobProgress,
  LogEntry,
  MemoryInfo,
  ModelJob,
  ModelSource,
  ModelSummary,
  WeightStorage,
} from '../engine/api';
import { Comlink, connectEngine, newJobId, progressProxy, type EngineClient } from './engineClient';
import type { BackendRequest } from '../engine/backendChoice';
import { isCancelled, messageOf } from './errors';
import { requestPersistenceOnFirstWrite } from './storagePersistence.svelte';

const MAX_LOG_ENTRIES = 200;

export const app = $state({
  backend: null as BackendInfo | null,
  backendError: null as string | null,
  switchingBackend: false,
  memory: null as MemoryInfo | null,
  logs: [] as LogEntry[],
  /** The engine's loaded model, as the Model panel last saw it. */
  loadedModel: null as ModelSummary | null,
  /** The model load in progress, from the Model panel or the default load on opening. */
  modelLoad: null as { jobId: string; label: string; progress: JobProgress | null } | null,
  modelLoadError: null as string | null,
  modelLoadNotice: null as string | null,
  /** The one engine job using the model now (panels disable what would start another). */
  modelJob: null as ModelJob | null,
  /** The loaded model's LoRA adapters, as the engine last reported them. */
  adapters: [] as AdapterInfo[],
});

export const engine: EngineClient = connectEngine();

export async function startEngine(request: BackendRequest): Promise<void> {
  app.switchingBackend = true;
  app.backendError = null;
  try {
    app.backend = await engine.init(request);
  } catch (error) {
    app.backendError = messageOf(error);
  } finally {
    app.switchingBackend = false;
  }
  await refreshMemory();
}

/** Memory figures exist once a backend runs; before that there is nothing to ask. */
export async function refreshMemory(): Promise<void> {
  if (app.backend) app.memory = await engine.memory();
}

const engineListeners: EngineEventListener[] = [];

/** Calls `listener` with every engine event from now on, through the app's one subscription. */
export function onEngineEvent(listener: EngineEventListener): void {
  engineListeners.push(listener);
}

export function listenToEngine(): void {
  void engine.subscribe(
    Comlink.proxy((event) => {
      if (event.type === 'log') app.logs = [...app.logs, event.entry].slice(-MAX_LOG_ENTRIES);
      if (event.type === 'store') requestPersistenceOnFirstWrite(event.change);
      if (event.type === 'model-job') app.modelJob = event.job;
      if (event.type === 'adapters') app.adapters = event.adapters;
      if (event.type === 'model') app.loadedModel = event.model;
      for (const listener of engineListeners) listener(event);
    }),
  );
  void engine.modelJob().then((job) => (app.modelJob = job));
}

/** Loads a model in the engine, keeping progress, errors and the result in `app`. */
export async function loadModel(
  source: ModelSource,
  label: string,
  options: { weightStorage?: WeightStorage } = {},
): Promise<void> {
  if (app.modelLoad) throw new Error(`${app.modelLoad.label} is still loading`);
  const jobId = newJobId('model-load');
  app.modelLoad = { jobId, label, progress: null };
  app.modelLoadError = null;
  app.modelLoadNotice = null;
  try {
    app.loadedModel = await engine.model.load(
      jobId,
      source,
      progressProxy((progress) => {
        if (app.modelLoad?.jobId === jobId) app.modelLoad = { jobId, label, progress };
      }),
      options,
    );
  } catch (cause) {
    if (isCancelled(cause)) {
      app.modelLoadNotice = 'Loading was cancelled; the previous model (if any) is still loaded.';
    } else app.modelLoadError = messageOf(cause);
  } finally {
    app.modelLoad = null;
    await refreshMemory();
  }
}

export async function cancelModelLoad(): Promise<void> {
  if (app.modelLoad) await engine.cancel(app.modelLoad.jobId);
}

/**
 * Opening the app loads a model that ships with it, so it is ready to use offline: the one the
 * `?model=` URL parameter names, else the first listed (the default model, seal-world-1m, when
 * it ships); `?model=none` opens with no model. Its weights are stored as `weightStorage`.
 */
export async function loadDefaultModel(
  requested: string | null,
  weightStorage: WeightStorage = 'float32',
): Promise<void> {
  if (requested === 'none' || app.backend === null) return;
  try {
    const shipped = await engine.model.listShipped();
    const chosen = requested === null ? shipped[0] : shipped.find((m) => m.name === requested);
    if (requested !== null && chosen === undefined) {
      const names = shipped.map((m) => m.name).join(', ') || 'none';
      app.modelLoadError = `?model=${requested} names no shipped model (shipped: ${names})`;
      return;
    }
    if (chosen === undefined || (await engine.model.current()) !== null || app.modelLoad) return;
    await loadModel({ kind: 'shipped', name: chosen.name }, chosen.name, { weightStorage });
  } catch (cause) {
    app.modelLoadNotice = `The default model was not loaded: ${messageOf(cause)}`;
  }
}
