/**
 * Text generation: the prompts go through the model in one pass (prefill), then each step feeds
 * the tokens just sampled, one per sequence, against the KV cache (decode). Several sequences
 * run as one batch: K samples of one prompt (SEAL's self-edits) or different prompts,
 * left-padded to a common length. Each step reads back only the sampler's candidates.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import type { ModelConfig } from './config';
import { IncrementalText } from './incrementalText';
import { KvCache } from './kvCache';
import { forwardCached, type LinearAdapter } from './llama';
import { TokenSampler, type SamplingOptions } from './sampling';
import type { ModelWeights } from './weights';
import { releasePooledWebGpuBuffers } from '../webgpuMemory';

/**
 * Shapes are rounded up to these multiples. tfjs-webgpu pools freed GPU buffers by exact size
 * and never releases them, so every distinct prompt length or cache size would leave buffers
 * behind; rounding keeps the number of distinct sizes small.
 */
const PROMPT_LENGTH_MULTIPLE = 16;
const CACHE_CAPACITY_MULTIPLE = 64;

export interface GenerateOptions {
  /** Tokens to add per sequence at most. */
  maxNewTokens: number;
  sampling: SamplingOptions;
  /** Token ids that end a sequence (the model's end-of-sequence ids). */
  stopTokenIds: readonly number[];
  /** A sequence also ends when its text contains one of these; the text is cut before it. */
  stopStrings?: readonly string[];
  /** A sequence also ends once its text holds this many lines, each ended by a newline. */
  maxLines?: number;
  /**
   * Text of token ids (the tokenizer's decode), for stop strings and streamed text; without it
   * texts are ''. A sequence's text is what its ids add to the prompt's text, leading space
   * included.
   */
  decode?: (ids: number[]) => string;
  adapter?: LinearAdapter;
  /** Awaited between steps; cancelling the job makes it throw. */
  checkpoint?: Checkpoint;
  onStep?: (step: GenerationStep) => void;
}

export interface GenerationStep {
  step: number;
  /** The token each sequence got this step; null for sequences that had already finished. */
  tokens: (number | null)[];
  /** Each sequence's text so far (cut at a stop string). */
  texts: string[];
  /** Whether each sequence has ended (this step or before). */
  finished: boolean[];
}

export type FinishReason = 'eos' | 'stop-string' | 'max-lines' | 'length';

export interface GeneratedSequence {
  /** Generated ids, the end-of-sequence id included when that is how it ended. */
  tokens: number[];
  text: string;
  finishReason: FinishReason;
}

export interface GenerationStats {
  /** Prompt tokens run through the model: padding not counted, a prompt shared by all samples once. */
  promptTokens: number;
  generatedTokens: number;
  /** The prompt pass and the first sampled tokens. */
  prefillMs: number;
  /** The remaining steps. */
  decodeMs: number;
  prefillTokensPerSecond: number;
  /** Tokens of all sequences together per second over the decode steps. */
  decodeTokensPerSecond: number;
}

export interface GenerationResult {
  sequences: GeneratedSequence[];
  stats: GenerationStats;
}

export interface GenerationModel {
  config: ModelConfig;
  weights: ModelWeights;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

function validatePrompts(prompts: readonly (readonly number[])[], config: ModelConfig): void {
  if (prompts.length === 0) throw new Error('generation needs at least one prompt');
  prompts.forEach((prompt, index) => {
    if (prompt.length === 0) throw new Error(`prompt ${index} has no tokens`);
    const bad = prompt.find((id) => !(Number.isInteger(id) && id >= 0 && id < config.vocabSize));
    if (bad !== undefined) {
      throw new Error(
        `prompt ${index} has token id ${bad}, outside the vocabulary of ${config.vocabSize}`,
      );
    }
  });
}

/** Left-pads the prompts to one length: ids and attention mask, both [batch, length]. */
function leftPad(prompts: readonly (readonly number[])[], length: number) {
  const ids = new Int32Array(prompts.length * length);
  const mask = new Int32Array(prompts.length * length);
  prompts.forEach((prompt, row) => {
    const offset = row * length + length - prompt.length;
    ids.set(prompt, offset);
    mask.fill(1, offset, offset + prompt.length);
  });
  return { ids, mask };
}

/** Where the `lines`-th newline of `text` is, or -1. */
function lineEnd(text: string, lines: number): number {
  let at = -1;
  for (let line = 0; line < lines; line++) {
    at = text.indexOf('\n', at + 1);
    if (at < 0) return -1;
  }
  return at;
}

/** Tracks one sequence's tokens, text and whether and why it ended. */
class SequenceState {
  readonly tokens: number[] = [];
  text = '';
  finishReason: FinishReason | null = null;
  private readonly incremental: IncrementalText | null;
  /** Stop strings can only start this far back in text that was searched before. */
  private readonly stopOverlap: number;

  constructor(
    private readonly options: GenerateOptions,
    prompt: readonly number[],
  ) {
    this.incremental = options.decode ? new IncrementalText(options.decode, prompt) : null;
    this.stopOverlap = Math.max(0, ...(options.stopStrings ?? []).map((stop) => stop.length - 1));
  }

  add(token: number): void {
    this.tokens.push(token);
    const { stopStrings = [], stopTokenIds, maxNewTokens, maxLines } = this.options;
    const searchFrom = Math.max(0, this.text.length - this.stopOverlap);
    const last = stopTokenIds.includes(token) || this.tokens.length >= maxNewTokens;
    if (this.incremental) {
      this.incremental.push(token);
      this.text = last ? this.incremental.finish() : this.incremental.text;
    }
    const stopAt = Math.min(
      ...stopStrings
        .map((stop) => this.text.indexOf(stop, searchFrom))
        .filter((index) => index >= 0),
    );
    if (stopTokenIds.includes(token)) this.finishReason = 'eos';
    else if (Number.isFinite(stopAt)) {
      this.text = this.text.slice(0, stopAt);
      this.finishReason = 'stop-string';
    } else if (maxLines !== undefined && lineEnd(this.text, maxLines) >= 0) {
      // A token may carry the start of the next line along with the last newline.
      this.text = this.text.slice(0, lineEnd(this.text, maxLines) + 1);
      this.finishReason = 'max-lines';
    } else if (this.tokens.length >= maxNewTokens) this.finishReason = 'length';
  }
}

export async function generate(
  model: GenerationModel,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
): Promise<GenerationResult> {
  const { config, weights } = model;
  const { maxNewTokens, adapter, checkpoint, onStep } = options;
  validatePrompts(prompts, config);
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens > 0)) {
    throw new Error(`max new tokens must be a positive whole number, got ${maxNewTokens}`);
  }
  if (options.stopStrings?.includes('')) throw new Error('a stop string cannot be empty');
  const longest = Math.max(...prompts.map((prompt) => prompt.length));
  if (longest + maxNewTokens > config.maxPositionEmbeddings) {
    throw new Error(
      `a ${longest}-token prompt plus ${maxNewTokens} new tokens exceeds the model's ${config.maxPositionEmbeddings} positions`,
    );
  }

  const batch = prompts.length;
  const promptLength = roundUp(longest, PROMPT_LENGTH_MULTIPLE);
  // The last sampled token is never fed back, hence the - 1.
  const capacity = roundUp(promptLength + maxNewTokens - 1, CACHE_CAPACITY_MULTIPLE);
  const sampler = new TokenSampler(options.sampling, config.vocabSize, batch);
  const sequences = prompts.map((prompt) => new SequenceState(options, prompt));
  const cache = new KvCache(config, batch, capacity);
  try {
    const prefillStart = performance.now();
    const shared = sharesOnePrompt(prompts);
    const prefillLogits = prefill(
      model,
      shared ? [prompts[0]!] : prompts,
      promptLength,
      cache,
      adapter,
    );
    let next = await sampleAndDispose(sampler, prefillLogits);
    const prefillMs = performance.now() - prefillStart;

    const decodeStart = performance.now();
    let decodedTokens = 0;
    for (let step = 0; ; step++) {
      const tokens = sequences.map((sequence, row) => {
        if (sequence.finishReason) return null;
        sequence.add(next[row]!);
        return next[row]!;
      });
      if (step > 0) decodedTokens += tokens.filter((token) => token !== null).length;
      onStep?.({
        step,
        tokens,
        texts: sequences.map((sequence) => sequence.text),
        finished: sequences.map((sequence) => sequence.finishReason !== null),
      });
      if (sequences.every((sequence) => sequence.finishReason)) break;

      await checkpoint?.();
      const stepLogits = tf.tidy(() =>
        forwardCached(config, weights, tf.tensor2d(next, [batch, 1], 'int32'), cache, { adapter }),
      );
      next = await sampleAndDispose(sampler, stepLogits);
    }
    const decodeMs = performance.now() - decodeStart;

    const promptTokens = shared
      ? prompts[0]!.length
      : prompts.reduce((sum, prompt) => sum + prompt.length, 0);
    return {
      sequences: sequences.map(({ tokens, text, finishReason }) => ({
        tokens,
        text,
        finishReason: finishReason!,
      })),
      stats: {
        promptTokens,
        generatedTokens: sequences.reduce((sum, sequence) => sum + sequence.tokens.length, 0),
        prefillMs,
        decodeMs,
        prefillTokensPerSecond: (promptTokens / prefillMs) * 1000,
        decodeTokensPerSecond: decodedTokens > 0 ? (decodedTokens / decodeMs) * 1000 : 0,
      },
    };
  } finally {
    cache.dispose();
    // Prompt lengths and cache sizes vary between generations: their buffers would stay pooled.
    releasePooledWebGpuBuffers();
  }
}

/** Whether there are several prompts, all the same (K samples of one prompt, as SEAL draws). */
function sharesOnePrompt(prompts: readonly (readonly number[])[]): boolean {
  const first = prompts[0]!;
  return (
    prompts.length > 1 &&
    prompts.every((p) => p.length === first.length && p.every((id, i) => id === first[i]))
  );
}

/**
 * Runs the left-padded prompts through the model into `cache`; returns the last position's
 * logits [batch, vocab]. Given one prompt for a cache of several rows, it runs once and its keys
 * and values are copied to every row.
 */
function prefill(
  { config, weights }: GenerationModel,
  prompts: readonly (readonly number[])[],
  promptLength: number,
  cache: KvCache,
  adapter: LinearAdapter | undefined,
): tf.Tensor2D {
  const repeat = prompts.length < cache.batchSize;
  const target = repeat ? new KvCache(config, 1, cache.capacity) : cache;
  try {
    const { ids, mask } = leftPad(prompts, promptLength);
    return tf.tidy(() => {
      const logits = forwardCached(
        config,
        weights,
        tf.tensor2d(ids, [prompts.length, promptLength], 'int32'),
        target,
        { attentionMask: tf.tensor2d(mask, [prompts.length, promptLength], 'int32'), adapter },
      );
      if (!repeat) return logits;
      cache.repeatRow(target);
      return logits.tile([cache.batchSize, 1]);
    });
  } finally {
    if (repeat) target.dispose();
  }
}

async function sampleAndDispose(sampler: TokenSampler, logits: tf.Tensor2D): Promise<number[]> {
  try {
    return await sampler.sample(logits);
  } finally {
    logits.dispose();
  }
}
