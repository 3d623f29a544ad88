import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { CancelledError } from '../../src/engine/jobs';
import {
  generate,
  type GenerateOptions,
  type GenerationStep,
} from '../../src/engine/model/generate';
import { GREEDY } from '../../src/engine/model/sampling';
import { disposeModelWeights } from '../../src/engine/model/weights';
import { loadFixtureModel, MODEL_FIXTURES, type FixtureModel } from './llamaFixtures';

const options = (overrides: Partial<GenerateOptions> = {}): GenerateOptions => ({
  maxNewTokens: 10,
  sampling: GREEDY,
  stopTokenIds: [],
  ...overrides,
});
const SAMPLING = { temperature: 1, topK: 0, topP: 0.95, seed: 7 };

let qwen: FixtureModel;
beforeAll(async () => {
  await selectBackend('wasm');
  qwen = await loadFixtureModel('tiny-qwen2');
});
afterAll(() => disposeModelWeights(qwen.weights));

describe('greedy generation against transformers', () => {
  for (const folder of MODEL_FIXTURES) {
    it(`${folder}: the same 10 tokens as transformers' argmax decoding`, async () => {
      const model = await loadFixtureModel(folder);
      const result = await generate(model, model.goldens.input_ids, options());
      expect(result.sequences.map((s) => s.tokens)).toEqual(model.goldens.greedy_continuation);
      expect(result.sequences.every((s) => s.finishReason === 'length')).toBe(true);
      disposeModelWeights(model.weights);
    });
  }
});

describe('generation', () => {
  const prompt = () => qwen.tokenizer.encode('The fox jumps over the dog.');

  it('batches different prompts with left padding: each as if alone', async () => {
    const prompts = [prompt(), [5, 6], qwen.tokenizer.encode('Rivers carry water to the sea.')];
    const together = await generate(qwen, prompts, options());
    for (const [row, single] of prompts.entries()) {
      const alone = await generate(qwen, [single], options());
      expect(together.sequences[row]!.tokens).toEqual(alone.sequences[0]!.tokens);
    }
  });

  it('samples K sequences of one prompt reproducibly from a seed', async () => {
    const prompts = Array.from({ length: 5 }, prompt);
    const first = await generate(qwen, prompts, options({ sampling: SAMPLING }));
    const tokens = first.sequences.map((s) => s.tokens);
    expect(new Set(tokens.map((t) => t.join(','))).size).toBeGreaterThan(1);
    const again = await generate(qwen, prompts, options({ sampling: SAMPLING }));
    expect(again.sequences.map((s) => s.tokens)).toEqual(tokens);
    const other = await generate(qwen, prompts, options({ sampling: { ...SAMPLING, seed: 8 } }));
    expect(other.sequences.map((s) => s.tokens)).not.toEqual(tokens);
    // Sequence i draws from its own stream: fewer samples give the same first ones.
    const fewer = await generate(qwen, prompts.slice(0, 2), options({ sampling: SAMPLING }));
    expect(fewer.sequences.map((s) => s.tokens)).toEqual(tokens.slice(0, 2));
  });

  it('runs a prompt shared by all samples once, with the same result as separate rows', async () => {
    const shared = await generate(
      qwen,
      [prompt(), prompt(), prompt()],
      options({ sampling: SAMPLING }),
    );
    const mixed = await generate(
      qwen,
      [prompt(), [5, 6], prompt()],
      options({ sampling: SAMPLING }),
    );
    expect(shared.sequences[0]!.tokens).toEqual(mixed.sequences[0]!.tokens);
    expect(shared.sequences[2]!.tokens).toEqual(mixed.sequences[2]!.tokens);
    const greedy = await generate(qwen, [prompt(), prompt()], options());
    expect(greedy.stats.promptTokens).toBe(prompt().length);
    const alone = await generate(qwen, [prompt()], options());
    expect(greedy.sequences.map((s) => s.tokens)).toEqual([
      alone.sequences[0]!.tokens,
      alone.sequences[0]!.tokens,
    ]);
  });

  it('stops each sequence at its own end-of-sequence token and streams every step', async () => {
    const prompts = [prompt(), [5, 6]];
    const free = await generate(qwen, prompts, options());
    const stopToken = free.sequences[0]!.tokens[2]!;
    const steps: GenerationStep[] = [];
    const result = await generate(
      qwen,
      prompts,
      options({ stopTokenIds: [stopToken], onStep: (step) => steps.push(step) }),
    );
    const first = result.sequences[0]!;
    const cut = free.sequences[0]!.tokens.indexOf(stopToken) + 1;
    expect(first.tokens).toEqual(free.sequences[0]!.tokens.slice(0, cut));
    expect(first.finishReason).toBe('eos');
    const secondFree = free.sequences[1]!.tokens;
    const secondCut = secondFree.includes(stopToken)
      ? secondFree.indexOf(stopToken) + 1
      : secondFree.length;
    expect(result.sequences[1]!.tokens).toEqual(secondFree.slice(0, secondCut));
    // The stream: one event per step, null once a sequence is done.
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i));
    expect(steps.map((s) => s.tokens[0]).filter((t) => t !== null)).toEqual(first.tokens);
    expect(steps.slice(first.tokens.length).every((s) => s.tokens[0] === null)).toBe(true);
    expect(steps.length).toBeGreaterThan(first.tokens.length);
  });

  it('stops at a stop string and cuts the text before it', async () => {
    const decode = (ids: number[]) => qwen.tokenizer.decode(ids);
    const free = await generate(qwen, [prompt()], options({ maxNewTokens: 12, decode }));
    const text = free.sequences[0]!.text;
    expect(text.length).toBeGreaterThan(4);
    const stop = text.slice(3, 5);
    const result = await generate(
      qwen,
      [prompt()],
      options({ maxNewTokens: 12, decode, stopStrings: ['never appears', stop] }),
    );
    expect(result.sequences[0]!.finishReason).toBe('stop-string');
    expect(result.sequences[0]!.text).toBe(text.slice(0, text.indexOf(stop)));
    expect(result.sequences[0]!.tokens.length).toBeLessThan(12);
  });

  it('stops after a number of lines, cutting what the last token carried past the newline', async () => {
    // Every token is a letter and ids that are multiples of 3 also start a new line.
    const decode = (ids: number[]) => ids.map((id) => (id % 3 === 0 ? 'a\nb' : 'c')).join('');
    const request = { maxNewTokens: 16, decode, sampling: SAMPLING };
    const free = (await generate(qwen, [prompt()], options(request))).sequences[0]!;
    const secondNewline = free.text.indexOf('\n', free.text.indexOf('\n') + 1);
    expect(secondNewline).toBeGreaterThan(0);
    const capped = (await generate(qwen, [prompt()], options({ ...request, maxLines: 2 })))
      .sequences[0]!;
    expect(capped.finishReason).toBe('max-lines');
    expect(capped.text).toBe(free.text.slice(0, secondNewline + 1));
    expect(free.tokens.slice(0, capped.tokens.length)).toEqual(capped.tokens);
  });

  it('reports prefill and decode speed', async () => {
    const { stats } = await generate(qwen, [prompt(), [5, 6]], options());
    expect(stats.promptTokens).toBe(prompt().length + 2);
    expect(stats.generatedTokens).toBe(20);
    expect(stats.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(stats.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('leaks no tensors across generations, finished or cancelled', async () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await generate(qwen, [prompt(), [1, 2, 3]], options({ sampling: SAMPLING }));
      expect(tf.memory().numTensors).toBe(before);
    }
    let steps = 0;
    const cancelled = generate(
      qwen,
      [prompt()],
      options({
        checkpoint: async () => {
          if (++steps === 3) throw new CancelledError('generate');
        },
      }),
    );
    await expect(cancelled).rejects.toThrow('Job generate was cancelled');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad requests with clear messages', async () => {
    await expect(generate(qwen, [], options())).rejects.toThrow('at least one prompt');
    await expect(generate(qwen, [[1], []], options())).rejects.toThrow('prompt 1 has no tokens');
    await expect(generate(qwen, [[1, 9999]], options())).rejects.toThrow(
      'prompt 0 has token id 9999, outside the vocabulary of 448',
    );
    await expect(generate(qwen, [[1]], options({ maxNewTokens: 0 }))).rejects.toThrow(
      'max new tokens must be a positive whole number',
    );
    await expect(generate(qwen, [[1]], options({ stopStrings: ['.', ''] }))).rejects.toThrow(
      'a stop string cannot be empty',
    );
    await expect(generate(qwen, [[1, 2]], options({ maxNewTokens: 255 }))).rejects.toThrow(
      "a 2-token prompt plus 255 new tokens exceeds the model's 256 positions",
    );
  });
});
