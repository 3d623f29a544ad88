/**
 * Random input grids for the puzzle world: background with sparse noise or a few shapes, in the
 * style a rule needs to be visible (shapes for object rules, solid blocks to hollow out, frames to
 * fill). Shapes never touch, not even at a corner, so each is one object whatever its colour.
 */
import type { Rng } from '../world/random';
import { makeGrid, type Grid } from './grid';
import { BACKGROUND, type Cell } from './objects';
import type { InputStyle } from './transforms';

const NEAR: readonly Cell[] = [-1, 0, 1].flatMap((dr) => [-1, 0, 1].map((dc): Cell => [dr, dc]));
const SIDE_BY_SIDE: readonly Cell[] = NEAR.filter(([dr, dc]) => Math.abs(dr) + Math.abs(dc) === 1);
const PLACEMENT_TRIES = 12;

/** A 4-connected shape of `size` cells grown at random, with its top-left at (0, 0). */
function blob(rng: Rng, size: number): Cell[] {
  const cells: Cell[] = [[0, 0]];
  const taken = new Set(['0,0']);
  while (cells.length < size) {
    const [r, c] = rng.pick(cells);
    const [dr, dc] = rng.pick(SIDE_BY_SIDE);
    const key = `${r + dr},${c + dc}`;
    if (taken.has(key)) continue;
    taken.add(key);
    cells.push([r + dr, c + dc]);
  }
  const top = Math.min(...cells.map(([r]) => r));
  const left = Math.min(...cells.map(([, c]) => c));
  return cells.map(([r, c]) => [r - top, c - left]);
}

function rectangle(rows: number, cols: number, hollow: boolean): Cell[] {
  const cells: Cell[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const onBorder = r === 0 || c === 0 || r === rows - 1 || c === cols - 1;
      if (!hollow || onBorder) cells.push([r, c]);
    }
  }
  return cells;
}

/** Paints `shape` somewhere it fits without touching anything; false when no place was found. */
function place(grid: Grid, shape: readonly Cell[], colour: number, rng: Rng): boolean {
  const rows = grid.length;
  const cols = grid[0]!.length;
  const shapeRows = Math.max(...shape.map(([r]) => r)) + 1;
  const shapeCols = Math.max(...shape.map(([, c]) => c)) + 1;
  if (shapeRows > rows || shapeCols > cols) return false;
  for (let attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
    const top = rng.int(rows - shapeRows + 1);
    const left = rng.int(cols - shapeCols + 1);
    const free = shape.every(([r, c]) =>
      NEAR.every(([dr, dc]) => (grid[top + r + dr]?.[left + c + dc] ?? BACKGROUND) === BACKGROUND),
    );
    if (!free) continue;
    for (const [r, c] of shape) grid[top + r]![left + c] = colour;
    return true;
  }
  return false;
}

function noise(rng: Rng, rows: number, cols: number, colours: readonly number[]): Grid {
  const density = rng.between(15, 40) / 100;
  const palette = rng.shuffle(colours).slice(0, rng.between(1, Math.min(3, colours.length)));
  const grid = makeGrid(rows, cols, () => (rng.chance(density) ? rng.pick(palette) : BACKGROUND));
  grid[rng.int(rows)]![rng.int(cols)] = rng.pick(palette);
  return grid;
}

/** Rectangles of 3 to 4 (5 for frames) cells a side, as far as the grid allows. */
function rectangles(rng: Rng, rows: number, cols: number, hollow: boolean): Cell[][] {
  const largest = hollow ? 5 : 4;
  return Array.from({ length: rng.between(1, 2) }, () =>
    rectangle(
      rng.between(3, Math.max(3, Math.min(largest, rows))),
      rng.between(3, Math.max(3, Math.min(largest, cols))),
      hollow,
    ),
  );
}

function shapesFor(rng: Rng, style: InputStyle, rows: number, cols: number): Cell[][] {
  const blobs = (lo: number, hi: number) =>
    Array.from({ length: rng.between(lo, hi) }, () => blob(rng, rng.between(1, 4)));
  switch (style) {
    case 'objects':
      return blobs(2, 4);
    case 'sparse':
      return blobs(1, 2);
    case 'blocks':
      return [...rectangles(rng, rows, cols, false), ...blobs(0, 1)];
    case 'frames':
      return [...rectangles(rng, rows, cols, true), ...blobs(0, 1)];
    case 'noise':
      return [];
  }
}

/** A random `rows` × `cols` input in `style`, its cells drawn from `colours` and background. */
export function randomInput(
  rng: Rng,
  rows: number,
  cols: number,
  style: InputStyle,
  colours: readonly number[],
): Grid {
  if (style === 'noise') return noise(rng, rows, cols, colours);
  const grid = makeGrid(rows, cols, () => BACKGROUND);
  for (const shape of shapesFor(rng, style, rows, cols)) place(grid, shape, rng.pick(colours), rng);
  return grid;
}
