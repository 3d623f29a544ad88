/**
 * The `pool` benchmark: an E-step-like batch (16 self-edits of one context, each applied to a
 * fresh LoRA and graded; a round of the default settings applies 120) on a seeded random model of the default model's shape, run one after another
 * in this thread and then spread over a pool of one worker per hardware thread. The two must give
 * identical results.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import { disposeModelWeights } from '../model/weights';
import { DEFAULT_MODEL_SHAPE } from '../seal/benchmark';
import { DEFAULT_SEAL_CONFIG } from '../seal/config';
import { worldSealContexts } from '../seal/contexts';
import { seedOf } from '../seal/plan';
import { selfEditTrainingTexts } from '../seal/selfEdit';
import { tinySealModel } from '../seal/tinyModel';
import {
  createWorkerPool,
  defaultPoolSize,
  inProcessExecutor,
  type SealExecutor,
  type SpawnPoolWorker,
} from './executor';
import type { ApplyTask, ProbeTask } from './tasks';

const WORLD_SEED = 1;
const SELF_EDITS = 16;

/**
 * CPU time of this process, all its threads (workers included), where the platform tells it
 * (Node): on a machine shared with other work, wall time alone cannot tell the pool's own
 * overhead from cores taken by others.
 */
function processCpuSeconds(): number {
  const usage = globalThis.process?.cpuUsage?.();
  return usage ? (usage.user + usage.system) / 1e6 : Number.NaN;
}

async function timeAll(
  executor: SealExecutor,
  tasks: readonly ApplyTask[],
): Promise<{ seconds: number; cpuSeconds: number; results: unknown[] }> {
  const start = performance.now();
  const cpuStart = processCpuSeconds();
  const applied = await Promise.all(tasks.map((task) => executor.run(task)));
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = processCpuSeconds() - cpuStart;
  // Timings are the only fields allowed to differ.
  const results = applied.map((result) => ({ ...result, trainMs: 0, gradeMs: 0 }));
  return { seconds, cpuSeconds, results };
}

export async function runPoolBenchmark(
  checkpoint: Checkpoint,
  spawn: SpawnPoolWorker | undefined,
): Promise<Record<string, number>> {
  if (!spawn) throw new Error('this engine cannot start pool workers');
  if (tf.getBackend() !== 'wasm') {
    throw new Error(
      `pool workers run wasm: the pool benchmark needs it here too, not ${tf.getBackend()}`,
    );
  }
  const config = DEFAULT_SEAL_CONFIG;
  const model = tinySealModel(1, WORLD_SEED, DEFAULT_MODEL_SHAPE);
  const passage = worldSealContexts(WORLD_SEED).train[0]!;
  const serial = inProcessExecutor(model, checkpoint);
  let pool: SealExecutor | null = null;
  try {
    const probe: ProbeTask = { kind: 'probe', questions: passage.questions, config };
    // Untimed: the unadapted probe warms this thread's caches and is every reward's baseline.
    const before = await serial.run(probe);
    const selfEdits = await serial.run({
      kind: 'sample',
      config,
      passage,
      seed: seedOf(config.seed, 1),
      count: SELF_EDITS,
    });
    const tasks = selfEdits.map((selfEdit): ApplyTask => ({
      kind: 'apply',
      texts: selfEditTrainingTexts(config.format, passage.title, passage.context, selfEdit.text),
      questions: passage.questions,
      config,
      before,
      loraSeeds: [seedOf(config.seed, 2)],
    }));
    // Untimed: one application warms this thread's compiled code and memory for training.
    await serial.run(tasks[0]!);
    const inProcess = await timeAll(serial, tasks);

    const start = performance.now();
    pool = await createWorkerPool(model, { size: defaultPoolSize(), spawn, checkpoint });
    const poolStartS = (performance.now() - start) / 1000;
    // Untimed, one per worker: each worker warms as this thread did.
    await Promise.all(Array.from({ length: pool.parallelism }, () => pool!.run(tasks[0]!)));
    const pooled = await timeAll(pool, tasks);
    if (JSON.stringify(pooled.results) !== JSON.stringify(inProcess.results)) {
      throw new Error('the pool gave other results than the in-process run');
    }
    const metrics: Record<string, number> = {
      serial_s: inProcess.seconds,
      pool_s: pooled.seconds,
      pool_speedup: inProcess.seconds / pooled.seconds,
      pool_size: pool.parallelism,
      pool_start_s: poolStartS,
      tasks: tasks.length,
    };
    if (Number.isFinite(inProcess.cpuSeconds)) {
      metrics.serial_cpu_s = inProcess.cpuSeconds;
      metrics.pool_cpu_s = pooled.cpuSeconds;
    }
    return metrics;
  } finally {
    await pool?.dispose();
    disposeModelWeights(model.weights);
  }
}
