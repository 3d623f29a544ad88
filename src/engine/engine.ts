import * as tf from '@tensorflow/tfjs';
import { proxy } from 'comlink';
import type {
  EngineApi,
  EngineEventListener,
  LogEntry,
  Matrix,
  MatmulBenchmarkOptions,
  MemoryInfo,
} from './api';
import { BENCHMARKS } from './benchmarks';
import { compareWebGpuKernels } from './kernelCheck';
import { compareFloat16Storage } from './float16Check';
import { compareWebGpuOptimizer } from './webgpuOptimizerCheck';
import { compareDecoding, compareWebGpuInference } from './inferenceKernelCheck';
import { selectBackend, type BackendInfo, type WasmPaths } from './backend';
import { JobRegistry, yieldToEventLoop, type ProgressListener } from './jobs';
import type { SpawnPoolWorker } from './pool/executor';
import { createModelService } from './model/service';
import { generateText, logitsOf } from './model/generateText';
import { createModelSession, type ModelSession } from './model/session';
import { openStore } from './store';
import { FinetuneService } from './train/service';
import { createSealService } from './seal/service';
import { createWalkthroughService } from './seal/walkthroughService';
import { createTable1Service } from './puzzles/experiment/service';
import { createPuzzleService } from './puzzles/service';
import { webGpuMemory } from './webgpuMemory';

export interface EngineOptions {
  wasmPaths?: WasmPaths;
  /** The app's base URL, under which the shipped models are served. */
  appBaseUrl?: string;
  /** The Hugging Face Hub (tests point it at a local server). */
  hubEndpoint?: string;
  /** Starts a worker for a pool that runs SEAL's tasks in parallel (none: no pool). */
  spawnPoolWorker?: SpawnPoolWorker;
  /** Where this engine holds its loaded model (tests hand one in to place a model directly). */
  session?: ModelSession;
}

function toTensor(matrix: Matrix): tf.Tensor2D {
  if (matrix.values.length !== matrix.rows * matrix.cols) {
    throw new Error(
      `matrix of ${matrix.rows}×${matrix.cols} needs ${matrix.rows * matrix.cols} values, got ${matrix.values.length}`,
    );
  }
  return tf.tensor2d(matrix.values, [matrix.rows, matrix.cols], 'float32');
}

export function createEngine(options: EngineOptions = {}): EngineApi {
  const jobs = new JobRegistry();
  const listeners: EngineEventListener[] = [];
  let backend: BackendInfo | null = null;
  let pendingInit: Promise<unknown> = Promise.resolve();

  const log = (level: LogEntry['level'], message: string) => {
    for (const listener of listeners) {
      listener({ type: 'log', entry: { time: Date.now(), level, message } });
    }
  };
  const session = options.session ?? createModelSession();
  const store = openStore();
  const models = createModelService({
    jobs,
    cache: store,
    backend: () => backend,
    log,
    appBaseUrl: options.appBaseUrl ?? null,
    hubEndpoint: options.hubEndpoint,
    session,
  });
  const training = new FinetuneService(session.current, jobs, store);
  store.onChange((change) => {
    for (const listener of listeners) listener({ type: 'store', change });
  });
  jobs.onModelJobChange((job) => {
    for (const listener of listeners) listener({ type: 'model-job', job });
  });
  session.onReplace(() => {
    training.releaseStaleAdapters();
    // After the replacing call has finished (a load records its summary when it returns).
    void yieldToEventLoop().then(async () => {
      const model = await models.current();
      for (const listener of listeners) listener({ type: 'model', model });
    });
  });
  training.onAdaptersChange((adapters) => {
    for (const listener of listeners) listener({ type: 'adapters', adapters });
  });

  return {
    init(request) {
      // Backend switches must not interleave: tfjs has one global active backend.
      const switched = pendingInit.then(async () => {
        if (backend && backend.requested === request) return backend;
        backend = await selectBackend(request, { wasmPaths: options.wasmPaths });
        for (const reason of backend.fallbackReasons) log('warn', `Skipped ${reason}`);
        log('info', `Backend ${backend.active} is active`);
        return backend;
      });
      pendingInit = switched.catch(() => undefined);
      return switched;
    },

    async backendInfo() {
      return backend;
    },

    async memory(): Promise<MemoryInfo> {
      await pendingInit;
      if (!backend) throw new Error('no backend is active yet: the engine is still starting');
      // The WebGPU backend adds its buffer pool's totals; allocated includes freed-but-pooled.
      const memory = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
      return {
        numTensors: memory.numTensors,
        numBytes: memory.numBytes,
        gpuBytes: memory.numBytesAllocatedInGPU ?? null,
        gpuPooledBytes: webGpuMemory()?.pooledBytes ?? null,
      };
    },

    async modelJob() {
      return jobs.currentModelJob;
    },

    subscribe(listener) {
      listeners.push(listener);
    },

    async matmul(a, b) {
      if (a.cols !== b.rows) {
        throw new Error(`cannot multiply ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
      }
      const product = tf.tidy(() => tf.matMul(toTensor(a), toTensor(b)));
      try {
        return { rows: a.rows, cols: b.cols, values: (await product.data()) as Float32Array };
      } finally {
        product.dispose();
      }
    },

    async matmulBenchmark(jobId, { size, iterations }: MatmulBenchmarkOptions, onProgress) {
      return jobs.run(jobId, async (checkpoint) => {
        const a = tf.randomUniform([size, size], -1, 1, 'float32', 1) as tf.Tensor2D;
        const b = tf.randomUniform([size, size], -1, 1, 'float32', 2) as tf.Tensor2D;
        try {
          // The first run compiles shaders; it is not timed.
          await readScalarOfProduct(a, b);
          const start = performance.now();
          for (let i = 0; i < iterations; i++) {
            await checkpoint();
            await readScalarOfProduct(a, b);
            reportProgress(onProgress, i + 1, iterations);
          }
          const msPerMatmul = (performance.now() - start) / iterations;
          return {
            size,
            iterations,
            msPerMatmul,
            gflopsPerSecond: (2 * size ** 3) / (msPerMatmul * 1e6),
          };
        } finally {
          a.dispose();
          b.dispose();
        }
      });
    },

    async compareWebGpuKernels() {
      await pendingInit;
      return compareWebGpuKernels();
    },

    async compareWebGpuOptimizer() {
      await pendingInit;
      return compareWebGpuOptimizer();
    },

    async compareFloat16Storage() {
      await pendingInit;
      return compareFloat16Storage();
    },

    async compareWebGpuInference() {
      await pendingInit;
      return compareWebGpuInference();
    },

    async compareDecoding(prompts, newTokens) {
      await pendingInit;
      return compareDecoding(session.require(), prompts, newTokens);
    },

    async listBenchmarks() {
      return Object.keys(BENCHMARKS);
    },

    async runBenchmark(jobId, name) {
      const benchmark = BENCHMARKS[name];
      if (!benchmark) {
        throw new Error(
          `unknown benchmark '${name}'; known: ${Object.keys(BENCHMARKS).join(', ')}`,
        );
      }
      return jobs.run(jobId, (checkpoint) =>
        benchmark.run(checkpoint, {
          spawnPoolWorker: options.spawnPoolWorker,
          loadedModel: () => session.require(),
        }),
      );
    },

    async cancel(jobId) {
      return jobs.cancel(jobId);
    },

    async generate(jobId, request, onStep) {
      return jobs.runOnModel(jobId, 'generation', (checkpoint) =>
        generateText(session.require(), request, {
          checkpoint,
          onStep,
          adapter: training.activeAdapter() ?? undefined,
        }),
      );
    },

    async logits(tokenIds) {
      return logitsOf(session.require(), tokenIds, training.activeAdapter() ?? undefined);
    },

    store: proxy(store),
    model: proxy(models),
    train: proxy(training),
    seal: proxy(
      createSealService(store, jobs, {
        spawnPoolWorker: options.spawnPoolWorker,
        activeBackend: () => backend?.active ?? null,
        session,
      }),
    ),
    walkthrough: proxy(createWalkthroughService(jobs, session)),
    table1: proxy(
      createTable1Service(store, jobs, {
        spawnPoolWorker: options.spawnPoolWorker,
        activeBackend: () => backend?.active ?? null,
        session,
      }),
    ),
    puzzles: proxy(createPuzzleService(store, jobs, session)),
  };
}

/** Reads back one element so the timing covers the whole computation, not just its dispatch. */
async function readScalarOfProduct(a: tf.Tensor2D, b: tf.Tensor2D): Promise<number> {
  const corner = tf.tidy(() => tf.matMul(a, b).slice([0, 0], [1, 1]));
  const [value] = await corner.data();
  corner.dispose();
  return value ?? NaN;
}

function reportProgress(listener: ProgressListener | undefined, done: number, total: number) {
  listener?.({ done, total });
}
