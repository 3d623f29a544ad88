/**
 * A tiny model for trying the SEAL loop without any files: a tokenizer trained on a small slice of
 * the synthetic world's corpus and seeded random Llama weights. Its self-edits are noise, but every
 * step of the loop runs for real, in seconds; tests, the benchmark and the panel's demo use it.
 */
import type { ModelConfig } from '../model/config';
import type { LoadedModel } from '../model/session';
import { createTokenizer } from '../model/tokenizer';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from '../train/randomModel';
import { generateCorpus, generateWorld, tokenizerConfigJson, trainTokenizer } from '../world';

const CORPUS_DOCUMENTS = 300;
const DEFAULT_VOCAB_SIZE = 512;
const CONTEXT_TOKENS = 512;

/** `shape` overrides the sizes (the benchmark times a model shaped like the default one). */
export function tinySealModel(
  seed: number,
  worldSeed: number,
  shape: Partial<
    Pick<
      ModelConfig,
      | 'vocabSize'
      | 'hiddenSize'
      | 'intermediateSize'
      | 'numLayers'
      | 'numHeads'
      | 'numKvHeads'
      | 'headDim'
    >
  > = {},
): LoadedModel {
  const vocabSize = shape.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const corpus = generateCorpus(generateWorld(worldSeed), { documents: CORPUS_DOCUMENTS });
  const tokenizer = createTokenizer(
    trainTokenizer(
      corpus.map((document) => document.text),
      { vocabSize },
    ),
    tokenizerConfigJson(CONTEXT_TOKENS),
  );
  const config: ModelConfig = {
    ...SMALL_LLAMA_CONFIG,
    vocabSize,
    maxPositionEmbeddings: CONTEXT_TOKENS,
    ...shape,
    bosTokenId: tokenizer.bosTokenId,
    eosTokenIds: tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId],
  };
  return {
    id: `tiny-seal-${seed}-world-${worldSeed}`,
    config,
    // A wider init than 0.02 so that a few LoRA steps visibly move the answers.
    weights: randomModelWeights(config, seed, 0.1),
    tokenizer,
    generationConfig: null,
    chatTemplate: null,
  };
}
