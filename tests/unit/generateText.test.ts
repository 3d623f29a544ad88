import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import type { ChatMessage } from '../../src/engine/model/chat';
import { generate, type GenerationStep } from '../../src/engine/model/generate';
import {
  generateText,
  stopTokenIds,
  type TextGenerationModel,
} from '../../src/engine/model/generateText';
import { GREEDY } from '../../src/engine/model/sampling';
import { disposeModelWeights } from '../../src/engine/model/weights';
import { FIXTURES, loadFixtureModel } from './llamaFixtures';

let model: TextGenerationModel;
const chatGoldens = JSON.parse(
  readFileSync(join(FIXTURES, 'tiny-qwen2', 'tokenizer-goldens.json'), 'utf8'),
) as { chat: { messages: ChatMessage[]; prompt_ids: number[] } };

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
