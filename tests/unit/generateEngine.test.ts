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
