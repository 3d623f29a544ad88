/**
 * The rules of the puzzle world: primitives, each a pure function from grid to grid with
 * parameters drawn from a seed and a readable description, and rules made of one or two of them
 * applied in turn. A primitive also says which inputs show it (its input style and colours) and
 * whether it applies to a grid at all (e.g. scaling only when the result fits the side limit).
 */
import type { Rng } from '../world/random';
import { COLOURS, gridsEqual, height, makeGrid, width, type Grid } from './grid';
import {
  BACKGROUND,
  contentBox,
  enclosedCells,
  interiorCells,
  objectsOf,
  type Cell,
} from './objects';

export type PrimitiveName =
  | 'rotate'
  | 'flip'
  | 'transpose'
  | 'recolour'
  | 'scale'
  | 'tile'
  | 'gravity'
  | 'recolourBySize'
  | 'keepLargest'
  | 'hollow'
  | 'fillEnclosed'
  | 'moveObjects'
  | 'crop'
  | 'shift';

export type ParamValue = number | string | readonly number[];
export type PrimitiveParams = Readonly<Record<string, ParamValue>>;

/**
 * What an input grid shows: sparse random cells, a few small shapes, one or two shapes in a lot
 * of space, solid rectangles (with an inside to hollow out) or hollow rectangles (to fill).
 */
export type InputStyle = 'noise' | 'objects' | 'sparse' | 'blocks' | 'frames';

export interface Primitive<P extends PrimitiveParams = PrimitiveParams> {
  name: PrimitiveName;
  /**
   * Primitives of one family compose into another member of it or nearly (two turns make a
   * turn, two recolourings a recolouring), so a composition takes two families.
   */
  family: string;
  input: InputStyle;
  drawParams(rng: Rng): P;
  apply(grid: Grid, params: P): Grid;
  /** Whether the primitive is defined on `grid` and its result fits `maxSide`. */
  applies(grid: Grid, params: P, maxSide: number): boolean;
  describe(params: P): string;
  /** How many times taller and wider the output is than the input. */
  growth(params: P): readonly [number, number];
  /** The colours an input may use so that the rule stays visible. */
  inputColours(params: P): readonly number[];
}

export interface RuleStep {
  primitive: PrimitiveName;
  params: PrimitiveParams;
}

export interface PuzzleRule {
  /** The primitives in the order they apply, joined by '+'. */
  name: string;
  steps: RuleStep[];
  description: string;
}

export type Direction = 'up' | 'down' | 'left' | 'right';
const DIRECTIONS: readonly Direction[] = ['up', 'down', 'left', 'right'];
const DIRECTION_STEP: Record<Direction, Cell> = {
  up: [-1, 0],
  down: [1, 0],
  left: [0, -1],
  right: [0, 1],
};

/** The colours other than background. */
export const FOREGROUND: readonly number[] = Array.from({ length: COLOURS - 1 }, (_, i) => i + 1);

const without = (colours: readonly number[]) => FOREGROUND.filter((c) => !colours.includes(c));

type Definition<P extends PrimitiveParams> = Pick<
  Primitive<P>,
  'name' | 'family' | 'input' | 'drawParams' | 'apply' | 'describe'
> &
  Partial<Pick<Primitive<P>, 'growth' | 'inputColours'>> & {
    /** A precondition besides the size limit (which `growth` covers). */
    defined?: (grid: Grid, params: P) => boolean;
  };

function primitive<P extends PrimitiveParams>(definition: Definition<P>): Primitive<P> {
  const growth = definition.growth ?? (() => [1, 1] as const);
  const { defined } = definition;
  return {
    name: definition.name,
    family: definition.family,
    input: definition.input,
    drawParams: definition.drawParams,
    apply: definition.apply,
    describe: definition.describe,
    growth,
    inputColours: definition.inputColours ?? (() => FOREGROUND),
    applies: (grid, params, maxSide) => {
      const [rowsTimes, colsTimes] = growth(params);
      const longest = Math.max(height(grid) * rowsTimes, width(grid) * colsTimes);
      return longest <= maxSide && (defined?.(grid, params) ?? true);
    },
  };
}

/** `grid` with the cells at `cells` set to `colour`. */
function paint(grid: Grid, cells: readonly Cell[], colour: number): Grid {
  const out = grid.map((row) => [...row]);
  for (const [r, c] of cells) out[r]![c] = colour;
  return out;
}

const rotateClockwise = (grid: Grid): Grid =>
  makeGrid(width(grid), height(grid), (r, c) => grid[height(grid) - 1 - c]![r]!);

type Turns = { turns: number };
const rotate = primitive<Turns>({
  name: 'rotate',
  family: 'geometric',
  input: 'noise',
  drawParams: (rng) => ({ turns: rng.between(1, 3) }),
  apply: (grid, { turns }) => {
    let out = grid;
    for (let i = 0; i < turns; i++) out = rotateClockwise(out);
    return out;
  },
  describe: ({ turns }) =>
    turns === 2
      ? 'rotate the grid 180°'
      : `rotate the grid 90° ${turns === 1 ? 'clockwise' : 'anticlockwise'}`,
});

type Mirror = { direction: 'horizontal' | 'vertical' };
const flip = primitive<Mirror>({
  name: 'flip',
  family: 'geometric',
  input: 'noise',
  drawParams: (rng) => ({ direction: rng.pick(['horizontal', 'vertical'] as const) }),
  apply: (grid, { direction }) =>
    direction === 'horizontal' ? grid.map((row) => [...row].reverse()) : [...grid].reverse(),
  describe: ({ direction }) =>
    direction === 'horizontal'
      ? 'flip the grid horizontally (mirror left to right)'
      : 'flip the grid vertically (mirror top to bottom)',
});

type NoParams = Record<string, never>;
const transpose = primitive<NoParams>({
  name: 'transpose',
  family: 'geometric',
  input: 'noise',
  drawParams: () => ({}),
  apply: (grid) => makeGrid(width(grid), height(grid), (r, c) => grid[c]![r]!),
  describe: () => 'transpose the grid (mirror it across the main diagonal)',
});

type ColourMap = { from: readonly number[]; to: readonly number[] };
const recolour = primitive<ColourMap>({
  name: 'recolour',
  family: 'colour',
  input: 'objects',
  drawParams: (rng) => {
    const from = rng.shuffle(FOREGROUND).slice(0, rng.between(2, 3));
    const offset = rng.between(1, from.length - 1);
    return { from, to: from.map((_, i) => from[(i + offset) % from.length]!) };
  },
  apply: (grid, { from, to }) =>
    grid.map((row) =>
      row.map((colour) => {
        const i = from.indexOf(colour);
        return i < 0 ? colour : to[i]!;
      }),
    ),
  describe: ({ from, to }) => `recolour ${from.map((c, i) => `${c} → ${to[i]}`).join(', ')}`,
  inputColours: ({ from }) => from,
});

const scale = primitive<NoParams>({
  name: 'scale',
  family: 'resize',
  input: 'noise',
  drawParams: () => ({}),
  apply: (grid) => makeGrid(height(grid) * 2, width(grid) * 2, (r, c) => grid[r >> 1]![c >> 1]!),
  describe: () => 'scale the grid up ×2 (each cell becomes a 2×2 block)',
  growth: () => [2, 2],
});

type Repeats = { down: number; across: number };
const TILINGS: readonly Repeats[] = [
  { down: 1, across: 2 },
  { down: 2, across: 1 },
  { down: 2, across: 2 },
];
const tile = primitive<Repeats>({
  name: 'tile',
  family: 'resize',
  input: 'noise',
  drawParams: (rng) => ({ ...rng.pick(TILINGS) }),
  apply: (grid, { down, across }) =>
    makeGrid(
      height(grid) * down,
      width(grid) * across,
      (r, c) => grid[r % height(grid)]![c % width(grid)]!,
    ),
  describe: ({ down, across }) =>
    `repeat the grid ${[down > 1 ? `${down} times down` : '', across > 1 ? `${across} times across` : ''].filter(Boolean).join(' and ')}`,
  growth: ({ down, across }) => [down, across],
});

type Heading = { direction: Direction };
const gravity = primitive<Heading>({
  name: 'gravity',
  family: 'gravity',
  input: 'noise',
  drawParams: (rng) => ({ direction: rng.pick(DIRECTIONS) }),
  apply: (grid, { direction }) => {
    const rows = height(grid);
    const cols = width(grid);
    const out = makeGrid(rows, cols, () => BACKGROUND);
    const vertical = direction === 'up' || direction === 'down';
    const towardEnd = direction === 'down' || direction === 'right';
    const length = vertical ? rows : cols;
    for (let line = 0; line < (vertical ? cols : rows); line++) {
      const at = (k: number): Cell => (vertical ? [k, line] : [line, k]);
      const fallen: number[] = [];
      for (let k = 0; k < length; k++) {
        const [r, c] = at(k);
        if (grid[r]![c] !== BACKGROUND) fallen.push(grid[r]![c]!);
      }
      const start = towardEnd ? length - fallen.length : 0;
      fallen.forEach((colour, j) => {
        const [r, c] = at(start + j);
        out[r]![c] = colour;
      });
    }
    return out;
  },
  describe: ({ direction }) => `let every coloured cell fall ${direction} as far as it can`,
});

/** Colours for objects of 1 cell, 2 cells, and 3 or more. */
type SizePalette = { colours: readonly number[] };
const recolourBySize = primitive<SizePalette>({
  name: 'recolourBySize',
  family: 'colour',
  input: 'objects',
  drawParams: (rng) => ({ colours: rng.shuffle(FOREGROUND).slice(0, 3) }),
  apply: (grid, { colours }) => {
    let out = grid;
    for (const { cells } of objectsOf(grid)) {
      out = paint(out, cells, colours[Math.min(cells.length, colours.length) - 1]!);
    }
    return out;
  },
  describe: ({ colours }) =>
    `recolour each object by its size: ${colours
      .map((c, i) =>
        i === colours.length - 1
          ? `${i + 1} or more cells → ${c}`
          : `${i + 1} cell${i ? 's' : ''} → ${c}`,
      )
      .join(', ')}`,
  defined: (grid) => objectsOf(grid).length > 0,
  inputColours: ({ colours }) => without(colours),
});

const keepLargest = primitive<NoParams>({
  name: 'keepLargest',
  family: 'select',
  input: 'objects',
  drawParams: () => ({}),
  apply: (grid) => {
    const objects = objectsOf(grid);
    const largest = objects.reduce((a, b) => (b.cells.length > a.cells.length ? b : a));
    return paint(
      makeGrid(height(grid), width(grid), () => BACKGROUND),
      largest.cells,
      largest.colour,
    );
  },
  describe: () => 'keep only the largest object',
  defined: (grid) => {
    const sizes = objectsOf(grid)
      .map((o) => o.cells.length)
      .sort((a, b) => b - a);
    return sizes.length >= 2 && sizes[0]! > sizes[1]!;
  },
});

const hollow = primitive<NoParams>({
  name: 'hollow',
  family: 'hollow',
  input: 'blocks',
  drawParams: () => ({}),
  apply: (grid) => paint(grid, interiorCells(grid), BACKGROUND),
  describe: () => 'hollow out every object, keeping only its outline',
  defined: (grid) => interiorCells(grid).length > 0,
});

type Fill = { colour: number };
const fillEnclosed = primitive<Fill>({
  name: 'fillEnclosed',
  family: 'fill',
  input: 'frames',
  drawParams: (rng) => ({ colour: rng.pick(FOREGROUND) }),
  apply: (grid, { colour }) => paint(grid, enclosedCells(grid), colour),
  describe: ({ colour }) => `fill every enclosed background area with ${colour}`,
  defined: (grid) => enclosedCells(grid).length > 0,
  inputColours: ({ colour }) => without([colour]),
});

const moveObjects = primitive<Heading>({
  name: 'moveObjects',
  family: 'translation',
  input: 'objects',
  drawParams: (rng) => ({ direction: rng.pick(DIRECTIONS) }),
  apply: (grid, { direction }) => {
    const [dr, dc] = DIRECTION_STEP[direction];
    return makeGrid(height(grid), width(grid), (r, c) => grid[r - dr]?.[c - dc] ?? BACKGROUND);
  },
  describe: ({ direction }) => `move every object one cell ${direction}`,
  // Only when nothing would fall off the grid, so every object moves whole.
  defined: (grid, { direction }) => {
    const box = contentBox(grid);
    if (!box) return false;
    const edge = {
      up: box.top > 0,
      down: box.bottom < height(grid) - 1,
      left: box.left > 0,
      right: box.right < width(grid) - 1,
    };
    return edge[direction];
  },
});

const crop = primitive<NoParams>({
  name: 'crop',
  family: 'crop',
  input: 'sparse',
  drawParams: () => ({}),
  apply: (grid) => {
    const box = contentBox(grid);
    if (!box) return grid;
    return makeGrid(
      box.bottom - box.top + 1,
      box.right - box.left + 1,
      (r, c) => grid[box.top + r]![box.left + c]!,
    );
  },
  describe: () => 'crop the grid to the box around its coloured cells',
  defined: (grid) => {
    const box = contentBox(grid);
    return (
      box !== null &&
      (box.bottom - box.top + 1 < height(grid) || box.right - box.left + 1 < width(grid))
    );
  },
});

type Offset = { down: number; right: number };
const shift = primitive<Offset>({
  name: 'shift',
  family: 'translation',
  input: 'noise',
  drawParams: (rng) => {
    const [down, right] = rng.pick([
      [-1, -1],
      [-1, 0],
      [-1, 1],
      [0, -1],
      [0, 1],
      [1, -1],
      [1, 0],
      [1, 1],
    ] as const);
    return { down, right };
  },
  apply: (grid, { down, right }) => {
    const rows = height(grid);
    const cols = width(grid);
    const wrap = (i: number, n: number) => ((i % n) + n) % n;
    return makeGrid(rows, cols, (r, c) => grid[wrap(r - down, rows)]![wrap(c - right, cols)]!);
  },
  describe: ({ down, right }) => {
    const parts = [
      down ? `1 cell ${down > 0 ? 'down' : 'up'}` : '',
      right ? `1 cell ${right > 0 ? 'right' : 'left'}` : '',
    ];
    return `shift the grid ${parts.filter(Boolean).join(' and ')}, wrapping around the edges`;
  },
});

/** Every primitive, in a fixed order (the world's draws depend on it). */
export const PRIMITIVES: readonly Primitive[] = [
  rotate,
  flip,
  transpose,
  recolour,
  scale,
  tile,
  gravity,
  recolourBySize,
  keepLargest,
  hollow,
  fillEnclosed,
  moveObjects,
  crop,
  shift,
] as Primitive[];

const BY_NAME = new Map(PRIMITIVES.map((p) => [p.name, p]));

export function primitiveNamed(name: PrimitiveName): Primitive {
  const found = BY_NAME.get(name);
  if (!found) throw new Error(`no puzzle primitive is named ${JSON.stringify(name)}`);
  return found;
}

/** A rule of the given steps, with its name and description. */
export function makeRule(steps: RuleStep[]): PuzzleRule {
  return {
    name: steps.map((s) => s.primitive).join('+'),
    steps,
    description: steps.map((s) => primitiveNamed(s.primitive).describe(s.params)).join(', then '),
  };
}

/** A step of `primitive` with parameters drawn from `rng`. */
export function drawStep(primitive: Primitive, rng: Rng): RuleStep {
  return { primitive: primitive.name, params: primitive.drawParams(rng) };
}

/** `grid` after each step of `rule` in turn. */
export function applyRule(rule: Pick<PuzzleRule, 'steps'>, grid: Grid): Grid {
  return rule.steps.reduce((g, step) => primitiveNamed(step.primitive).apply(g, step.params), grid);
}

/**
 * `grid` after each step of `rule`, or null when a step does not apply or leaves its grid
 * unchanged (then the rule would not show that step).
 */
export function applyRuleVisibly(
  rule: Pick<PuzzleRule, 'steps'>,
  grid: Grid,
  maxSide: number,
): Grid | null {
  let current = grid;
  for (const step of rule.steps) {
    const p = primitiveNamed(step.primitive);
    if (!p.applies(current, step.params, maxSide)) return null;
    const next = p.apply(current, step.params);
    if (gridsEqual(next, current)) return null;
    current = next;
  }
  return current;
}
