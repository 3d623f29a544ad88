/**
 * Generation as the UI and scripts ask for it: prompts as text or chat messages, several samples
 * of each, answers as text. Turns them into one batch for `generate` and back.
 */
import * as tf from '@tensorflow/tfjs';
import * as v from 'valibot';
import type { Checkpoint } from '../jobs';
import { encodePrompt, type PromptInput } from './chat';
import {
  generate,
  type FinishReason,
  type GenerationModel,
  type GenerationStats,
  type GenerationStep,
} from './generate';
import { forward, type LinearAdapter } from './llama';
import type { SamplingOptions } from './sampling';
import type { Tokenizer } from './tokenizer';

export interface TextGenerationModel extends GenerationModel {
  tokenizer: Tokenizer;
  generationConfig: Record<string, unknown> | null;
  chatTemplate: string | null;
}

export interface GenerateRequest {
  /** Each prompt is plain text for completion, or chat messages rendered by the chat template. */
  prompts: PromptInput[];
  /** Sequences sampled per prompt (SEAL samples several self-edits of one passage). */
  samplesPerPrompt: number;
  maxNewTokens: number;
  sampling: SamplingOptions;
  stopStrings?: string[];
  /**
   * Also end a sequence at the BOS token: a model pretrained on packed documents may start the
   * next document there instead of ending this one.
   */
  stopAtDocumentStart?: boolean;
}

export interface GeneratedText {
  promptIndex: number;
  text: string;
  tokens: number[];
  finishReason: FinishReason;
}

export interface GenerateResponse {
  /** Prompt by prompt, samples of one prompt together. */
  sequences: GeneratedText[];
  /** Prompt lengths in tokens, in prompt order. */
  promptTokenCounts: number[];
  stats: GenerationStats;
}

/**
 * Ids that end a sequence: the model's, generation_config.json's, and the tokenizer's EOS (a chat
 * model's end-of-turn token is often only there), and with `atDocumentStart` the tokenizer's BOS (a
 * model pretrained on packed documents may start the next document instead of ending this one).
 */
export function stopTokenIds(
  model: Pick<TextGenerationModel, 'config' | 'tokenizer'> &
    Partial<Pick<TextGenerationModel, 'generationConfig'>>,
  { atDocumentStart = false }: { atDocumentStart?: boolean } = {},
): number[] {
  const ids = new Set(model.config.eosTokenIds);
  const fromGenerationConfig = model.generationConfig?.eos_token_id;
  for (const id of [fromGenerationConfig].flat()) {
    if (typeof id === 'number') ids.add(id);
  }
  if (model.tokenizer.eosTokenId !== null) ids.add(model.tokenizer.eosTokenId);
  if (atDocumentStart && model.tokenizer.bosTokenId !== null) ids.add(model.tokenizer.bosTokenId);
  return [...ids];
}

/** The generation settings a model's generation_config.json asks for; absent ones are left out. */
export interface GenerationDefaults {
  /** 0 for greedy decoding. */
  temperature?: number;
  topK?: number;
  topP?: number;
  maxNewTokens?: number;
}

/** A field that is missing or out of range is ignored, as if the file did not set it. */
const optionalField = <T extends v.GenericSchema>(schema: T) =>
  v.fallback(v.optional(schema), undefined);
const GenerationConfigSchema = v.looseObject({
  do_sample: optionalField(v.boolean()),
  temperature: optionalField(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
  top_k: optionalField(v.pipe(v.number(), v.integer(), v.minValue(0))),
  top_p: optionalField(v.pipe(v.number(), v.gtValue(0), v.maxValue(1))),
  max_new_tokens: optionalField(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/**
 * Reads generation_config.json as transformers does: `do_sample: false` is greedy whatever the
 * temperature; `do_sample: true` samples with transformers' own defaults (temperature 1, top-k 50,
 * top-p 1) where the file is silent.
 */
export function generationDefaults(generationConfig: unknown): GenerationDefaults {
  const parsed = v.safeParse(GenerationConfigSchema, generationConfig);
  if (!parsed.success) return {};
  const { do_sample: sample, temperature, top_k: topK, top_p: topP } = parsed.output;
  const withDefaults = sample === true;
  const defaults: GenerationDefaults = {
    temperature: sample === false ? 0 : (temperature ?? (withDefaults ? 1 : undefined)),
    topK: topK ?? (withDefaults ? 50 : undefined),
    topP: topP ?? (withDefaults ? 1 : undefined),
    maxNewTokens: parsed.output.max_new_tokens,
  };
  return Object.fromEntries(
    Object.entries(defaults).filter(([, value]) => value !== undefined),
  ) as GenerationDefaults;
}

export async function generateText(
  model: TextGenerationModel,
  request: GenerateRequest,
  hooks: {
    checkpoint?: Checkpoint;
    onStep?: (step: GenerationStep) => void;
    adapter?: LinearAdapter;
  } = {},
): Promise<GenerateResponse> {
  const { prompts, samplesPerPrompt } = request;
  if (!(Number.isInteger(samplesPerPrompt) && samplesPerPrompt > 0)) {
    throw new Error(`samples per prompt must be a positive whole number, got ${samplesPerPrompt}`);
  }
  const encoded = prompts.map((prompt) =>
    encodePrompt(prompt, model.tokenizer, model.chatTemplate),
  );
  const batch = encoded.flatMap((ids) => Array.from({ length: samplesPerPrompt }, () => ids));
  const result = await generate(model, batch, {
    maxNewTokens: request.maxNewTokens,
    sampling: request.sampling,
    stopTokenIds: stopTokenIds(model, { atDocumentStart: request.stopAtDocumentStart }),
    stopStrings: request.stopStrings,
    decode: (ids) => model.tokenizer.decode(ids),
    adapter: hooks.adapter,
    checkpoint: hooks.checkpoint,
    onStep: hooks.onStep,
  });
  return {
    sequences: result.sequences.map((sequence, index) => ({
      promptIndex: Math.floor(index / samplesPerPrompt),
      ...sequence,
    })),
    promptTokenCounts: encoded.map((ids) => ids.length),
    stats: result.stats,
  };
}

export interface Logits {
  /** [batch, length, vocab] */
  shape: [number, number, number];
  values: Float32Array;
}

/** The model's logits at every position of equal-length rows of token ids (for scripts and checks). */
export async function logitsOf(
  model: GenerationModel,
  tokenIds: number[][],
  adapter?: LinearAdapter,
): Promise<Logits> {
  const length = tokenIds[0]?.length ?? 0;
  if (length === 0 || tokenIds.some((row) => row.length !== length)) {
    throw new Error('logits need one or more rows of token ids, all of the same non-zero length');
  }
  const { vocabSize } = model.config;
  const bad = tokenIds.flat().find((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
  if (bad !== undefined)
    throw new Error(`token id ${bad} is outside the vocabulary of ${vocabSize}`);
  const logits = tf.tidy(() =>
    forward(model.config, model.weights, tf.tensor2d(tokenIds, undefined, 'int32'), { adapter }),
  );
  try {
    return {
      shape: [tokenIds.length, length, vocabSize],
      values: (await logits.data()) as Float32Array,
    };
  } finally {
    logits.dispose();
  }
}
