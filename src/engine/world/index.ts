/** The synthetic knowledge world: generator, splits, contexts, corpus, tokenizer, fact checker. */
export { generateWorld, entityOf, entityAs } from './generate';
export { contextOf, toSquad, squadExport, type WorldContext } from './contexts';
export { questionsFor } from './questions';
export { renderPassage, type RenderedPassage } from './render';
export { viewOf, type EntityView } from './views';
export {
  generateCorpus,
  corpusStats,
  estimateTokens,
  DEFAULT_CORPUS_PARAMS,
  type CorpusDocument,
  type CorpusParams,
  type CorpusStats,
  type DocumentKind,
} from './corpus';
export {
  imitatedSelfEdit,
  teacherSelfEdit,
  imitateCompletion,
  DEFAULT_IMITATION_PARAMS,
  type ImitationParams,
  type LineKind,
} from './imitation';
export { checkSelfEditLine, type LineVerdict } from './consistency';
export {
  trainTokenizer,
  tokenizerConfigJson,
  SPECIAL_TOKENS,
  DEFAULT_VOCAB_SIZE,
  type TokenizerJson,
} from './tokenizer';
export { buildWorld, type WorldBuild, type WorldBuildOptions } from './build';
export { createRng, type Rng } from './random';
export {
  DEFAULT_WORLD_PARAMS,
  type World,
  type WorldParams,
  type Entity,
  type EntityKind,
  type Split,
  type SquadContext,
  type QuestionKind,
  type WorldQuestion,
} from './types';
