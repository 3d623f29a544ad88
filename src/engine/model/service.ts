/**
 * The engine's model calls: list the shipped models, load one as a cancellable job (refusing a
 * model that cannot fit the active GPU), describe the loaded one, unload it.
 */
import type { BackendInfo } from '../backend';
import type { JobRegistry, ProgressListener } from '../jobs';
import type { WeightStorage } from './float16';
import { describeModel, loadModel, type ModelSummary } from './loader';
import type { ModelSession } from './session';
import {
  listShippedModels,
  type DeviceLimits,
  type ModelFileCache,
  type ModelSource,
  type ShippedModel,
} from './sources';

export type { ModelSummary } from './loader';
export type { ModelSource, ShippedModel } from './sources';

export interface ModelApi {
  /** Models that ship with the app (the build's `models/` folder); empty when none do. */
  listShipped(): Promise<ShippedModel[]>;
  /**
   * Loads a model's files (from the cache when they are there), tokenizer and weights, then
   * makes it the loaded model; the previous one stays loaded until this one is ready. Progress
   * is in bytes; cancel with the engine's `cancel(jobId)`.
   */
  load(
    jobId: string,
    source: ModelSource,
    onProgress?: ProgressListener,
    options?: { weightStorage?: WeightStorage },
  ): Promise<ModelSummary>;
  /** The loaded model, or null; one made in memory (the tiny demo model) has no files. */
  current(): Promise<ModelSummary | null>;
  /** Frees the loaded model. */
  unload(): Promise<void>;
}

export interface ModelServiceOptions {
  jobs: JobRegistry;
  cache: ModelFileCache | null;
  backend: () => BackendInfo | null;
  log: (level: 'info' | 'warn', message: string) => void;
  /** Where the app is served from (shipped models live under it); null outside the app. */
  appBaseUrl: string | null;
  hubEndpoint?: string;
  session: ModelSession;
}

export function createModelService(options: ModelServiceOptions): ModelApi {
  let summary: ModelSummary | null = null;

  return {
    async listShipped() {
      if (!options.appBaseUrl) return [];
      return listShippedModels(options.appBaseUrl);
    },

    async load(jobId, source, onProgress, { weightStorage } = {}) {
      return options.jobs.runOnModel(jobId, 'a model load', async (checkpoint, signal) => {
        const started = performance.now();
        const loaded = await loadModel(source, {
          cache: options.cache,
          appBaseUrl: options.appBaseUrl,
          hubEndpoint: options.hubEndpoint,
          limits: deviceLimits(options.backend()),
          checkpoint,
          signal,
          onProgress,
          session: options.session,
          weightStorage,
        });
        summary = loaded;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        const where = loaded.fromCache ? 'from the cache' : 'downloaded';
        options.log(
          'info',
          `Loaded ${loaded.id} (${where}, ${loaded.weightStorage} weights) in ${seconds} s`,
        );
        for (const warning of loaded.warnings) options.log('warn', warning);
        return loaded;
      });
    },

    async current() {
      const model = options.session.current();
      if (model === null) return null;
      if (summary?.id === model.id) return summary;
      return describeModel(model, {
        fileBytes: 0,
        storedDtypes: [],
        fromCache: false,
        warnings: [],
      });
    },

    async unload() {
      options.jobs.assertModelFree('Unloading the model');
      options.session.replace(null);
      summary = null;
    },
  };
}

/** Only WebGPU has per-buffer limits; wasm and cpu hold tensors in ordinary memory. */
function deviceLimits(backend: BackendInfo | null): DeviceLimits | null {
  if (backend?.active !== 'webgpu' || !backend.adapter) return null;
  return {
    maxBufferSize: backend.adapter.maxBufferSize,
    maxStorageBufferBindingSize: backend.adapter.maxStorageBufferBindingSize,
  };
}
