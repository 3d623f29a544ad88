import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { isCancelledError, JobRegistry } from '../../src/engine/jobs';
import type { LoadedModel } from '../../src/engine/model/session';
import { disposeModelWeights, type ModelWeights } from '../../src/engine/model/weights';
import {
  createWorkerPool,
  defaultPoolSize,
  inProcessExecutor,
  type SealExecutor,
  type SpawnPoolWorker,
} from '../../src/engine/pool/executor';
import { spawnNodePoolWorker } from '../../src/engine/pool/node';
import type { ApplyTask, ProbeTask, SealTask, SealTaskResult } from '../../src/engine/pool/tasks';
import { resolveSealConfig } from '../../src/engine/seal/config';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import type { Probe } from '../../src/engine/seal/innerLoop';
import { tinySealModel } from '../../src/engine/seal/tinyModel';
import { randomModelWeights } from '../../src/engine/train/randomModel';

// The tiny settings of experiments/tiny.json.
const config = resolveSealConfig({
  seed: 7,
  selfEdit: { samples: 2, maxNewTokens: 12 },
  inner: { epochs: 1, maxLength: 64 },
  grading: { maxAnswerTokens: 4 },
  reward: 'likelihood-gain',
});
const passage = worldSealContexts(1).train[0]!;
const questions = passage.questions.slice(0, 3);
let model: LoadedModel;
let serial: SealExecutor;
let pool: SealExecutor;
/** The unadapted model's probe, which the likelihood-gain reward is measured against. */
let before: Probe;

beforeAll(async () => {
  await selectBackend('wasm');
  model = tinySealModel(3, 1);
  serial = inProcessExecutor(model);
  pool = await createWorkerPool(model, { size: 2, spawn: spawnNodePoolWorker });
  before = await serial.run(probeTask);
});

afterAll(async () => {
  await pool?.dispose();
  disposeModelWeights(model.weights);
});

const probeTask: ProbeTask = { kind: 'probe', questions, config };

function applyTask(texts: string[], loraSeeds = [11, 12]): ApplyTask {
  return { kind: 'apply', texts, questions, config, before, loraSeeds };
}

/** Timings differ from run to run; everything else must be identical. */
function withoutTimings<T extends SealTask>(result: SealTaskResult<T>): unknown {
  if (typeof result === 'object' && 'trainMs' in result) {
    return { ...result, trainMs: 0, gradeMs: 0 };
  }
  return result;
}

async function runEach(executor: SealExecutor, tasks: SealTask[]): Promise<unknown[]> {
  const results = await Promise.all(tasks.map((task) => executor.run(task)));
  return results.map(withoutTimings);
}

async function overwrite(weights: ModelWeights, seed: number): Promise<void> {
  const replacement = randomModelWeights(model.config, seed, 0.1);
  for (const [name, variable] of weights) variable.assign(replacement.get(name)!);
  disposeModelWeights(replacement);
}

describe('worker pool', () => {
  it('gives the in-process results for tasks of every kind', async () => {
    const tasks: SealTask[] = [
      {
        kind: 'sample',
        config,
        passage: { title: passage.title, context: passage.context },
        seed: 5,
        count: 2,
      },
      probeTask,
      applyTask([passage.context]),
      applyTask([`${passage.title}\n${passage.context}`]),
      applyTask([passage.title], [13]),
    ];
    const expected = [];
    for (const task of tasks) expected.push(withoutTimings(await serial.run(task)));
    expect(pool.parallelism).toBe(2);
    expect(defaultPoolSize()).toBe(availableParallelism());
    expect(await runEach(pool, tasks)).toEqual(expected);
  });

  it('follows the model after its weights change and are synced', async () => {
    const original = await serial.run(probeTask);
    await overwrite(model.weights, 99);
    try {
      const changed = await serial.run(probeTask);
      expect(changed.goldLogLikelihood).not.toBe(original.goldLogLikelihood);
      expect(await pool.run(probeTask)).toEqual(original);
      await pool.syncWeights();
      expect(await runEach(pool, [probeTask, probeTask])).toEqual([changed, changed]);
    } finally {
      await overwrite(model.weights, 3);
      await pool.syncWeights();
    }
    expect(await pool.run(probeTask)).toEqual(original);
  });

  it("rejects a task that throws in a worker with the worker's message, and carries on", async () => {
    await expect(pool.run(applyTask([passage.context], []))).rejects.toThrow(
      'applying a self-edit needs at least one seed',
    );
    expect(await pool.run(probeTask)).toEqual(await serial.run(probeTask));
  });

  it('keeps no tensors on the main thread across runs', async () => {
    const tasks = [probeTask, applyTask([passage.context], [13])];
    await runEach(pool, tasks);
    const tensors = tf.memory().numTensors;
    await runEach(pool, tasks);
    await pool.syncWeights();
    await runEach(pool, tasks);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("rejects the running and queued tasks of a cancelled job with the job's cancel", async () => {
    const jobs = new JobRegistry();
    const outcomes = await jobs.run('pool-job', async (checkpoint) => {
      const cancellable = await createWorkerPool(model, {
        size: 2,
        spawn: spawnNodePoolWorker,
        checkpoint,
      });
      try {
        const runs = [11, 12, 13, 14, 15].map((seed) =>
          cancellable.run(applyTask([passage.context], [seed])),
        );
        // Once one has finished, the other worker is busy and the rest are running or queued.
        await Promise.race(runs);
        jobs.cancel('pool-job');
        return await Promise.allSettled(runs);
      } finally {
        await cancellable.dispose();
      }
    });
    const rejected = outcomes.flatMap((outcome) =>
      outcome.status === 'rejected' ? [outcome.reason as Error] : [],
    );
    expect(rejected.length).toBeGreaterThanOrEqual(3);
    for (const error of rejected) {
      expect(isCancelledError(error)).toBe(true);
      expect(error.message).toBe('Job pool-job was cancelled');
    }
  });

  it('hands out waiting tasks others depend on first, then the longest applications', async () => {
    const handedOut: string[] = [];
    const recording: SpawnPoolWorker = () => {
      const worker = spawnNodePoolWorker();
      return {
        ...worker,
        postMessage(request) {
          if (request.type === 'run') {
            const { task } = request;
            const seeds = task.kind === 'apply' ? task.loraSeeds.length : 0;
            handedOut.push(task.kind === 'apply' ? `${task.texts.join('|')}×${seeds}` : task.kind);
          }
          worker.postMessage(request);
        },
      };
    };
    const single = await createWorkerPool(model, { size: 1, spawn: recording });
    const { title, context } = passage;
    try {
      // The first goes out at once; the others wait for the one worker.
      const tasks: SealTask[] = [
        applyTask([title], [13]),
        applyTask([title, context], [13]),
        applyTask([context], [13]),
        probeTask,
        applyTask([context]), // two seeds: twice the work of the same text
      ];
      const expected = [];
      for (const task of tasks) expected.push(withoutTimings(await serial.run(task)));
      expect(await runEach(single, tasks)).toEqual(expected);
      expect(handedOut).toEqual([
        `${title}×1`,
        'probe',
        `${context}×2`,
        `${title}|${context}×1`,
        `${context}×1`,
      ]);
    } finally {
      await single.dispose();
    }
  });

  it('rejects the task of a worker that dies, then every task once none is left', async () => {
    // A worker whose thread is stopped as soon as it is handed a task.
    const dying: SpawnPoolWorker = () => {
      const worker = spawnNodePoolWorker();
      return {
        ...worker,
        postMessage(request) {
          if (request.type === 'run') worker.terminate();
          else worker.postMessage(request);
        },
      };
    };
    const doomed = await createWorkerPool(model, { size: 1, spawn: dying });
    try {
      await expect(doomed.run(probeTask)).rejects.toThrow('the pool worker exited with code 1');
      expect(doomed.parallelism).toBe(0);
      await expect(doomed.run(probeTask)).rejects.toThrow(
        'every pool worker has failed; the last: the pool worker exited with code 1',
      );
    } finally {
      await doomed.dispose();
    }
  });
});
