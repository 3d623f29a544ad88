import { beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, type Tokenizer } from '../../src/engine/model/tokenizer';
import {
  generatePuzzleCorpus,
  puzzleCorpusStats,
  type PuzzleCorpus,
  type PuzzleCorpusParams,
} from '../../src/engine/puzzles/corpus';
import { gridKey } from '../../src/engine/puzzles/grid';
import { buildPuzzleTokenizer } from '../../src/engine/puzzles/puzzleTokenizer';
import { parseRecipe } from '../../src/engine/puzzles/recipe';
import { parseGridAnswer, PUZZLE_MARKERS, renderGrid } from '../../src/engine/puzzles/text';
import { generatePuzzleWorld, type PuzzleWorld } from '../../src/engine/puzzles/world';
import { SPECIAL_TOKENS, tokenizerConfigJson } from '../../src/engine/world/tokenizer';

const DOCUMENTS = 1500;
let world: PuzzleWorld;
let tokenizer: Tokenizer;
let corpus: PuzzleCorpus;

const countTokens = (text: string) => tokenizer.encode(text).length;
const corpusWith = (overrides: Partial<PuzzleCorpusParams> = {}) =>
  generatePuzzleCorpus(world, countTokens, { documents: DOCUMENTS, ...overrides });

/** The text after the marker of a document's last block, without the end of sequence. */
function afterLast(text: string, marker: string): string {
  return text
    .slice(text.lastIndexOf(`${marker}\n`) + marker.length + 1)
    .replace(SPECIAL_TOKENS.eos, '');
}

beforeAll(() => {
  world = generatePuzzleWorld();
  tokenizer = createTokenizer(buildPuzzleTokenizer(), tokenizerConfigJson(512));
  corpus = corpusWith();
});

describe('the puzzle corpus', () => {
  it('draws from pretraining tasks only and never answers with a held-out test output', () => {
    const pretrainIds = new Set(world.tasks.filter((t) => t.split === 'pretrain').map((t) => t.id));
    const heldOut = world.tasks.filter((t) => t.split !== 'pretrain');
    const heldOutAnswers = new Set(heldOut.map((t) => gridKey(t.task.test[0]!.output)));
    const heldOutPairs = heldOut.map(
      ({ task }) =>
        `in\n${renderGrid(task.test[0]!.input)}\nout\n${renderGrid(task.test[0]!.output)}\n`,
    );
    for (const document of corpus.documents) {
      expect(pretrainIds.has(document.taskId)).toBe(true);
      if (document.kind !== 'solve') continue;
      const answer = parseGridAnswer(afterLast(document.text, PUZZLE_MARKERS.output));
      expect(answer).not.toBeNull();
      expect(heldOutAnswers.has(gridKey(answer!))).toBe(false);
      expect(heldOutPairs.some((pair) => document.text.includes(pair))).toBe(false);
    }
  });

  it('mixes solve and recipe documents in the set shares, and only the kinds asked for', () => {
    const stats = puzzleCorpusStats(corpus);
    expect(stats.documents).toBe(DOCUMENTS - corpus.dropped - corpus.heldOutAnswers);
    expect(stats.byKind.solve.share).toBeGreaterThan(0.82);
    expect(stats.byKind.solve.share).toBeLessThan(0.88);
    expect(stats.byKind.solve.documents + stats.byKind.recipe.documents).toBe(stats.documents);
    expect(stats.tokens).toBe(stats.byKind.solve.tokens + stats.byKind.recipe.tokens);
    expect(stats.tasks).toBeGreaterThan(DOCUMENTS / 2);
    const onlySolve = corpusWith({ documents: 200, mix: { solve: 1, recipe: 0 } });
    expect(onlySolve.documents.every((d) => d.kind === 'solve')).toBe(true);
  });

  it('ends recipe documents with a valid recipe drawn from an uneven spread', () => {
    const recipes = corpus.documents
      .filter((d) => d.kind === 'recipe')
      .map((d) => parseRecipe(afterLast(d.text, PUZZLE_MARKERS.recipe)));
    expect(recipes.every((r) => r.ok)).toBe(true);
    const rates = new Set(recipes.map((r) => (r.ok ? r.recipe.learningRate : null)));
    const epochs = new Set(recipes.map((r) => (r.ok ? r.recipe.epochs : null)));
    expect(rates.size).toBeGreaterThan(4);
    expect(epochs.size).toBeGreaterThan(5);
  });

  it('augments the grids: symmetries and colour permutations both appear', () => {
    const names = corpus.documents.map((d) => d.augmentation);
    expect(names.some((name) => name === 'identity')).toBe(true);
    expect(names.some((name) => /^(rot|flip|transpose|antiTranspose)/.test(name))).toBe(true);
    expect(names.some((name) => name.includes('colours'))).toBe(true);
  });

  it('is the same for the same seed and differs for another', () => {
    const again = corpusWith({ documents: 300 });
    expect(again.documents).toEqual(corpusWith({ documents: 300 }).documents);
    const other = corpusWith({ documents: 300, seed: 2 });
    expect(other.documents.map((d) => d.text)).not.toEqual(again.documents.map((d) => d.text));
  });

  it('fits every document to the context, counting those shrunk or dropped', () => {
    for (const document of corpus.documents) {
      const length = tokenizer.encode(document.text).length;
      expect(length).toBe(document.tokens);
      expect(length).toBeLessThanOrEqual(512);
    }
    const tight = corpusWith({ documents: 300, contextTokens: 150 });
    expect(tight.shrunk).toBeGreaterThan(0);
    expect(tight.dropped).toBeGreaterThan(0);
    for (const document of tight.documents) {
      expect(tokenizer.encode(document.text).length).toBeLessThanOrEqual(150);
      expect(document.demonstrations).toBeGreaterThanOrEqual(1);
    }
  });
});
