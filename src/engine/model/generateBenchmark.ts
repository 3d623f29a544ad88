/**
 * The `generate` benchmark: prefill and decode speed of a random Llama-shaped model (fixed config
 * and seed, so no files are needed; speed does not depend on what the weights say), for one
 * sequence and for five sampled at once as SEAL samples its self-edits, and whether memory
 * stays flat over repeated generations.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import { createRandom } from '../random';
import { BENCHMARK_LLAMA_CONFIG, randomModelWeights } from '../train/randomModel';
import { generate, type GenerationModel, type GenerationStats } from './generate';
import { GREEDY, type SamplingOptions } from './sampling';
import { disposeModelWeights } from './weights';
import { median } from '../median';

const PROMPT_TOKENS = 64;
const NEW_TOKENS = 32;
const TIMED_RUNS = 3;
const LEAK_RUNS = 20;
/** Short generations suffice to see whether memory grows: every shape occurs in each. */
const LEAK_RUN_NEW_TOKENS = 4;
const SAMPLING: SamplingOptions = { temperature: 1, topK: 0, topP: 0.95, seed: 1 };

interface MemorySnapshot {
  numTensors: number;
  numBytes: number;
  gpuBytes: number | undefined;
}

function memorySnapshot(): MemorySnapshot {
  const memory = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  return {
    numTensors: memory.numTensors,
    numBytes: memory.numBytes,
    gpuBytes: memory.numBytesAllocatedInGPU,
  };
}

export async function runGenerateBenchmark(
  checkpoint: Checkpoint,
): Promise<Record<string, number>> {
  const model: GenerationModel = {
    config: BENCHMARK_LLAMA_CONFIG,
    weights: randomModelWeights(BENCHMARK_LLAMA_CONFIG, 1),
  };
  const random = createRandom(2);
  const prompt = Array.from({ length: PROMPT_TOKENS }, () =>
    Math.floor(random() * BENCHMARK_LLAMA_CONFIG.vocabSize),
  );
  const run = (
    batch: number,
    sampling: SamplingOptions,
    maxNewTokens = NEW_TOKENS,
  ): Promise<GenerationStats> =>
    generate(
      model,
      Array.from({ length: batch }, () => prompt),
      { maxNewTokens, sampling, stopTokenIds: [], checkpoint },
    ).then((result) => result.stats);
  const timed = async (batch: number, sampling: SamplingOptions) => {
    await run(batch, sampling); // compiles shaders and fills the buffer pool
    const stats: GenerationStats[] = [];
    for (let i = 0; i < TIMED_RUNS; i++) stats.push(await run(batch, sampling));
    return {
      prefill: median(stats.map((s) => s.prefillTokensPerSecond)),
      decode: median(stats.map((s) => s.decodeTokensPerSecond)),
    };
  };

  try {
    const single = await timed(1, GREEDY);
    const batch5 = await timed(5, SAMPLING);

    const before = memorySnapshot();
    for (let i = 0; i < LEAK_RUNS; i++) await run(5, SAMPLING, LEAK_RUN_NEW_TOKENS);
    const after = memorySnapshot();

    const metrics: Record<string, number> = {
      prefill_tokens_per_s: single.prefill,
      decode_tokens_per_s: single.decode,
      prefill_batch5_tokens_per_s: batch5.prefill,
      decode_batch5_tokens_per_s: batch5.decode,
      tensor_count_growth: after.numTensors - before.numTensors,
      tensor_bytes_growth_bytes: after.numBytes - before.numBytes,
    };
    if (before.gpuBytes !== undefined && after.gpuBytes !== undefined) {
      metrics.gpu_bytes_growth_bytes = after.gpuBytes - before.gpuBytes;
    }
    return metrics;
  } finally {
    disposeModelWeights(model.weights);
  }
}
