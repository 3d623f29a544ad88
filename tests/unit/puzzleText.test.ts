import { describe, expect, it } from 'vitest';
import { createTokenizer } from '../../src/engine/model/tokenizer';
import { makeGrid, type Grid, type GridPair } from '../../src/engine/puzzles/grid';
import { buildPuzzleTokenizer } from '../../src/engine/puzzles/puzzleTokenizer';
import { parseRecipe, type Recipe } from '../../src/engine/puzzles/recipe';
import {
  answerCompletion,
  parseGridAnswer,
  PUZZLE_EXAMPLES_LOSS_ON,
  PUZZLE_MARKERS,
  puzzlePrompt,
  puzzleTrainingExample,
  recipePrompt,
  recipeTrainingExample,
  renderGrid,
} from '../../src/engine/puzzles/text';
import { tokenizeExamples } from '../../src/engine/train/dataset';
import { createRng, type Rng } from '../../src/engine/world/random';
import { tokenizerConfigJson } from '../../src/engine/world/tokenizer';

function randomGrid(rng: Rng, maxSide = 8): Grid {
  return makeGrid(rng.between(1, maxSide), rng.between(1, maxSide), () => rng.int(10));
}

function randomPair(rng: Rng): GridPair {
  return { input: randomGrid(rng), output: randomGrid(rng) };
}

const recipe: Recipe = {
  basic: true,
  size: false,
  chain: true,
  repeat: false,
  loss: 'all',
  learningRate: 0.001,
  epochs: 3,
};

describe('grids as text', () => {
  it('writes one digit per cell, rows on their own lines', () => {
    expect(
      renderGrid([
        [0, 1, 2],
        [9, 8, 7],
      ]),
    ).toBe('012\n987');
    expect(renderGrid([[5]])).toBe('5');
  });

  it('refuses to write what is not a grid', () => {
    expect(() => renderGrid([[1, 2], [3]])).toThrow(/rectangle/);
    expect(() => renderGrid([[10]])).toThrow(/colour/);
    expect(() => renderGrid([])).toThrow(/non-empty/);
  });

  it('reads back every grid it writes, with or without the end marker', () => {
    const rng = createRng('grid round trip');
    for (let i = 0; i < 300; i++) {
      const grid = randomGrid(rng, 12);
      expect(parseGridAnswer(renderGrid(grid))).toEqual(grid);
      expect(parseGridAnswer(answerCompletion(grid))).toEqual(grid);
      expect(parseGridAnswer(`${answerCompletion(grid)}\n999\nin`)).toEqual(grid);
    }
  });

  it('stops reading at a blank line', () => {
    expect(parseGridAnswer('12\n34\n\n56\n78')).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('gives null for output that is not a rectangle of digits', () => {
    for (const text of [
      '',
      '\n12\n34',
      'end',
      '12\n345\nend',
      '12\n3\nend',
      '12\n3a\nend',
      '1 2\n3 4',
      '12\n34end',
      'out\n12\n34\nend',
      '-1\n12',
      `${'1'.repeat(31)}\nend`,
    ]) {
      expect(parseGridAnswer(text), JSON.stringify(text)).toBeNull();
    }
  });
});

describe('puzzle prompts', () => {
  const rng = createRng('prompts');
  const demos = [randomPair(rng), randomPair(rng), randomPair(rng)];
  const query = randomPair(rng);

  it('shows the demonstrations with word markers and ends where the answer starts', () => {
    const prompt = puzzlePrompt(demos, query.input);
    const first = demos[0] as GridPair;
    expect(
      prompt.startsWith(`in\n${renderGrid(first.input)}\nout\n${renderGrid(first.output)}\n\nin\n`),
    ).toBe(true);
    expect(prompt.endsWith(`\n\nin\n${renderGrid(query.input)}\nout\n`)).toBe(true);
    expect(prompt.split('\n\n')).toHaveLength(demos.length + 1);
    expect(answerCompletion(query.output)).toBe(`${renderGrid(query.output)}\nend`);
  });

  it('never contains the query output', () => {
    const local = createRng('hidden answer');
    for (let i = 0; i < 200; i++) {
      const shown = [randomPair(local), randomPair(local)];
      const hidden = makeGrid(7, 7, () => local.int(10));
      const queryPair = { input: randomGrid(local, 6), output: hidden };
      expect(puzzlePrompt(shown, queryPair.input)).not.toContain(renderGrid(hidden));
      const example = puzzleTrainingExample(shown, queryPair, 'outputs');
      expect('prompt' in example && example.prompt).not.toContain(renderGrid(hidden));
      expect(recipePrompt(shown)).not.toContain(renderGrid(hidden));
    }
  });

  it('asks for a recipe after the demonstrations and learns it as its completion', () => {
    const prompt = recipePrompt(demos);
    expect(prompt.startsWith(puzzlePrompt(demos, query.input).split('\n\n')[0] as string)).toBe(
      true,
    );
    expect(prompt.endsWith(`\n\n${PUZZLE_MARKERS.recipe}\n`)).toBe(true);
    expect(prompt).not.toContain(renderGrid(query.input));
    const example = recipeTrainingExample(demos, recipe);
    expect(example).toEqual({ prompt, completion: expect.stringMatching(/^\{.*\}\nend$/) });
    expect('completion' in example && parseRecipe(example.completion)).toEqual({
      ok: true,
      recipe,
    });
  });
});

describe('puzzle training examples', () => {
  const tokenizer = createTokenizer(buildPuzzleTokenizer(), tokenizerConfigJson(2048));
  const rng = createRng('loss split');
  const demos = [randomPair(rng), randomPair(rng)];
  const query = randomPair(rng);
  const tokenize = (loss: 'all' | 'outputs') =>
    tokenizeExamples([puzzleTrainingExample(demos, query, loss)], tokenizer, {
      lossOn: PUZZLE_EXAMPLES_LOSS_ON,
      maxLength: 4096,
      overflow: 'refuse',
    }).sequences[0]!;

  it('holds the same tokens whichever the loss', () => {
    expect(tokenize('outputs').ids).toEqual(tokenize('all').ids);
  });

  it("learns only the answer and the end with 'outputs'", () => {
    const { ids, isTarget } = tokenize('outputs');
    const learned = ids.filter((_, t) => isTarget[t]);
    const answer = tokenizer.encode(answerCompletion(query.output), { addSpecialTokens: false });
    expect(learned).toEqual([...answer, tokenizer.eosTokenId]);
    expect(tokenizer.decode(learned)).toBe(answerCompletion(query.output));
  });

  it("learns every token after the first with 'all'", () => {
    const { isTarget } = tokenize('all');
    expect(isTarget[0]).toBe(false);
    expect(isTarget.slice(1).every(Boolean)).toBe(true);
  });
});
