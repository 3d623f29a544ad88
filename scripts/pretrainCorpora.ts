/**
 * What `npm run pretrain` trains on, per world: the knowledge world (the default model) or the
 * puzzle world. Each builds its world from the seed, its tokenizer and its tokenized corpus, and
 * can draw a fresh corpus of the same size with another mix of document kinds (`--mix`).
 */
import type { ModelConfig } from '../src/engine/model/config';
import { createTokenizer, type Tokenizer } from '../src/engine/model/tokenizer';
import {
  DEFAULT_PUZZLE_CORPUS_PARAMS,
  generatePuzzleCorpus,
  puzzleCorpusStats,
  type PuzzleCorpusStats,
} from '../src/engine/puzzles/corpus';
import { buildPuzzleTokenizer } from '../src/engine/puzzles/puzzleTokenizer';
import { DEFAULT_PUZZLE_WORLD_PARAMS, generatePuzzleWorld } from '../src/engine/puzzles/world';
import { buildWorld } from '../src/engine/world/build';
import { DEFAULT_CORPUS_PARAMS, generateCorpus } from '../src/engine/world/corpus';
import { tokenizerConfigJson, type TokenizerJson } from '../src/engine/world/tokenizer';
import { puzzleModelCard, type TrainingSummary } from './puzzleModelCard';

export type PretrainWorldKind = 'knowledge' | 'puzzles';

export const PRETRAIN_WORLD_KINDS: readonly PretrainWorldKind[] = ['knowledge', 'puzzles'];

/** Relative shares of the world's document kinds. */
export type Mix = Record<string, number>;

export interface PretrainCorpus {
  tokenizerJson: TokenizerJson;
  tokenizerConfig: Record<string, unknown>;
  tokenizer: Tokenizer;
  /** The corpus, tokenized (`<s>` first, `</s>` last). */
  documents: number[][];
  /** A fresh corpus of the same size with `mix`, tokenized. */
  remix(mix: Mix): number[][];
  /** Facts about the corpus for training.json, where the world has more to say than its size. */
  facts?: object;
  /** The model card to write beside the model, given the card already there (if any). */
  card?(
    modelName: string,
    summary: TrainingSummary,
    config: ModelConfig,
    previous: string | null,
  ): string;
}

export interface PretrainWorld {
  defaults: { name: string; sequenceLength: number; documents: number };
  /** The mix the corpus is drawn with unless `--mix` says otherwise; its keys are the kinds. */
  defaultMix: Mix;
  build(seed: number, documents: number, sequenceLength: number): PretrainCorpus;
}

const knowledge: PretrainWorld = {
  defaults: {
    name: 'seal-world-1m',
    sequenceLength: 256,
    documents: DEFAULT_CORPUS_PARAMS.documents,
  },
  defaultMix: DEFAULT_CORPUS_PARAMS.mix,
  build(seed, documents, sequenceLength) {
    const build = buildWorld(seed, { corpus: { documents } });
    const tokenizerConfig = tokenizerConfigJson(sequenceLength);
    const tokenizer = createTokenizer(build.tokenizer, tokenizerConfig);
    return {
      tokenizerJson: build.tokenizer,
      tokenizerConfig,
      tokenizer,
      documents: build.corpus.map((d) => tokenizer.encode(d.text)),
      remix: (mix) =>
        generateCorpus(build.world, {
          documents,
          mix: mix as typeof DEFAULT_CORPUS_PARAMS.mix,
        }).map((d) => tokenizer.encode(d.text)),
    };
  },
};

/** The puzzle corpus's facts, as training.json and the card record them. */
export interface PuzzleCorpusFacts {
  world: 'puzzles';
  worldParams: typeof DEFAULT_PUZZLE_WORLD_PARAMS;
  heldOutCompositions: number;
  corpusParams: typeof DEFAULT_PUZZLE_CORPUS_PARAMS;
  corpus: PuzzleCorpusStats;
}

const puzzles: PretrainWorld = {
  defaults: {
    name: 'seal-puzzles-1m',
    sequenceLength: DEFAULT_PUZZLE_CORPUS_PARAMS.contextTokens,
    documents: DEFAULT_PUZZLE_CORPUS_PARAMS.documents,
  },
  defaultMix: DEFAULT_PUZZLE_CORPUS_PARAMS.mix,
  build(seed, documents, sequenceLength) {
    const worldParams = { ...DEFAULT_PUZZLE_WORLD_PARAMS, seed };
    const world = generatePuzzleWorld(worldParams);
    const tokenizerJson = buildPuzzleTokenizer();
    const tokenizerConfig = tokenizerConfigJson(sequenceLength);
    const tokenizer = createTokenizer(tokenizerJson, tokenizerConfig);
    // Documents are tokenized once: to fit them to the context, then kept for training.
    const encoded = new Map<string, number[]>();
    const encode = (text: string) => {
      let ids = encoded.get(text);
      if (!ids) encoded.set(text, (ids = tokenizer.encode(text)));
      return ids;
    };
    const params = { seed, documents, contextTokens: sequenceLength };
    const corpusWith = (mix: Mix) =>
      generatePuzzleCorpus(world, (text) => encode(text).length, {
        ...params,
        mix: mix as typeof DEFAULT_PUZZLE_CORPUS_PARAMS.mix,
      });
    const corpus = corpusWith(DEFAULT_PUZZLE_CORPUS_PARAMS.mix);
    const facts: PuzzleCorpusFacts = {
      world: 'puzzles',
      worldParams,
      heldOutCompositions: world.heldOutCompositions.length,
      corpusParams: { ...DEFAULT_PUZZLE_CORPUS_PARAMS, ...params },
      corpus: puzzleCorpusStats(corpus),
    };
    return {
      tokenizerJson,
      tokenizerConfig,
      tokenizer,
      documents: corpus.documents.map((d) => encode(d.text)),
      remix: (mix) => corpusWith(mix).documents.map((d) => encode(d.text)),
      facts,
      card: (modelName, summary, config, previous) =>
        puzzleModelCard(modelName, facts, summary, config, previous),
    };
  },
};

export const PRETRAIN_WORLDS: Record<PretrainWorldKind, PretrainWorld> = { knowledge, puzzles };
