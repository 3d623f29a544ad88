import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine';
import { isCancelledError } from '../../src/engine/jobs';
import type { GenerateRequest } from '../../src/engine/model/generateText';
import { createModelSession } from '../../src/engine/model/session';
import { loadFixtureModel, maxAbsDifference } from './llamaFixtures';

const request: GenerateRequest = {
  prompts: [{ kind: 'completion', text: 'The fox jumps' }],
  samplesPerPrompt: 2,
  maxNewTokens: 4,
  sampling: { temperature: 0.8, topK: 0, topP: 0.9, seed: 3 },
};

const session = createModelSession();
afterAll(() => session.replace(null));

describe('engine.generate', () => {
  it('needs a loaded model, then generates, streams and cancels', async () => {
    const engine = createEngine({ session });
    await engine.init('wasm');
    await expect(engine.generate('g0', request)).rejects.toThrow('no model is loaded');

    const fixture = await loadFixtureModel('tiny-llama');
    session.replace({ id: 'tiny-llama', ...fixture, generationConfig: null, chatTemplate: null });
    const before = tf.memory().numTensors;
    const texts: string[][] = [];
    const response = await engine.generate('g1', request, (step) => texts.push(step.texts));
    expect(response.sequences).toHaveLength(2);
    expect(texts.at(-1)).toEqual(response.sequences.map((s) => s.text));
    expect(response.stats.generatedTokens).toBeGreaterThan(0);

    const long = engine.generate('g2', { ...request, maxNewTokens: 100 }, (step) => {
      if (step.step === 2) void engine.cancel('g2');
    });
    expect(isCancelledError(await long.catch((error: unknown) => error))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('lets one job use the model at a time, and names it when refusing another', async () => {
    const engine = createEngine({ session });
    await engine.init('wasm');
    const fixture = await loadFixtureModel('tiny-llama');
    session.replace({ id: 'tiny-llama', ...fixture, generationConfig: null, chatTemplate: null });
    const seen: (string | null)[] = [];
    engine.subscribe((event) => {
      if (event.type === 'model-job') seen.push(event.job?.label ?? null);
    });
    const refusals: string[] = [];
    const refused = (attempt: () => Promise<unknown>) =>
      attempt().then(
        () => refusals.push('not refused'),
        (error: unknown) => refusals.push((error as Error).message),
      );
    const long = engine.generate('g3', { ...request, maxNewTokens: 100 }, (step) => {
      if (step.step !== 2) return;
      void (async () => {
        expect(await engine.modelJob()).toEqual({ id: 'g3', label: 'generation' });
        await refused(() => engine.generate('g4', request));
        await refused(() =>
          engine.train.finetune('f', {
            dataset: { source: 'a fox', format: 'text' },
            method: { kind: 'full' },
            lossOn: 'all',
          }),
        );
        await refused(() => engine.seal.startRun('s', { config: {}, worldSeed: 1 }));
        await refused(() => engine.seal.loadTinyModel(1, 1));
        await refused(() => engine.model.unload());
        await refused(() => engine.model.load('l', { kind: 'shipped', name: 'x' }));
        await engine.cancel('g3');
      })();
    });
    expect(isCancelledError(await long.catch((error: unknown) => error))).toBe(true);
    expect(refusals).toEqual([
      'Generation cannot start: the model is busy with generation. Let it finish, or pause or cancel it first.',
      'Fine-tuning cannot start: the model is busy with generation. Let it finish, or pause or cancel it first.',
      'A SEAL run cannot start: the model is busy with generation. Let it finish, or pause or cancel it first.',
      'Loading the tiny demo model cannot start: the model is busy with generation. Let it finish, or pause or cancel it first.',
      'Unloading the model cannot start: the model is busy with generation. Let it finish, or pause or cancel it first.',
      'A model load cannot start: the model is busy with generation. Let it finish, or pause or cancel it first.',
    ]);
    expect(seen).toEqual(['generation', null]);
    expect(await engine.modelJob()).toBeNull();
    // Once it has ended, the model is free again.
    expect((await engine.generate('g5', request)).sequences).toHaveLength(2);
  });

  it('describes and announces the tiny demo model as the loaded model, though it has no files', async () => {
    const engine = createEngine({ session });
    await engine.init('wasm');
    const announced = new Promise<string | null>((resolve) =>
      engine.subscribe((event) => {
        if (event.type === 'model') resolve(event.model?.id ?? null);
      }),
    );
    await engine.seal.loadTinyModel(3, 1);
    // The UI hears of it without asking.
    expect(await announced).toBe('tiny-seal-3-world-1');
    const summary = await engine.model.current();
    expect(summary?.id).toBe('tiny-seal-3-world-1');
    expect(summary?.fileBytes).toBe(0);
    expect(summary?.parameters).toBeGreaterThan(0);
    await engine.model.unload();
    expect(await engine.model.current()).toBeNull();
  });

  it('returns the logits transformers computes', async () => {
    const engine = createEngine({ session });
    await engine.init('wasm');
    const fixture = await loadFixtureModel('tiny-qwen2');
    session.replace({ id: 'tiny-qwen2', ...fixture, generationConfig: null, chatTemplate: null });
    const { input_ids: ids, logits: expected } = fixture.goldens;
    const logits = await engine.logits(ids);
    expect(logits.shape).toEqual([ids.length, ids[0]!.length, fixture.config.vocabSize]);
    expect(maxAbsDifference(logits.values, expected)).toBeLessThan(1e-4);
    await expect(engine.logits([[1, 2], [3]])).rejects.toThrow('all of the same non-zero length');
    await expect(engine.logits([[1, 4000]])).rejects.toThrow(
      'token id 4000 is outside the vocabulary of 448',
    );
  });
});
