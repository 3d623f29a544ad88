/**
 * The `growth` benchmark: whether repeated training steps leak. A small Llama is fine-tuned (all
 * weights, AdamW, our kernels) for 1,000 steps on wasm and cpu and 50 on webgpu (a step of a
 * software GPU takes long), and memory is read at every tenth step: live tensors, tensor bytes
 * and, on webgpu, the device buffers in use. `*_growth` is the last reading less the first (after
 * step 10, once every buffer and compiled program a step needs exists), so zero means a thousand
 * steps hold what ten held; `*_after_training` compares after a first, one-step training job
 * (webgpu uploads weights on first use) with after the long one.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import { disposeModelWeights } from '../model/weights';
import { webGpuMemory } from '../webgpuMemory';
import { randomModelWeights, randomSequences, SMALL_LLAMA_CONFIG } from './randomModel';
import { DEFAULT_SFT_OPTIONS, trainSft } from './sft';

const READ_EVERY = 10;
const SEQUENCES = 2;
const LENGTH = 16;

interface MemoryReading {
  tensors: number;
  bytes: number;
  gpuBytesInUse: number | null;
}

function readMemory(): MemoryReading {
  const { numTensors, numBytes } = tf.memory();
  return {
    tensors: numTensors,
    bytes: numBytes,
    gpuBytesInUse: webGpuMemory()?.inUseBytes ?? null,
  };
}

function growthMetrics(prefix: string, from: MemoryReading, to: MemoryReading) {
  const metrics: Record<string, number> = {
    [`tensor_count_${prefix}`]: to.tensors - from.tensors,
    [`tensor_bytes_${prefix}`]: to.bytes - from.bytes,
  };
  if (from.gpuBytesInUse !== null && to.gpuBytesInUse !== null) {
    metrics[`gpu_bytes_${prefix}`] = to.gpuBytesInUse - from.gpuBytesInUse;
  }
  return metrics;
}

export async function runGrowthBenchmark(checkpoint: Checkpoint): Promise<Record<string, number>> {
  const steps = tf.getBackend() === 'webgpu' ? 50 : 1000;
  const config = SMALL_LLAMA_CONFIG;
  const model = { config, weights: randomModelWeights(config, 1) };
  const data = randomSequences(SEQUENCES, LENGTH, config.vocabSize, 3);
  const readings: MemoryReading[] = [];
  const options = {
    ...DEFAULT_SFT_OPTIONS,
    batchSize: SEQUENCES,
    reportEvery: READ_EVERY,
    learningRate: 1e-4,
  };
  try {
    await trainSft(model, data, { kind: 'full' }, { ...options, epochs: 1 }, { checkpoint });
    const before = readMemory();
    const result = await trainSft(
      model,
      data,
      { kind: 'full' },
      { ...options, epochs: steps },
      { checkpoint, onProgress: () => readings.push(readMemory()) },
    );
    const after = readMemory();
    if (readings.length < 2) throw new Error(`only ${readings.length} memory readings`);
    return {
      steps,
      train_tokens_per_s: (steps * SEQUENCES * LENGTH * 1000) / result.elapsedMs,
      ...growthMetrics('growth', readings[0]!, readings.at(-1)!),
      ...growthMetrics('growth_after_training', before, after),
    };
  } finally {
    disposeModelWeights(model.weights);
  }
}
