/**
 * Puzzles as the text the puzzle model reads and writes. A grid is its rows of digits, one
 * character (and one token) per cell, rows on their own lines; a puzzle is its demonstrations,
 * each marked `in` and `out`, with blank lines between them, then the query input and `out`
 * where the model's answer begins. The markers are words so the tokenizer makes each one token.
 * A puzzle with one demonstration, its query's answer after the prompt's last line:
 *
 *   in
 *   012
 *   340
 *   out
 *   210
 *   043
 *
 *   in
 *   56
 *   out
 *   65       ← answerCompletion: the rows, then the end marker
 *   end
 */
import type { TrainingExample } from '../train/dataset';
import { gridProblem, type Grid, type GridPair } from './grid';
import { recipeText, type Recipe, type RecipeLoss } from './recipe';

export const PUZZLE_MARKERS = {
  input: 'in',
  output: 'out',
  /** Closes every answer the model writes. */
  end: 'end',
  /** Where the model writes a recipe for the puzzle shown above it. */
  recipe: 'recipe',
} as const;

/**
 * How the examples built here are tokenized (train/dataset.ts): a prompt/completion example then
 * learns its completion only, a plain-text example every token.
 */
export const PUZZLE_EXAMPLES_LOSS_ON = 'completion' as const;

/** The grid's rows of digits, separated by '\n' (no trailing newline). */
export function renderGrid(grid: Grid): string {
  const problem = gridProblem(grid);
  if (problem !== null) throw new Error(`cannot write the grid as text: ${problem}`);
  return grid.map((row) => row.join('')).join('\n');
}

function pairText({ input, output }: GridPair): string {
  return `${PUZZLE_MARKERS.input}\n${renderGrid(input)}\n${PUZZLE_MARKERS.output}\n${renderGrid(output)}`;
}

/** The demonstrations, then `closing`, blank lines between them. */
function withDemonstrations(demonstrations: readonly GridPair[], closing: string): string {
  return [...demonstrations.map(pairText), closing].join('\n\n');
}

/** The demonstrations and the query input, ending where the answer's first row begins. */
export function puzzlePrompt(demonstrations: readonly GridPair[], queryInput: Grid): string {
  return withDemonstrations(
    demonstrations,
    `${PUZZLE_MARKERS.input}\n${renderGrid(queryInput)}\n${PUZZLE_MARKERS.output}\n`,
  );
}

/** What the model must write after puzzlePrompt: the answer's rows and the end marker. */
export function answerCompletion(output: Grid): string {
  return `${renderGrid(output)}\n${PUZZLE_MARKERS.end}`;
}

/**
 * The grid the model wrote: its lines up to the end marker, a blank line or the end of the text.
 * Null unless they form a rectangle of digits.
 */
export function parseGridAnswer(text: string): Grid | null {
  const rows: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line === PUZZLE_MARKERS.end) break;
    if (!/^[0-9]+$/.test(line)) return null;
    rows.push(line);
  }
  const grid = rows.map((row) => Array.from(row, Number));
  return gridProblem(grid) === null ? grid : null;
}

/** The demonstrations and the request for a recipe, ending where the recipe's JSON begins. */
export function recipePrompt(demonstrations: readonly GridPair[]): string {
  return withDemonstrations(demonstrations, `${PUZZLE_MARKERS.recipe}\n`);
}

/** What the model writes after recipePrompt: the recipe's text and the end marker. */
export function recipeCompletion(recipe: Recipe): string {
  return `${recipeText(recipe)}\n${PUZZLE_MARKERS.end}`;
}

/**
 * One training example: solve `query` after `demonstrations`. With loss 'outputs' only the answer
 * is learned (a prompt/completion pair), with 'all' every token (one plain text); tokenize with
 * PUZZLE_EXAMPLES_LOSS_ON.
 */
export function puzzleTrainingExample(
  demonstrations: readonly GridPair[],
  query: GridPair,
  loss: RecipeLoss,
): TrainingExample {
  const prompt = puzzlePrompt(demonstrations, query.input);
  const completion = answerCompletion(query.output);
  return loss === 'outputs' ? { prompt, completion } : { text: prompt + completion };
}

/** One recipe-writing example: the recipe is learned, the demonstrations are given. */
export function recipeTrainingExample(
  demonstrations: readonly GridPair[],
  recipe: Recipe,
): TrainingExample {
  return { prompt: recipePrompt(demonstrations), completion: recipeCompletion(recipe) };
}
