/**
 * Invertible augmentations of puzzle grids, as in test-time training for ARC (Akyürek et al.)
 * and SEAL's few-shot experiment: the symmetries of the square, doubled resolution, a symmetry
 * followed by doubling, tiling, and permutations of the colours 1–9. Training on augmented copies
 * of the demonstrations multiplies the data; predicting under an augmentation and undoing it gives
 * the votes of augmented inference. An augmentation of a task changes every input and output
 * alike, so the task's rule is carried over to the augmented grids.
 */
import type { Rng } from '../world/random';
import { COLOURS, gridsEqual, height, makeGrid, width } from './grid';
import type { Grid, GridPair, PuzzleTask } from './grid';

export interface GridAugmentation {
  /** Stable name, also the way back to the augmentation (`parseAugmentation`). */
  readonly name: string;
  apply(grid: Grid): Grid;
  /** The grid that `apply` turns into `grid`, or null when no grid turns into it. */
  invert(grid: Grid): Grid | null;
  /** Rows and columns of `apply`'s result on a `rows` × `cols` grid, without building it. */
  shape(rows: number, cols: number): readonly [number, number];
}

/** Which augmentation families to train with: the switches of a training recipe. */
export interface AugmentationChoice {
  basic: boolean;
  size: boolean;
  chain: boolean;
  repeat: boolean;
}

/** A colour map as a list: colour `c` becomes `permutation[c]`; the background 0 stays 0. */
export type ColourPermutation = readonly number[];

const at = (grid: Grid, row: number, col: number): number => (grid[row] as number[])[col] as number;

function lossless(
  name: string,
  transform: (grid: Grid) => Grid,
  inverse: (grid: Grid) => Grid,
  swapsSides: boolean,
): GridAugmentation {
  return {
    name,
    apply: transform,
    invert: inverse,
    shape: (rows, cols) => (swapsSides ? [cols, rows] : [rows, cols]),
  };
}

// The symmetries of the square, as index maps from the result's cell to the source's cell.
const rotate90 = (g: Grid): Grid =>
  makeGrid(width(g), height(g), (r, c) => at(g, height(g) - 1 - c, r));
const rotate180 = (g: Grid): Grid =>
  makeGrid(height(g), width(g), (r, c) => at(g, height(g) - 1 - r, width(g) - 1 - c));
const rotate270 = (g: Grid): Grid =>
  makeGrid(width(g), height(g), (r, c) => at(g, c, width(g) - 1 - r));
const mirrorLeftRight = (g: Grid): Grid =>
  makeGrid(height(g), width(g), (r, c) => at(g, r, width(g) - 1 - c));
const mirrorUpDown = (g: Grid): Grid =>
  makeGrid(height(g), width(g), (r, c) => at(g, height(g) - 1 - r, c));
const transpose = (g: Grid): Grid => makeGrid(width(g), height(g), (r, c) => at(g, c, r));
const antiTranspose = (g: Grid): Grid =>
  makeGrid(width(g), height(g), (r, c) => at(g, height(g) - 1 - c, width(g) - 1 - r));
const copy = (g: Grid): Grid => makeGrid(height(g), width(g), (r, c) => at(g, r, c));

export const IDENTITY: GridAugmentation = lossless('identity', copy, copy, false);

/**
 * The seven symmetries of the square other than the identity. rot90 turns clockwise; flipH
 * mirrors left–right (reverses each row), flipV mirrors top–bottom (reverses the rows); transpose
 * mirrors in the main diagonal and antiTranspose in the other one. transpose = flipH ∘ rot90.
 */
export const BASIC_AUGMENTATIONS: readonly GridAugmentation[] = [
  lossless('rot90', rotate90, rotate270, true),
  lossless('rot180', rotate180, rotate180, false),
  lossless('rot270', rotate270, rotate90, true),
  lossless('flipH', mirrorLeftRight, mirrorLeftRight, false),
  lossless('flipV', mirrorUpDown, mirrorUpDown, false),
  lossless('transpose', transpose, transpose, true),
  lossless('antiTranspose', antiTranspose, antiTranspose, true),
];

/**
 * An augmentation that enlarges a grid by whole factors, with `source` the cell of the original
 * that a result cell copies. Its inverse reads the original back from the top-left block and
 * keeps it only if enlarging it again reproduces the grid exactly.
 */
function enlargement(
  name: string,
  rowFactor: number,
  colFactor: number,
  source: (row: number, col: number, rows: number, cols: number) => readonly [number, number],
  original: (row: number, col: number) => readonly [number, number],
): GridAugmentation {
  const apply = (g: Grid): Grid =>
    makeGrid(height(g) * rowFactor, width(g) * colFactor, (r, c) =>
      at(g, ...source(r, c, height(g), width(g))),
    );
  return {
    name,
    apply,
    invert: (g) => {
      if (height(g) % rowFactor !== 0 || width(g) % colFactor !== 0) return null;
      const candidate = makeGrid(height(g) / rowFactor, width(g) / colFactor, (r, c) =>
        at(g, ...original(r, c)),
      );
      return gridsEqual(apply(candidate), g) ? candidate : null;
    },
    shape: (rows, cols) => [rows * rowFactor, cols * colFactor],
  };
}

/** Every cell becomes a 2 × 2 block. */
export const SIZE_AUGMENTATIONS: readonly GridAugmentation[] = [
  enlargement(
    'size2',
    2,
    2,
    (r, c) => [Math.floor(r / 2), Math.floor(c / 2)],
    (r, c) => [r * 2, c * 2],
  ),
];

/** `first`, then `second`; undone in the opposite order. */
export function composeAugmentations(
  first: GridAugmentation,
  second: GridAugmentation,
): GridAugmentation {
  return {
    name: `${first.name}+${second.name}`,
    apply: (g) => second.apply(first.apply(g)),
    invert: (g) => {
      const middle = second.invert(g);
      return middle && first.invert(middle);
    },
    shape: (rows, cols) => second.shape(...first.shape(rows, cols)),
  };
}

/** Each symmetry of the square followed by doubling the resolution. */
export const CHAIN_AUGMENTATIONS: readonly GridAugmentation[] = BASIC_AUGMENTATIONS.map((basic) =>
  composeAugmentations(basic, SIZE_AUGMENTATIONS[0] as GridAugmentation),
);

const tiling = (rowCopies: number, colCopies: number): GridAugmentation =>
  enlargement(
    `tile${rowCopies}x${colCopies}`,
    rowCopies,
    colCopies,
    (r, c, rows, cols) => [r % rows, c % cols],
    (r, c) => [r, c],
  );

/** The grid repeated: two copies stacked, two side by side, and four in a square. */
export const REPEAT_AUGMENTATIONS: readonly GridAugmentation[] = [
  tiling(2, 1),
  tiling(1, 2),
  tiling(2, 2),
];

const FAMILIES: readonly [keyof AugmentationChoice, readonly GridAugmentation[]][] = [
  ['basic', BASIC_AUGMENTATIONS],
  ['size', SIZE_AUGMENTATIONS],
  ['chain', CHAIN_AUGMENTATIONS],
  ['repeat', REPEAT_AUGMENTATIONS],
];

/** The identity, then every augmentation of the chosen families, in a fixed order. */
export function augmentationsFor(choice: AugmentationChoice): GridAugmentation[] {
  return [IDENTITY, ...FAMILIES.flatMap(([family, members]) => (choice[family] ? members : []))];
}

/** Whether `augmentation` keeps every one of `grids` within `maxSide` rows and columns. */
export function fitsGrids(
  augmentation: GridAugmentation,
  grids: readonly Grid[],
  maxSide: number,
): boolean {
  return grids.every((g) =>
    augmentation.shape(height(g), width(g)).every((side) => side <= maxSide),
  );
}

/** Whether `augmentation` keeps the inputs and outputs of `pairs` within `maxSide`. */
export function fitsPairs(
  augmentation: GridAugmentation,
  pairs: readonly GridPair[],
  maxSide: number,
): boolean {
  return fitsGrids(
    augmentation,
    pairs.flatMap((pair) => [pair.input, pair.output]),
    maxSide,
  );
}

/**
 * Whether `augmentation` may be used on `task` at inference: its demonstrations and its test
 * inputs stay within `maxSide`. Test outputs are the answers, so they are not looked at.
 */
export function fitsTask(
  augmentation: GridAugmentation,
  task: PuzzleTask,
  maxSide: number,
): boolean {
  return (
    fitsPairs(augmentation, task.train, maxSide) &&
    fitsGrids(
      augmentation,
      task.test.map((pair) => pair.input),
      maxSide,
    )
  );
}

/** The chosen augmentations that fit `task` (`fitsTask`), the identity first when it fits. */
export function augmentationsForTask(
  choice: AugmentationChoice,
  task: PuzzleTask,
  maxSide: number,
): GridAugmentation[] {
  return augmentationsFor(choice).filter((augmentation) => fitsTask(augmentation, task, maxSide));
}

export function augmentPair(pair: GridPair, augmentation: GridAugmentation): GridPair {
  return { input: augmentation.apply(pair.input), output: augmentation.apply(pair.output) };
}

export function augmentTask(task: PuzzleTask, augmentation: GridAugmentation): PuzzleTask {
  return {
    train: task.train.map((pair) => augmentPair(pair, augmentation)),
    test: task.test.map((pair) => augmentPair(pair, augmentation)),
  };
}

/** A colour permutation drawn from `rng`: 1–9 shuffled, the background 0 kept. */
export function randomColourPermutation(rng: Rng): ColourPermutation {
  return [0, ...rng.shuffle(Array.from({ length: COLOURS - 1 }, (_, i) => i + 1))];
}

function isColourPermutation(permutation: ColourPermutation): boolean {
  return (
    permutation.length === COLOURS &&
    permutation[0] === 0 &&
    permutation.every((c) => Number.isInteger(c) && c >= 0 && c < COLOURS) &&
    new Set(permutation).size === COLOURS
  );
}

/** Recolours every cell by `permutation`; named `colours` followed by the ten mapped colours. */
export function colourAugmentation(permutation: ColourPermutation): GridAugmentation {
  if (!isColourPermutation(permutation)) {
    throw new Error(
      `a colour permutation must reorder the colours 0–9 and keep 0; got [${permutation.join(', ')}]`,
    );
  }
  const inverse: number[] = [];
  permutation.forEach((to, from) => (inverse[to] = from));
  const recolour = (map: ColourPermutation) => (g: Grid) =>
    g.map((row) => row.map((cell) => map[cell] as number));
  return lossless(
    `colours${permutation.join('')}`,
    recolour(permutation),
    recolour(inverse),
    false,
  );
}

const NAMED: ReadonlyMap<string, GridAugmentation> = new Map(
  [IDENTITY, ...BASIC_AUGMENTATIONS, ...SIZE_AUGMENTATIONS, ...REPEAT_AUGMENTATIONS].map((a) => [
    a.name,
    a,
  ]),
);

/**
 * The augmentation a name stands for (`rot90`, `rot90+size2`, `flipH+colours0312456789`, …), so
 * a stored example or ballot can be replayed or undone; null for a name that stands for none.
 */
export function parseAugmentation(name: string): GridAugmentation | null {
  const parts: GridAugmentation[] = [];
  for (const part of name.split('+')) {
    const colours = /^colours(\d{10})$/.exec(part)?.[1];
    if (colours) {
      const permutation = [...colours].map(Number);
      if (!isColourPermutation(permutation)) return null;
      parts.push(colourAugmentation(permutation));
      continue;
    }
    const named = NAMED.get(part);
    if (!named) return null;
    parts.push(named);
  }
  return parts.reduce(composeAugmentations);
}
