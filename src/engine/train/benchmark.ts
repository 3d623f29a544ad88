/**
 * The `train` benchmark: SFT steps of LoRA (r = 8, r = 32) and of full fine-tuning on a
 * random Llama-shaped model built from a fixed config and seed, so it needs no files.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import { disposeModelWeights } from '../model/weights';
import { withFreshLora } from './lora';
import { BENCHMARK_LLAMA_CONFIG, randomModelWeights } from './randomModel';
import { DEFAULT_SFT_OPTIONS, trainSft, type TrainableModel, type TrainingTarget } from './sft';
import type { TokenizedSequence } from './dataset';

const BATCH = 4;
const SEQUENCE_LENGTH = 64;
const TIMED_STEPS = 5;

function benchmarkData(vocabSize: number): TokenizedSequence[] {
  return Array.from({ length: BATCH }, (_, row) => {
    const ids = Array.from({ length: SEQUENCE_LENGTH }, (_, t) => (row * 997 + t * 31) % vocabSize);
    return { ids, isTarget: ids.map((_, t) => t > 0) };
  });
}

/** Wall time per optimizer step after a 1-step warm-up (which compiles shaders). */
async function timeSteps(
  model: TrainableModel,
  data: TokenizedSequence[],
  target: TrainingTarget,
  checkpoint: Checkpoint,
): Promise<{ stepMs: number; tokensPerSecond: number }> {
  const options = { ...DEFAULT_SFT_OPTIONS, batchSize: BATCH, learningRate: 1e-4 };
  await trainSft(model, data, target, options, { checkpoint });
  const result = await trainSft(
    model,
    data,
    target,
    { ...options, epochs: TIMED_STEPS, reportEvery: TIMED_STEPS },
    { checkpoint },
  );
  return {
    stepMs: result.elapsedMs / result.steps,
    tokensPerSecond: (result.tokens * 1000) / result.elapsedMs,
  };
}

export async function runTrainBenchmark(checkpoint: Checkpoint): Promise<Record<string, number>> {
  const config = BENCHMARK_LLAMA_CONFIG;
  const model = { config, weights: randomModelWeights(config, 1) };
  const data = benchmarkData(config.vocabSize);
  const metrics: Record<string, number> = {};
  try {
    for (const rank of [8, 32]) {
      const timing = await withFreshLora(
        model.weights,
        { targets: ['q_proj', 'v_proj'], rank, alpha: 2 * rank, dropout: 0 },
        1,
        (adapter) => timeSteps(model, data, { kind: 'lora', adapter }, checkpoint),
      );
      metrics[`lora_r${rank}_train_tokens_per_s`] = timing.tokensPerSecond;
      metrics[`lora_r${rank}_step_ms`] = timing.stepMs;
    }
    const full = await timeSteps(model, data, { kind: 'full' }, checkpoint);
    metrics.full_train_tokens_per_s = full.tokensPerSecond;
    metrics.full_step_ms = full.stepMs;
    // WebGPU's buffer pool never shrinks, so what it holds now is the run's peak.
    const gpuBytes = (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number })
      .numBytesAllocatedInGPU;
    if (gpuBytes !== undefined) metrics.peak_gpu_bytes = gpuBytes;
  } finally {
    disposeModelWeights(model.weights);
  }
  return metrics;
}
