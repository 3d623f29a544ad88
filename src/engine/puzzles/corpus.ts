/**
 * The puzzle model's pretraining corpus, made from the puzzle world's pretraining split alone (the
 * RL, validation and evaluation tasks, and the compositions held out for them, never appear). Two
 * kinds of document, each teaching one ability the experiment needs:
 * - `solve`: a puzzle and its answer. One of the task's pairs (its test pair included) is the
 *   query, the others are the demonstrations in a random order, sometimes one fewer (as the
 *   leave-two-out examples of test-time training show). This is in-context learning on the rules
 *   and compositions pretraining shows.
 * - `recipe`: the task's demonstrations, then a training recipe drawn from an uneven spread. The
 *   recipes carry no signal about the puzzle, so the untrained model writes recipes of that whole
 *   spread and RL has something to sharpen.
 * Every document's grids go through one random symmetry of the square and one permutation of the
 * colours 1–9 (each with a set chance), the same for all its pairs, so a task's rule survives and
 * 2,000 tasks yield many distinct documents. A document that would not fit the model's context
 * loses demonstrations until it fits, or is dropped; both are counted. Small grids recur by
 * chance, so a solve document whose answer is some held-out task's test answer is left out too:
 * the model never practises writing a held-out answer.
 */
import { createRng, type Rng } from '../world/random';
import { SPECIAL_TOKENS } from '../world/tokenizer';
import {
  augmentPair,
  BASIC_AUGMENTATIONS,
  colourAugmentation,
  composeAugmentations,
  IDENTITY,
  randomColourPermutation,
  type GridAugmentation,
} from './augment';
import { gridKey, type Grid, type GridPair } from './grid';
import { randomRecipe, UNEVEN_RECIPES, type RecipeSpread } from './recipe';
import { answerCompletion, puzzlePrompt, recipeCompletion, recipePrompt } from './text';
import type { PuzzleWorld, PuzzleWorldTask } from './world';

export type PuzzleDocumentKind = 'solve' | 'recipe';

export const PUZZLE_DOCUMENT_KINDS: readonly PuzzleDocumentKind[] = ['solve', 'recipe'];

export interface PuzzleCorpusParams {
  /** Seeds the choice of tasks and every draw of every document. */
  seed: number | string;
  /** Documents drawn; those left out (see PuzzleCorpus) are not replaced. */
  documents: number;
  /** Relative number of documents of each kind. */
  mix: Record<PuzzleDocumentKind, number>;
  /** Chance that a document's grids are turned or mirrored (one of the 7 non-identity symmetries). */
  symmetryShare: number;
  /** Chance that a document's colours 1–9 are permuted. */
  colourShare: number;
  /** Chance that a solve document shows one demonstration fewer than the task has to spare. */
  fewerDemonstrationsShare: number;
  /** Longest document in tokens, `<s>` and `</s>` included: the model's trained context. */
  contextTokens: number;
  /** Where the recipes of recipe documents are drawn from. */
  recipes: RecipeSpread;
}

/** 85 % puzzles solved, 15 % recipes written; the recipe share is enough to learn the format. */
export const DEFAULT_PUZZLE_CORPUS_PARAMS: PuzzleCorpusParams = {
  seed: 1,
  documents: 50_000,
  mix: { solve: 0.85, recipe: 0.15 },
  symmetryShare: 0.75,
  colourShare: 0.5,
  fewerDemonstrationsShare: 0.2,
  contextTokens: 512,
  recipes: UNEVEN_RECIPES,
};

export interface PuzzleCorpusDocument {
  kind: PuzzleDocumentKind;
  /** The pretraining task the document's grids come from. */
  taskId: string;
  /** Name of the augmentation applied to every grid (`parseAugmentation` reads it). */
  augmentation: string;
  demonstrations: number;
  text: string;
  /** Length in tokens, as the `countTokens` given to `generatePuzzleCorpus` counted it. */
  tokens: number;
}

export interface PuzzleCorpus {
  documents: PuzzleCorpusDocument[];
  /** Documents that lost demonstrations to fit the context. */
  shrunk: number;
  /** Documents left out because even one demonstration did not fit. */
  dropped: number;
  /** Solve documents left out because their answer is a held-out task's test answer. */
  heldOutAnswers: number;
}

function checkParams(params: PuzzleCorpusParams): void {
  if (!Number.isInteger(params.documents) || params.documents < 0) {
    throw new Error(`puzzle corpus: documents must be a whole number ≥ 0, got ${params.documents}`);
  }
  for (const share of ['symmetryShare', 'colourShare', 'fewerDemonstrationsShare'] as const) {
    if (!(params[share] >= 0 && params[share] <= 1)) {
      throw new Error(`puzzle corpus: ${share} must be in [0, 1], got ${params[share]}`);
    }
  }
  if (!PUZZLE_DOCUMENT_KINDS.some((kind) => params.mix[kind] > 0)) {
    throw new Error('puzzle corpus: the mix gives every kind of document a weight of 0');
  }
  if (!Number.isInteger(params.contextTokens) || params.contextTokens < 2) {
    throw new Error(
      `puzzle corpus: contextTokens must be a whole number ≥ 2, got ${params.contextTokens}`,
    );
  }
}

/** Cycles through the tasks in a shuffled order, reshuffled after each pass, so all come up evenly. */
function taskCycle(tasks: readonly PuzzleWorldTask[], rng: Rng): () => PuzzleWorldTask {
  let order: PuzzleWorldTask[] = [];
  return () => {
    if (order.length === 0) order = rng.shuffle(tasks);
    return order.pop()!;
  };
}

function drawAugmentation(params: PuzzleCorpusParams, rng: Rng): GridAugmentation {
  const symmetry = rng.chance(params.symmetryShare) ? rng.pick(BASIC_AUGMENTATIONS) : IDENTITY;
  if (!rng.chance(params.colourShare)) return symmetry;
  return composeAugmentations(symmetry, colourAugmentation(randomColourPermutation(rng)));
}

/** A document's text for these demonstrations (the kind's text around them). */
type DocumentText = (demonstrations: readonly GridPair[]) => string;

function documentFor(
  kind: PuzzleDocumentKind,
  task: PuzzleWorldTask,
  params: PuzzleCorpusParams,
  rng: Rng,
): { demonstrations: GridPair[]; text: DocumentText; augmentation: string; answer?: Grid } {
  const augmentation = drawAugmentation(params, rng);
  const augmented = (pairs: readonly GridPair[]) =>
    pairs.map((pair) => augmentPair(pair, augmentation));
  if (kind === 'recipe') {
    const recipe = randomRecipe(rng, params.recipes);
    return {
      demonstrations: rng.shuffle(augmented(task.task.train)),
      text: (demonstrations) => recipePrompt(demonstrations) + recipeCompletion(recipe),
      augmentation: augmentation.name,
    };
  }
  const pairs = augmented([...task.task.train, ...task.task.test]);
  const queryIndex = rng.int(pairs.length);
  const query = pairs[queryIndex]!;
  const demonstrations = rng.shuffle(pairs.filter((_, i) => i !== queryIndex));
  if (demonstrations.length > 1 && rng.chance(params.fewerDemonstrationsShare)) {
    demonstrations.pop();
  }
  return {
    demonstrations,
    text: (shown) => puzzlePrompt(shown, query.input) + answerCompletion(query.output),
    augmentation: augmentation.name,
    answer: query.output,
  };
}

/**
 * Generates the corpus of `world`'s pretraining tasks; the same world, params and counter always
 * give the same documents. `countTokens` measures a document as the model will read it (`<s>`
 * included), for the context limit.
 */
export function generatePuzzleCorpus(
  world: PuzzleWorld,
  countTokens: (text: string) => number,
  overrides: Partial<PuzzleCorpusParams> = {},
): PuzzleCorpus {
  const params: PuzzleCorpusParams = { ...DEFAULT_PUZZLE_CORPUS_PARAMS, ...overrides };
  checkParams(params);
  const pretrainTasks = world.tasks.filter((task) => task.split === 'pretrain');
  if (pretrainTasks.length === 0)
    throw new Error('puzzle corpus: the world has no pretraining task');
  const heldOutAnswers = new Set(
    world.tasks
      .filter((task) => task.split !== 'pretrain')
      .flatMap((task) => task.task.test.map((pair) => gridKey(pair.output))),
  );
  const rng = createRng(`puzzle-corpus/${params.seed}`);
  const nextTask = taskCycle(pretrainTasks, rng.fork('tasks'));
  const corpus: PuzzleCorpus = { documents: [], shrunk: 0, dropped: 0, heldOutAnswers: 0 };
  for (let i = 0; i < params.documents; i++) {
    const r = rng.fork(`doc-${i}`);
    const kind = r.weighted(params.mix);
    const task = nextTask();
    const { demonstrations, text, augmentation, answer } = documentFor(kind, task, params, r);
    if (answer && heldOutAnswers.has(gridKey(answer))) {
      corpus.heldOutAnswers += 1;
      continue;
    }
    const full = (shown: readonly GridPair[]) => text(shown) + SPECIAL_TOKENS.eos;
    let tokens = countTokens(full(demonstrations));
    const shown = [...demonstrations];
    while (tokens > params.contextTokens && shown.length > 1) {
      shown.pop();
      tokens = countTokens(full(shown));
    }
    if (tokens > params.contextTokens) {
      corpus.dropped += 1;
      continue;
    }
    if (shown.length < demonstrations.length) corpus.shrunk += 1;
    corpus.documents.push({
      kind,
      taskId: task.id,
      augmentation,
      demonstrations: shown.length,
      text: full(shown),
      tokens,
    });
  }
  return corpus;
}

export interface PuzzleCorpusStats {
  documents: number;
  tokens: number;
  shrunk: number;
  dropped: number;
  heldOutAnswers: number;
  /** Distinct pretraining tasks the documents come from. */
  tasks: number;
  byKind: Record<PuzzleDocumentKind, { documents: number; tokens: number; share: number }>;
  /** Solve and recipe documents by how many demonstrations they show. */
  byDemonstrations: Record<number, number>;
}

export function puzzleCorpusStats(corpus: PuzzleCorpus): PuzzleCorpusStats {
  const { documents } = corpus;
  const byKind = Object.fromEntries(
    PUZZLE_DOCUMENT_KINDS.map((kind) => {
      const ofKind = documents.filter((d) => d.kind === kind);
      return [
        kind,
        {
          documents: ofKind.length,
          tokens: ofKind.reduce((n, d) => n + d.tokens, 0),
          share: documents.length === 0 ? 0 : ofKind.length / documents.length,
        },
      ];
    }),
  ) as PuzzleCorpusStats['byKind'];
  const byDemonstrations: Record<number, number> = {};
  for (const d of documents) {
    byDemonstrations[d.demonstrations] = (byDemonstrations[d.demonstrations] ?? 0) + 1;
  }
  return {
    documents: documents.length,
    tokens: documents.reduce((n, d) => n + d.tokens, 0),
    shrunk: corpus.shrunk,
    dropped: corpus.dropped,
    heldOutAnswers: corpus.heldOutAnswers,
    tasks: new Set(documents.map((d) => d.taskId)).size,
    byKind,
    byDemonstrations,
  };
}
