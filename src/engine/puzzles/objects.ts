/**
 * Objects on a puzzle grid: the 4-connected groups of same-coloured cells that are not
 * background, which the object-wise rules (recolour by size, keep the largest, …) act on.
 */
import { height, width, type Grid } from './grid';

/** The colour of empty cells. */
export const BACKGROUND = 0;

/** A [row, column] position on a grid. */
export type Cell = readonly [number, number];

export interface GridObject {
  colour: number;
  /** Its cells, the first one first in reading order. */
  cells: Cell[];
}

const NEIGHBOURS: readonly Cell[] = [
  [-1, 0],
  [1, 0],
  [0, -1],
  [0, 1],
];

/** The objects of `grid`, in reading order of their first cell. */
export function objectsOf(grid: Grid): GridObject[] {
  const rows = height(grid);
  const cols = width(grid);
  const seen = grid.map((row) => row.map(() => false));
  const objects: GridObject[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const colour = grid[r]![c]!;
      if (colour === BACKGROUND || seen[r]![c]) continue;
      seen[r]![c] = true;
      const cells: Cell[] = [[r, c]];
      for (let i = 0; i < cells.length; i++) {
        const [cr, cc] = cells[i]!;
        for (const [dr, dc] of NEIGHBOURS) {
          const nr = cr + dr;
          const nc = cc + dc;
          if (nr < 0 || nr >= rows || nc < 0 || nc >= cols) continue;
          if (seen[nr]![nc] || grid[nr]![nc] !== colour) continue;
          seen[nr]![nc] = true;
          cells.push([nr, nc]);
        }
      }
      objects.push({ colour, cells });
    }
  }
  return objects;
}

/** Background cells that cannot reach the grid's edge through background (4-connected). */
export function enclosedCells(grid: Grid): Cell[] {
  const rows = height(grid);
  const cols = width(grid);
  const open = grid.map((row) => row.map(() => false));
  const queue: Cell[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const onEdge = r === 0 || c === 0 || r === rows - 1 || c === cols - 1;
      if (onEdge && grid[r]![c] === BACKGROUND) {
        open[r]![c] = true;
        queue.push([r, c]);
      }
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const [cr, cc] = queue[i]!;
    for (const [dr, dc] of NEIGHBOURS) {
      const nr = cr + dr;
      const nc = cc + dc;
      if (nr < 0 || nr >= rows || nc < 0 || nc >= cols) continue;
      if (open[nr]![nc] || grid[nr]![nc] !== BACKGROUND) continue;
      open[nr]![nc] = true;
      queue.push([nr, nc]);
    }
  }
  const enclosed: Cell[] = [];
  grid.forEach((row, r) =>
    row.forEach((colour, c) => {
      if (colour === BACKGROUND && !open[r]![c]) enclosed.push([r, c]);
    }),
  );
  return enclosed;
}

/** Cells of an object whose four neighbours all belong to it (a cell on the edge has none). */
export function interiorCells(grid: Grid): Cell[] {
  const rows = height(grid);
  const cols = width(grid);
  const interior: Cell[] = [];
  for (let r = 1; r < rows - 1; r++) {
    for (let c = 1; c < cols - 1; c++) {
      const colour = grid[r]![c]!;
      if (colour === BACKGROUND) continue;
      if (NEIGHBOURS.every(([dr, dc]) => grid[r + dr]![c + dc] === colour)) interior.push([r, c]);
    }
  }
  return interior;
}

export interface Box {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** The smallest box (inclusive bounds) holding every non-background cell, or null if none. */
export function contentBox(grid: Grid): Box | null {
  let box: Box | null = null;
  grid.forEach((row, r) =>
    row.forEach((colour, c) => {
      if (colour === BACKGROUND) return;
      if (!box) box = { top: r, left: c, bottom: r, right: c };
      else {
        box.top = Math.min(box.top, r);
        box.left = Math.min(box.left, c);
        box.bottom = Math.max(box.bottom, r);
        box.right = Math.max(box.right, c);
      }
    }),
  );
  return box;
}

/** The colours used by `grids` other than background. */
export function coloursOf(...grids: Grid[]): Set<number> {
  const colours = new Set<number>();
  for (const grid of grids) {
    for (const row of grid)
      for (const colour of row) if (colour !== BACKGROUND) colours.add(colour);
  }
  return colours;
}
