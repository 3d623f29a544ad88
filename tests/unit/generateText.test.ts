import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import type { ChatMessage } from '../../src/engine/model/chat';
import { generate, type GenerationStep } from '../../src/engine/model/generate';
import {
  generateText,
  generationDefaults,
  stopTokenIds,
  type TextGenerationModel,
} from '../../src/engine/model/generateText';
import { IncrementalText } from '../../src/engine/model/incrementalText';
import { GREEDY } from '../../src/engine/model/sampling';
import { createTokenizer, type Tokenizer } from '../../src/engine/model/tokenizer';
import { disposeModelWeights } from '../../src/engine/model/weights';
import { FIXTURES, loadFixtureModel } from './llamaFixtures';

let model: TextGenerationModel;
const chatGoldens = JSON.parse(
  readFileSync(join(FIXTURES, 'tiny-qwen2', 'tokenizer-goldens.json'), 'utf8'),
) as { chat: { messages: ChatMessage[]; prompt_ids: number[] } };

/**
 * The fixtures' byte-level tokenizer in SentencePiece's style, as Llama-2-style checkpoints ship
 * theirs: "▁" marks a space, and decoding drops the leading space of the first token. The ids
 * stay the same, so it fits tiny-llama, whose vocabulary is exactly the tokenizer's.
 */
function sentencePieceTokenizer(): Tokenizer {
  const read = (file: string) =>
    JSON.parse(readFileSync(join(FIXTURES, 'tiny-llama', file), 'utf8'));
  const json = read('tokenizer.json');
  const piece = (text: string) => text.replaceAll('Ġ', '▁');
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
  return createTokenizer(
    {
      ...json,
      pre_tokenizer: metaspace,
      decoder: metaspace,
      model: {
        ...json.model,
        vocab: Object.fromEntries(
          Object.entries(json.model.vocab as Record<string, number>).map(([t, id]) => [
            piece(t),
            id,
          ]),
        ),
        merges: (json.model.merges as (string | string[])[]).map((merge) =>
          Array.isArray(merge) ? merge.map(piece) : piece(merge),
        ),
      },
    },
    read('tokenizer_config.json'),
  );
}

beforeAll(async () => {
  await selectBackend('wasm');
  const fixture = await loadFixtureModel('tiny-qwen2');
  const tokenizerConfig = JSON.parse(
    readFileSync(join(FIXTURES, 'tiny-qwen2', 'tokenizer_config.json'), 'utf8'),
  ) as { chat_template: string };
  model = {
    ...fixture,
    generationConfig: fixture.generationConfig as Record<string, unknown>,
    chatTemplate: tokenizerConfig.chat_template,
  };
});
afterAll(() => disposeModelWeights(model.weights));

describe('text generation', () => {
  it('stops on the EOS ids of config.json, generation_config.json and the tokenizer', () => {
    // config.json: <|endoftext|> (2); generation_config.json: [<|im_end|>, <|endoftext|>].
    expect(stopTokenIds(model).sort()).toEqual([2, 4]);
    expect(stopTokenIds({ ...model, generationConfig: null }).sort()).toEqual([2, 4]);
  });

  it('stops at the BOS token, where a new document starts, when asked to', async () => {
    const request = {
      prompts: [{ kind: 'completion' as const, text: 'The fox jumps' }],
      samplesPerPrompt: 1,
      maxNewTokens: 6,
      sampling: GREEDY,
    };
    const free = (await generateText(model, request)).sequences[0]!;
    expect(free.finishReason).toBe('length');
    // tiny-qwen2 has no BOS: one of its greedy tokens plays the BOS a packed-document model emits.
    const boundary = free.tokens.findIndex(
      (token, index) => index > 0 && free.tokens.indexOf(token) === index,
    );
    expect(boundary).toBeGreaterThan(0);
    const withBos = {
      ...model,
      tokenizer: { ...model.tokenizer, bosTokenId: free.tokens[boundary]! },
    };
    expect(stopTokenIds(withBos).sort()).toEqual([2, 4]);
    expect(stopTokenIds(withBos, { atDocumentStart: true })).toContain(free.tokens[boundary]);

    const stopped = (await generateText(withBos, { ...request, stopAtDocumentStart: true }))
      .sequences[0]!;
    expect(stopped.tokens).toEqual(free.tokens.slice(0, boundary + 1));
    expect(stopped.finishReason).toBe('eos');
    expect((await generateText(withBos, request)).sequences[0]!.tokens).toEqual(free.tokens);
  });

  it('completes text and renders chat prompts, several samples each, streaming texts', async () => {
    const steps: GenerationStep[] = [];
    const response = await generateText(
      model,
      {
        prompts: [
          { kind: 'completion', text: 'The fox jumps' },
          { kind: 'chat', messages: chatGoldens.chat.messages },
        ],
        samplesPerPrompt: 3,
        maxNewTokens: 6,
        sampling: { temperature: 1, topK: 20, topP: 1, seed: 4 },
      },
      { onStep: (step) => steps.push(step) },
    );
    expect(response.sequences.map((s) => s.promptIndex)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(response.promptTokenCounts).toEqual([
      model.tokenizer.encode('The fox jumps').length,
      chatGoldens.chat.prompt_ids.length,
    ]);
    for (const sequence of response.sequences) {
      const withoutStop =
        sequence.finishReason === 'eos' ? sequence.tokens.slice(0, -1) : sequence.tokens;
      expect(sequence.text).toBe(model.tokenizer.decode(withoutStop));
    }
    expect(steps.at(-1)!.texts).toEqual(response.sequences.map((s) => s.text));
    expect(steps.at(-1)!.finished.every(Boolean)).toBe(true);
  });

  it('generates from the chat prompt transformers renders', async () => {
    const request = {
      prompts: [{ kind: 'chat' as const, messages: chatGoldens.chat.messages }],
      samplesPerPrompt: 1,
      maxNewTokens: 5,
      sampling: GREEDY,
    };
    const response = await generateText(model, request);
    const direct = await generate(model, [chatGoldens.chat.prompt_ids], {
      maxNewTokens: 5,
      sampling: GREEDY,
      stopTokenIds: stopTokenIds(model),
    });
    expect(response.sequences[0]!.tokens).toEqual(direct.sequences[0]!.tokens);
  });

  it('keeps the leading space that decoding the new ids alone drops', async () => {
    const tokenizer = sentencePieceTokenizer();
    const prompt = 'Once upon a time,';
    const promptIds = tokenizer.encode(prompt);
    const continuation = tokenizer.encode(`${prompt} there was a fox`).slice(promptIds.length);
    expect(tokenizer.decode(continuation)).toBe('there was a fox');
    const text = new IncrementalText((ids) => tokenizer.decode(ids), promptIds);
    for (const id of continuation) {
      expect(' there was a fox'.startsWith(text.push(id))).toBe(true);
    }
    expect(text.finish()).toBe(' there was a fox');

    const llama = await loadFixtureModel('tiny-llama');
    try {
      const steps: GenerationStep[] = [];
      const response = await generateText(
        { ...llama, tokenizer, generationConfig: null, chatTemplate: null },
        {
          prompts: [{ kind: 'completion', text: prompt }],
          samplesPerPrompt: 3,
          maxNewTokens: 8,
          sampling: { temperature: 1, topK: 0, topP: 1, seed: 11 },
        },
        { onStep: (step) => steps.push(step) },
      );
      const promptText = tokenizer.decode(promptIds);
      for (const [row, sequence] of response.sequences.entries()) {
        const full = tokenizer.decode([...promptIds, ...sequence.tokens]);
        expect(full.startsWith(promptText)).toBe(true);
        expect(sequence.text).toBe(full.slice(promptText.length));
        for (const step of steps) expect(sequence.text.startsWith(step.texts[row]!)).toBe(true);
      }
    } finally {
      disposeModelWeights(llama.weights);
    }
  });

  it('decodes ids past the tokenizer, which a padded embedding can produce, as nothing', () => {
    const tokenizer = sentencePieceTokenizer();
    const ids = tokenizer.encode('Once upon a time', { addSpecialTokens: false });
    // tiny-qwen2's embedding has 448 rows for the tokenizer's 400 tokens.
    const padded = model.config.vocabSize - 1;
    expect(tokenizer.decode([...ids, padded])).toBe(tokenizer.decode(ids));
  });

  it('shows a character split over several tokens only once it is whole', () => {
    const text = 'Price: 5 € and ü';
    const promptIds = model.tokenizer.encode('Price:');
    const continuation = model.tokenizer.encode(text).slice(promptIds.length);
    const split = continuation.map((_, i) => model.tokenizer.decode(continuation.slice(0, i + 1)));
    expect(split.some((decoded) => decoded.endsWith('\uFFFD'))).toBe(true);
    const incremental = new IncrementalText((ids) => model.tokenizer.decode(ids), promptIds);
    const streamed = continuation.map((id) => incremental.push(id));
    expect(streamed.some((shown) => shown.includes('\uFFFD'))).toBe(false);
    expect(incremental.finish()).toBe(' 5 € and ü');
  });

  it("starts from generation_config.json's settings, as transformers reads them", () => {
    expect(generationDefaults({ do_sample: false, temperature: 0.6, max_new_tokens: 12 })).toEqual({
      temperature: 0,
      maxNewTokens: 12,
    });
    expect(generationDefaults({ do_sample: true, temperature: 0.6, top_p: 0.9 })).toEqual({
      temperature: 0.6,
      topK: 50,
      topP: 0.9,
    });
    expect(generationDefaults({ temperature: 0.3, top_k: 7 })).toEqual({
      temperature: 0.3,
      topK: 7,
    });
    expect(generationDefaults({ top_p: 2, top_k: -1, max_new_tokens: 'many' })).toEqual({});
    expect(generationDefaults(null)).toEqual({});
  });

  it('refuses a bad sample count and chat without a template', async () => {
    const request = {
      prompts: [{ kind: 'completion' as const, text: 'x' }],
      samplesPerPrompt: 0,
      maxNewTokens: 2,
      sampling: GREEDY,
    };
    await expect(generateText(model, request)).rejects.toThrow(
      'samples per prompt must be a positive whole number, got 0',
    );
    await expect(
      generateText(
        { ...model, chatTemplate: null },
        { ...request, samplesPerPrompt: 1, prompts: [{ kind: 'chat', messages: [] }] },
      ),
    ).rejects.toThrow('this model has no chat_template');
  });
});
