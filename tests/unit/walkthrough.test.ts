import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WalkthroughEvent, WalkthroughRequest } from '../../src/engine/api';
import { createEngine } from '../../src/engine/engine';
import { isCancelledError } from '../../src/engine/jobs';
import { createModelSession } from '../../src/engine/model/session';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { gradeAnswer } from '../../src/engine/seal/grade';
import { goldAnswerProbabilities } from '../../src/engine/seal/goldAnswer';
import { tinySealModel } from '../../src/engine/seal/tinyModel';
import { answerCompletion, closedBookPrompt } from '../../src/engine/prompts';
import { checkSelfEditLine, generateWorld } from '../../src/engine/world';
import { selfEditLines } from '../../src/engine/seal/selfEdit';
import { loadShippedModel } from './shippedModel';

const session = createModelSession();
const engine = createEngine({ session });
let model: ReturnType<typeof tinySealModel>;

beforeAll(async () => {
  await engine.init('wasm');
  model = tinySealModel(3, 1);
  session.replace(model);
});
afterAll(() => session.replace(null));

/** A short self-edit, a few fine-tuning steps, three questions. */
const TINY = {
  selfEdit: { maxNewTokens: 24 },
  inner: { epochs: 2, maxLength: 48, lora: { rank: 4, alpha: 8 } },
  grading: { maxAnswerTokens: 4, maxQuestions: 3 },
};

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

describe('engine.walkthrough', () => {
  it('reads a validation passage, never an evaluation one, the same for the same seed', async () => {
    const validation = worldSealContexts(1, 'validation').heldOut.map((p) => p.id);
    const evaluation = worldSealContexts(1).heldOut.map((p) => p.id);
    const picked = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5]) {
      const passage = await engine.walkthrough.passage({ worldSeed: 1, seed });
      expect(passage.split).toBe('validation');
      expect(passage.count).toBe(validation.length);
      expect(validation[passage.index]).toBe(passage.id);
      expect(evaluation).not.toContain(passage.id);
      expect(await engine.walkthrough.passage({ worldSeed: 1, seed })).toEqual(passage);
      picked.add(passage.id);
    }
    expect(picked.size).toBeGreaterThan(1);
  });

  for (const reward of ['likelihood-gain', 'improvement', 'accuracy'] as const) {
    it(`runs one episode whose steps agree with each other (${reward} reward) and frees every tensor`, async () => {
      const request: WalkthroughRequest = { worldSeed: 1, seed: 4, config: { ...TINY, reward } };
      const before = tf.memory().numTensors;
      const world = generateWorld(1);
      const passage = await engine.walkthrough.passage(request);

      const events: WalkthroughEvent[] = [];
      const selfEdit = await engine.walkthrough.writeSelfEdit('write', request, (event) =>
        events.push(event),
      );
      const streamed = events.filter((e) => e.type === 'self-edit-text');
      expect(streamed.length).toBeGreaterThan(0);
      expect(streamed.at(-1)!.text.startsWith(selfEdit.text)).toBe(true);
      expect(selfEdit.prompt).toContain(passage.context);
      for (const line of selfEdit.lines) {
        expect(line.verdict, line.text).toBe(checkSelfEditLine(world, passage.id, line.text));
      }
      expect(selfEdit.trainingTexts).toHaveLength(selfEdit.lines.length + 1);
      expect(selfEdit.trainingTexts.at(-1)).toBe(`${passage.title}\n${passage.context}`);

      events.length = 0;
      const update = await engine.walkthrough.applySelfEdit('apply', request, selfEdit.text, (e) =>
        events.push(e),
      );
      const losses = events.flatMap((e) => (e.type === 'loss' ? [e.loss] : []));
      expect(losses).toEqual(update.losses);
      expect(update.losses).toHaveLength(2 * update.finetune.examples);
      expect(events.at(-1)).toEqual({ type: 'answering' });

      expect(update.questions.map((q) => q.question)).toEqual(
        passage.questions.slice(0, 3).map((q) => q.question),
      );
      for (const side of ['before', 'after'] as const) {
        const grades = update.questions.map((q) => q[side].grade);
        update.questions.forEach((q) => {
          expect(q[side].grade).toBe(gradeAnswer('exact-match', q[side].answer, q.gold));
          expect(q[side].goldProbability).toBeGreaterThanOrEqual(0);
          expect(q[side].goldProbability).toBeLessThanOrEqual(1);
        });
        expect(update[side].accuracy).toBeCloseTo(mean(grades), 12);
      }
      const expected = {
        'likelihood-gain': update.after.goldLogLikelihood - update.before.goldLogLikelihood,
        improvement: update.after.accuracy > update.before.accuracy ? 1 : 0,
        accuracy: update.after.accuracy,
      }[reward];
      expect(update.reward).toEqual({ mode: reward, value: expected, metric: 'exact-match' });
      // The update moved the model: some gold answer's probability changed.
      expect(
        update.questions.some((q) => q.before.goldProbability !== q.after.goldProbability),
      ).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("marks each line of the default model's self-edit as the world's fact checker does", async () => {
    const defaultModel = await loadShippedModel();
    session.replace(defaultModel);
    try {
      const request: WalkthroughRequest = { worldSeed: 1, seed: 1 };
      const passage = await engine.walkthrough.passage(request);
      const selfEdit = await engine.walkthrough.writeSelfEdit('write-default', request);
      const world = generateWorld(1);
      expect(selfEdit.lines.map((line) => line.text)).toEqual(
        selfEditLines('implications', selfEdit.text),
      );
      expect(selfEdit.lines.length).toBeGreaterThan(1);
      for (const line of selfEdit.lines) {
        expect(line.verdict, line.text).toBe(checkSelfEditLine(world, passage.id, line.text));
      }
      expect(selfEdit.lines.some((line) => line.verdict !== 'unverifiable')).toBe(true);
    } finally {
      // Replacing the model freed the tiny one's weights.
      model = tinySealModel(3, 1);
      session.replace(model);
    }
  });

  it("scores a gold answer's probability as the product of its tokens' probabilities", async () => {
    const question = { question: 'Where was Pakerk Foujai born?', answer: 'Troratoun' };
    const [probability] = await goldAnswerProbabilities(model, [question], {
      promptStyle: 'completion',
    });
    const prompt = model.tokenizer.encode(closedBookPrompt(question.question));
    const answer = model.tokenizer.encode(answerCompletion(question.answer), {
      addSpecialTokens: false,
    });
    const ids = [...prompt, ...answer];
    const { values, shape } = await engine.logits([ids]);
    const vocab = shape[2];
    let logProbability = 0;
    for (let t = prompt.length; t < ids.length; t++) {
      const row = values.subarray((t - 1) * vocab, t * vocab);
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((sum, z) => sum + Math.exp(z - max), 0));
      logProbability += row[ids[t]!]! - logSum;
    }
    expect(probability).toBeCloseTo(Math.exp(logProbability), 6);
  });

  it('is the model’s one job, and a cancelled step frees what it made', async () => {
    const request: WalkthroughRequest = { worldSeed: 1, seed: 2, config: TINY };
    const before = tf.memory().numTensors;
    let refused: unknown = null;
    const cancelled = engine.walkthrough.applySelfEdit('slow', request, 'A line.', (event) => {
      if (event.type !== 'loss' || event.step !== 1) return;
      void engine.walkthrough
        .writeSelfEdit('second', request)
        .catch((error: unknown) => (refused = error))
        .then(() => engine.cancel('slow'));
    });
    const error = await cancelled.catch((e: unknown) => e);
    expect(isCancelledError(error)).toBe(true);
    expect(String(refused)).toMatch(/busy with the walkthrough/);
    expect(await engine.modelJob()).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
  });
});
