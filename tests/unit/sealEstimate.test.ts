import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine';
import { createModelSession } from '../../src/engine/model/session';
import { resolveSealConfig } from '../../src/engine/seal/config';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { estimateRun, POOL_EFFICIENCY, type SpeedTimings } from '../../src/engine/seal/estimate';
import { presetConfig, SEAL_PRESETS, sealPreset } from '../../src/engine/seal/presets';
import { totalSteps } from '../../src/engine/seal/restem';
import { probeSpeed } from '../../src/engine/seal/speedProbe';
import { tinySealModel } from '../../src/engine/seal/tinyModel';
import { runWork, type RunWork } from '../../src/engine/seal/work';
import table2 from '../../experiments/table2.json';

/** Two rounds' worth of every kind of work: held-out conditions, K = 3, two LoRA seeds. */
const SMALL = resolveSealConfig({
  selfEdit: { samples: 3, maxNewTokens: 10, maxLines: 4 },
  inner: { epochs: 2, seeds: 2 },
  outer: { rounds: 1, contextsPerRound: 2, mStep: { epochs: 2 } },
  heldOut: { contexts: 2, conditions: ['base', 'passage', 'self-edit'] },
});

describe('runWork', () => {
  it('counts what each planned step runs, sharing a context’s samples and unadapted probe', () => {
    const work = runWork(SMALL, worldSealContexts(1));
    // Round 0: 2 held-out passages × (base probe; passage fine-tune + probe; one self-edit
    // sampled, fine-tuned, probed); 2 contexts × (3 samples in one call, one unadapted probe,
    // 3 self-edits × 2 seeds fine-tuned and probed); an M-step on 2 examples. Round 1: the 2
    // held-out passages' self-edits again.
    expect(work).toEqual({
      samplings: [
        { sequences: 1, count: 4 },
        { sequences: 3, count: 2 },
      ],
      fineTunes: [
        { selfEdits: 0, passages: 1, count: 2 },
        { selfEdits: 1, passages: 0, count: 2 + 12 + 2 },
      ],
      probedPassages: 6 + 2 + 12 + 2,
      mSteps: [2],
    });
  });

  it('counts a pooled held-out unit as one fine-tune on its passages’ self-edits', () => {
    const config = resolveSealConfig({
      outer: { rounds: 0 },
      heldOut: { contexts: 8, mode: 'pooled', poolSize: 4, conditions: ['self-edit'] },
    });
    expect(runWork(config, worldSealContexts(1))).toEqual({
      samplings: [{ sequences: 1, count: 8 }],
      fineTunes: [{ selfEdits: 4, passages: 0, count: 2 }],
      probedPassages: 8,
      mSteps: [],
    });
  });
});

describe('estimateRun', () => {
  const timings: SpeedTimings = {
    decodeStep: { fixedMs: 2, perSequenceMs: 1 },
    trainStepMs: 10,
    probeMs: 5,
  };
  const work: RunWork = {
    samplings: [
      { sequences: 1, count: 4 },
      { sequences: 3, count: 2 },
    ],
    fineTunes: [
      { selfEdits: 0, passages: 1, count: 2 },
      { selfEdits: 1, passages: 0, count: 16 },
    ],
    probedPassages: 22,
    mSteps: [2],
  };

  it('prices self-edits at half their limits for the short end and at the limits for the long end', () => {
    // Long end: 10 tokens, 4 lines (5 examples, 10 steps a fine-tune).
    const highParallel = 4 * 10 * (2 + 1) + 2 * 10 * (2 + 3) + 2 * 2 * 10 + 16 * 10 * 10 + 22 * 5;
    // Short end: 5 tokens, 2 lines (3 examples, 6 steps).
    const lowParallel = 4 * 5 * (2 + 1) + 2 * 5 * (2 + 3) + 2 * 2 * 10 + 16 * 6 * 10 + 22 * 5;
    const mStep = 2 * 2 * 10;
    expect(estimateRun(SMALL, work, timings, 1)).toEqual({
      lowSeconds: (lowParallel + mStep) / 1000,
      highSeconds: (highParallel + mStep) / 1000,
    });
  });

  it('divides the self-edit work among pool workers but not the M-step', () => {
    const one = estimateRun(SMALL, work, timings, 1);
    const four = estimateRun(SMALL, work, timings, 4);
    const mStepSeconds = 0.04;
    expect(four.highSeconds).toBeCloseTo(
      (one.highSeconds - mStepSeconds) / (4 * POOL_EFFICIENCY) + mStepSeconds,
      12,
    );
  });

  it('counts optimizer steps by batch size', () => {
    const batched = { ...SMALL, inner: { ...SMALL.inner, batchSize: 2 } };
    const fineTuneOnly: RunWork = {
      samplings: [],
      fineTunes: [{ selfEdits: 1, passages: 0, count: 1 }],
      probedPassages: 0,
      mSteps: [],
    };
    // 5 examples in batches of 2: 3 steps an epoch, 2 epochs.
    expect(estimateRun(batched, fineTuneOnly, timings, 1).highSeconds).toBe((3 * 2 * 10) / 1000);
  });
});

describe('SEAL presets', () => {
  it('are valid settings, the paper protocol being experiments/table2.json', () => {
    for (const preset of SEAL_PRESETS) expect(() => presetConfig(preset)).not.toThrow();
    const paper = sealPreset('paper-protocol')!;
    expect(presetConfig(paper)).toEqual(resolveSealConfig(table2.seal));
    expect(paper.worldSeed).toBe(table2.world);
  });

  it('grow from demo to protocol', () => {
    const steps = SEAL_PRESETS.map((preset) =>
      totalSteps(presetConfig(preset), worldSealContexts(preset.worldSeed)),
    );
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  });
});

describe('probeSpeed', () => {
  const session = createModelSession();
  const engine = createEngine({ session });
  beforeAll(() => engine.init('wasm'));
  afterAll(() => session.replace(null));

  it('times the tiny model with positive timings and frees its tensors', async () => {
    const model = tinySealModel(3, 1);
    session.replace(model);
    const before = tf.memory().numTensors;
    const timings = await probeSpeed(model, async () => undefined);
    expect(tf.memory().numTensors).toBe(before);
    expect(timings.decodeStep.fixedMs + timings.decodeStep.perSequenceMs).toBeGreaterThan(0);
    expect(timings.decodeStep.perSequenceMs).toBeGreaterThanOrEqual(0);
    expect(timings.trainStepMs).toBeGreaterThan(0);
    expect(timings.probeMs).toBeGreaterThan(0);
  });

  it('runs as a model job through the engine, with what it measured on', async () => {
    const probe = await engine.seal.probeSpeed('probe');
    expect(probe.modelId).toBe(session.current()!.id);
    expect(probe.backend).toBe('wasm');
    expect(probe.workers).toBeGreaterThanOrEqual(1);
    expect(probe.timings.trainStepMs).toBeGreaterThan(0);
    const work = await engine.seal.plannedWork({ config: SMALL, worldSeed: 1 });
    expect(work).toEqual(runWork(SMALL, worldSealContexts(1)));
  });
});
