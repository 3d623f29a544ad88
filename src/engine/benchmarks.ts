/**
 * Named benchmarks. They live in the engine so the very same code is timed in Node (wasm) and in
 * the browser's Worker (webgpu, wasm); `npm run bench` drives both. Metric names are snake_case
 * with their unit as a suffix.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from './backendChoice';
import type { Checkpoint } from './jobs';
import { runGenerateBenchmark } from './model/generateBenchmark';
import { runTrainBenchmark } from './train/benchmark';
import { runSealBenchmark } from './seal/benchmark';
import type { SealModel } from './seal/innerLoop';
import { runWalkthroughBenchmark } from './seal/walkthroughBenchmark';
import { runPoolBenchmark } from './pool/benchmark';
import { runShapeBenchmark } from './shapeBenchmark';
import { runGrowthBenchmark } from './train/growthBenchmark';
import { runFloat16Benchmark } from './model/float16Benchmark';
import type { SpawnPoolWorker } from './pool/executor';
import { median } from './median';

export type Metrics = Record<string, number>;

/** What a benchmark may need from the environment hosting the engine. */
export interface BenchmarkEnvironment {
  spawnPoolWorker?: SpawnPoolWorker;
  /** The engine's loaded model (throws when none is). */
  loadedModel: () => SealModel;
}

export interface Benchmark {
  description: string;
  /** The backends it runs on; webgpu and wasm when absent (cpu, whose steps are slow, only when listed). */
  backends?: readonly BackendName[];
  /** It times the loaded model, which `npm run bench` loads in Node only (the default model). */
  needsLoadedModel?: boolean;
  run(checkpoint: Checkpoint, environment: BenchmarkEnvironment): Promise<Metrics>;
}

/** Median wall time of `repeats` runs of `step`, after `warmup` untimed ones. */
export async function medianMs(
  step: () => Promise<unknown>,
  { warmup, repeats, checkpoint }: { warmup: number; repeats: number; checkpoint: Checkpoint },
): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await checkpoint();
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  return median(times);
}

async function timeMatmul(size: number, checkpoint: Checkpoint): Promise<number> {
  const [a, b] = [1, 2].map((seed) => tf.randomUniform([size, size], -1, 1, 'float32', seed));
  try {
    return await medianMs(
      async () => {
        const product = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
        await product.data();
        product.dispose();
      },
      { warmup: 2, repeats: 7, checkpoint },
    );
  } finally {
    tf.dispose([a!, b!]);
  }
}

/** One Adam step of a 784→128→10 MLP on a batch of 256: the classic small training workload. */
async function timeMlpStep(checkpoint: Checkpoint): Promise<number> {
  const seeds = { w1: 1, w2: 2, x: 3 };
  const w1 = tf.variable(tf.randomNormal([784, 128], 0, 0.05, 'float32', seeds.w1));
  const b1 = tf.variable(tf.zeros([128]));
  const w2 = tf.variable(tf.randomNormal([128, 10], 0, 0.05, 'float32', seeds.w2));
  const b2 = tf.variable(tf.zeros([10]));
  const x = tf.randomUniform([256, 784], 0, 1, 'float32', seeds.x);
  const labels = tf.oneHot(
    tf.range(0, 256, 1, 'int32').mod(tf.scalar(10, 'int32')) as tf.Tensor1D,
    10,
  );
  const optimizer = tf.train.adam(1e-3);
  try {
    return await medianMs(
      async () => {
        const loss = optimizer.minimize(
          () =>
            tf.losses.softmaxCrossEntropy(
              labels,
              x.matMul(w1).add(b1).relu().matMul(w2).add(b2),
            ) as tf.Scalar,
          true,
          [w1, b1, w2, b2],
        );
        await loss!.data();
        loss!.dispose();
      },
      { warmup: 2, repeats: 7, checkpoint },
    );
  } finally {
    optimizer.dispose();
    tf.dispose([w1, b1, w2, b2, x, labels]);
  }
}

export const BENCHMARKS: Record<string, Benchmark> = {
  matmul: {
    description: 'square float32 matrix products',
    async run(checkpoint) {
      const metrics: Metrics = {};
      for (const size of [256, 512]) {
        const ms = await timeMatmul(size, checkpoint);
        metrics[`matmul_${size}_ms`] = ms;
        metrics[`matmul_${size}_gflops_per_s`] = (2 * size ** 3) / (ms * 1e6);
      }
      return metrics;
    },
  },
  generate: {
    description:
      'prefill and decode tokens/s of a 5M-parameter Llama, 1 and 5 sequences, 64-token prompt + 32 new; memory growth over 20 generations',
    run: runGenerateBenchmark,
  },
  train: {
    description: 'LoRA (r=8, r=32) and full fine-tuning steps of a 5M-parameter Llama, 4×64 tokens',
    run: runTrainBenchmark,
  },
  seal: {
    description:
      'one SEAL self-edit evaluation with the default settings on a random model shaped like the default one: sampling, fine-tuning, answering and grading; the M-step; a round',
    run: runSealBenchmark,
  },
  walkthrough: {
    description:
      "the guided walkthrough's episode with the default settings on the loaded model: a validation passage, one self-edit, the LoRA fine-tune, closed-book answers before and after, the reward",
    needsLoadedModel: true,
    run: (checkpoint, { loadedModel }) => runWalkthroughBenchmark(checkpoint, loadedModel()),
  },
  pool: {
    description:
      '16 self-edits of one context applied and graded on a random model shaped like the default one, one after another in this thread and then on a pool of one wasm worker per hardware thread',
    // Its workers run wasm: the in-process run it is checked against must too.
    backends: ['wasm'],
    run: (checkpoint, { spawnPoolWorker }) => runPoolBenchmark(checkpoint, spawnPoolWorker),
  },
  shape: {
    description:
      'full AdamW training (8×128 tokens) and KV-cache decoding of a random Llama (vocab 512, 4 layers, 4 heads, hidden 128, MLP 512): tokens/s with our kernels and with stock tfjs, kernel calls per step and per token, memory',
    backends: ['webgpu', 'wasm', 'cpu'],
    run: runShapeBenchmark,
  },
  growth: {
    description:
      'memory over repeated AdamW steps of a small Llama (2×16 tokens): live tensors, tensor bytes and device buffers in use, from step 10 to step 1,000 (50 on webgpu)',
    backends: ['webgpu', 'wasm', 'cpu'],
    run: runGrowthBenchmark,
  },
  float16: {
    description:
      "the shape benchmark's model with float32 and with float16 weights, side by side: weight bytes, greedy decoding and LoRA training steps (rank 8, 8×128 tokens), with the device memory in use while training",
    run: runFloat16Benchmark,
  },
  'train-step': {
    description: 'an Adam step of a small MLP (784→128→10, batch 256)',
    async run(checkpoint) {
      return { mlp_train_step_ms: await timeMlpStep(checkpoint) };
    },
  },
};

/** The backends benchmark `name` runs on. */
export function benchmarkBackends(name: string): readonly BackendName[] {
  return BENCHMARKS[name]?.backends ?? ['webgpu', 'wasm'];
}
