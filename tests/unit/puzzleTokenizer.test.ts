import { describe, expect, it } from 'vitest';
import { createTokenizer } from '../../src/engine/model/tokenizer';
import { makeGrid, type GridPair } from '../../src/engine/puzzles/grid';
import { buildPuzzleTokenizer } from '../../src/engine/puzzles/puzzleTokenizer';
import {
  randomRecipe,
  RECIPE_KEYS,
  RECIPE_LOSSES,
  recipeText,
} from '../../src/engine/puzzles/recipe';
import {
  answerCompletion,
  PUZZLE_MARKERS,
  puzzlePrompt,
  recipeCompletion,
  recipePrompt,
  renderGrid,
} from '../../src/engine/puzzles/text';
import { createRng, type Rng } from '../../src/engine/world/random';
import { SPECIAL_TOKENS, tokenizerConfigJson } from '../../src/engine/world/tokenizer';

const json = buildPuzzleTokenizer();
const tokenizer = createTokenizer(json, tokenizerConfigJson(2048));
const encode = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });
const digitIds = Array.from({ length: 10 }, (_, d) => tokenizer.tokenToId(String(d)));
/** The byte-level alphabet writes '\n' as 'Ċ'. */
const newlineId = tokenizer.tokenToId('Ċ');

function randomPair(rng: Rng, side: number): GridPair {
  const grid = () => makeGrid(rng.between(1, side), rng.between(1, side), () => rng.int(10));
  return { input: grid(), output: grid() };
}

describe('puzzle tokenizer', () => {
  it('is small: specials, bytes and a few dozen merges, none joining digits or newlines', () => {
    const vocab = Object.keys(json.model.vocab);
    const merges = json.model.merges.length;
    const specialsAndBytes = Object.keys(SPECIAL_TOKENS).length + 256;
    expect(vocab).toHaveLength(specialsAndBytes + merges);
    expect(merges).toBeGreaterThan(12);
    expect(merges).toBeLessThan(64);
    const merged = vocab.filter((token) => json.model.vocab[token]! >= specialsAndBytes);
    expect(merged.filter((token) => /[0-9Ċ]/.test(token))).toEqual([]);
    expect(JSON.stringify(buildPuzzleTokenizer())).toBe(JSON.stringify(json));
  });

  it('makes every marker, recipe key and recipe value one token', () => {
    for (const word of [
      ...Object.values(PUZZLE_MARKERS),
      ...RECIPE_KEYS,
      ...RECIPE_LOSSES,
      'true',
      'false',
    ]) {
      expect(encode(word), word).toHaveLength(1);
    }
  });

  it('gives a 6x6 grid 36 digit tokens and 5 newline tokens', () => {
    const rng = createRng('six by six');
    const grid = makeGrid(6, 6, () => rng.int(10));
    const ids = encode(renderGrid(grid));
    expect(ids).toEqual(
      grid.flatMap((row, r) => [...(r > 0 ? [newlineId] : []), ...row.map((c) => digitIds[c])]),
    );
    expect(ids).toHaveLength(41);
  });

  it('keeps every cell one token inside whole prompts and answers', () => {
    const rng = createRng('cells in prompts');
    for (let i = 0; i < 50; i++) {
      const demos = [randomPair(rng, 6), randomPair(rng, 6), randomPair(rng, 6)];
      const query = randomPair(rng, 6);
      const text = puzzlePrompt(demos, query.input) + answerCompletion(query.output);
      const cells = [...demos, query].reduce(
        (sum, { input, output }) => sum + input.flat().length + output.flat().length,
        0,
      );
      const ids = encode(text);
      expect(ids.filter((id) => digitIds.includes(id))).toHaveLength(cells);
      expect(ids.filter((id) => id === newlineId)).toHaveLength(text.split('\n').length - 1);
    }
  });

  it('writes a recipe in about 30 tokens: one per word and punctuation run, one per digit', () => {
    // 7 keys, 5 word values, and 15 punctuation runs: {" ": ":" ," "," }
    const wordsAndPunctuation = 7 + 5 + 15;
    const rng = createRng('recipe tokens');
    for (let i = 0; i < 50; i++) {
      const recipe = randomRecipe(rng);
      const text = recipeText(recipe);
      const { lr, epochs } = JSON.parse(text) as { lr: number; epochs: number };
      expect(encode(text), text).toHaveLength(
        wordsAndPunctuation + String(lr).length + String(epochs).length,
      );
    }
  });

  it('decodes what it encodes', () => {
    const rng = createRng('decode');
    for (let i = 0; i < 50; i++) {
      const demos = [randomPair(rng, 6), randomPair(rng, 6)];
      const query = randomPair(rng, 6);
      for (const text of [
        puzzlePrompt(demos, query.input) + answerCompletion(query.output),
        recipePrompt(demos) + recipeCompletion(randomRecipe(rng)),
      ]) {
        const ids = tokenizer.encode(text);
        expect(ids[0]).toBe(tokenizer.bosTokenId);
        expect(tokenizer.decode(ids)).toBe(text);
      }
    }
  });
});
