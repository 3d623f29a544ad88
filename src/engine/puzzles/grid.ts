/**
 * Grids: the boards of the few-shot puzzles (ARC's format). A grid is a rectangle of cells, each
 * holding one of ten colours 0–9; a puzzle shows a few input → output pairs and asks for the
 * output of a new input.
 */

/** Rows of colour indices 0–9; every row has the same length. */
export type Grid = number[][];

export interface GridPair {
  input: Grid;
  output: Grid;
}

/** A puzzle: demonstrations (`train`) and the inputs to solve (`test`), as in ARC's task files. */
export interface PuzzleTask {
  train: GridPair[];
  test: GridPair[];
}

export const COLOURS = 10;

/** ARC's largest grid side; a task file with a larger grid is refused. */
export const MAX_SIDE = 30;

export function height(grid: Grid): number {
  return grid.length;
}

export function width(grid: Grid): number {
  return grid[0]?.length ?? 0;
}

/** A new grid of `rows` × `cols` cells, each `fill(row, col)`. */
export function makeGrid(
  rows: number,
  cols: number,
  fill: (row: number, col: number) => number,
): Grid {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => fill(r, c)));
}

export function cloneGrid(grid: Grid): Grid {
  return grid.map((row) => [...row]);
}

export function gridsEqual(a: Grid, b: Grid): boolean {
  if (a.length !== b.length) return false;
  return a.every((row, r) => {
    const other = b[r] as number[];
    return row.length === other.length && row.every((cell, c) => cell === other[c]);
  });
}

/** A stable text key of a grid (for voting and de-duplication): rows joined by '|'. */
export function gridKey(grid: Grid): string {
  return grid.map((row) => row.join('')).join('|');
}

/**
 * Why `grid` is not a valid grid (not rectangular, empty, larger than `maxSide`, a cell that is not
 * an integer colour 0–9), or null when it is.
 */
export function gridProblem(grid: unknown, maxSide = MAX_SIDE): string | null {
  if (!Array.isArray(grid) || grid.length === 0) return 'a grid must be a non-empty list of rows';
  if (grid.length > maxSide)
    return `a grid has ${grid.length} rows; at most ${maxSide} are allowed`;
  const first: unknown = grid[0];
  if (!Array.isArray(first) || first.length === 0)
    return 'a grid row must be a non-empty list of cells';
  const cols = first.length;
  if (cols > maxSide) return `a grid has ${cols} columns; at most ${maxSide} are allowed`;
  for (let r = 0; r < grid.length; r++) {
    const row: unknown = grid[r];
    if (!Array.isArray(row)) return `row ${r + 1} is not a list of cells`;
    if (row.length !== cols)
      return `row ${r + 1} has ${row.length} cells, row 1 has ${cols}: a grid must be a rectangle`;
    for (let c = 0; c < cols; c++) {
      const cell: unknown = row[c];
      if (typeof cell !== 'number' || !Number.isInteger(cell) || cell < 0 || cell >= COLOURS) {
        return `cell (${r + 1}, ${c + 1}) is ${JSON.stringify(cell)}; a colour must be an integer 0–9`;
      }
    }
  }
  return null;
}
