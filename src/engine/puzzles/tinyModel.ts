/**
 * A tiny puzzle model made in memory: the puzzle tokenizer and seeded random Llama weights. Its
 * answers are noise, but test-time training and voting run for real in seconds, so tests and the
 * demo can exercise every step without a pretrained model.
 */
import type { ModelConfig } from '../model/config';
import type { LoadedModel } from '../model/session';
import { createTokenizer } from '../model/tokenizer';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from '../train/randomModel';
import { tokenizerConfigJson } from '../world/tokenizer';
import { buildPuzzleTokenizer } from './puzzleTokenizer';

const CONTEXT_TOKENS = 512;

export function tinyPuzzleModel(seed: number): LoadedModel {
  const tokenizerJson = buildPuzzleTokenizer();
  const tokenizer = createTokenizer(tokenizerJson, tokenizerConfigJson(CONTEXT_TOKENS));
  const config: ModelConfig = {
    ...SMALL_LLAMA_CONFIG,
    vocabSize: Object.keys(tokenizerJson.model.vocab).length,
    maxPositionEmbeddings: CONTEXT_TOKENS,
    bosTokenId: tokenizer.bosTokenId,
    eosTokenIds: tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId],
  };
  return {
    id: `tiny-puzzle-${seed}`,
    config,
    weights: randomModelWeights(config, seed, 0.1),
    tokenizer,
    generationConfig: null,
    chatTemplate: null,
  };
}
