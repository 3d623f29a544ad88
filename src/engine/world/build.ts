import { squadExport } from './contexts';
import {
  corpusStats,
  generateCorpus,
  type CorpusDocument,
  type CorpusParams,
  type CorpusStats,
} from './corpus';
import { generateWorld } from './generate';
import { DEFAULT_VOCAB_SIZE, trainTokenizer, type TokenizerJson } from './tokenizer';
import type { SquadContext, World, WorldParams } from './types';

/**
 * Everything derived from one seed: the world, its SQuAD-style splits, the pretraining corpus and
 * the tokenizer trained on that corpus. `npm run world` writes it; pretraining rebuilds it.
 */
export interface WorldBuild {
  world: World;
  /**
   * Contexts with questions: the pretraining entities whose QA the corpus trains (`pretrainQa`),
   * those it only shows as passages (`pretrainProbe`), and the SEAL contexts (`rl`, `eval`).
   */
  squad: {
    pretrainQa: SquadContext[];
    pretrainProbe: SquadContext[];
    rl: SquadContext[];
    eval: SquadContext[];
  };
  corpus: CorpusDocument[];
  corpusStats: CorpusStats;
  tokenizer: TokenizerJson;
}

export interface WorldBuildOptions {
  world?: Partial<WorldParams>;
  corpus?: Partial<CorpusParams>;
  vocabSize?: number;
}

export function buildWorld(seed: number, options: WorldBuildOptions = {}): WorldBuild {
  const world = generateWorld(seed, options.world);
  const corpus = generateCorpus(world, options.corpus);
  return {
    world,
    squad: {
      pretrainQa: squadExport(world, world.splits.pretrainQa),
      pretrainProbe: squadExport(world, world.splits.pretrainProbe),
      rl: squadExport(world, world.splits.rl),
      eval: squadExport(world, world.splits.eval),
    },
    corpus,
    corpusStats: corpusStats(corpus),
    tokenizer: trainTokenizer(
      corpus.map((d) => d.text),
      { vocabSize: options.vocabSize ?? DEFAULT_VOCAB_SIZE },
    ),
  };
}
