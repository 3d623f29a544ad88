import { describe, expect, it } from 'vitest';
import {
  BASIC_AUGMENTATIONS,
  CHAIN_AUGMENTATIONS,
  IDENTITY,
  REPEAT_AUGMENTATIONS,
  SIZE_AUGMENTATIONS,
  augmentPair,
  augmentTask,
  augmentationsFor,
  augmentationsForTask,
  colourAugmentation,
  composeAugmentations,
  fitsTask,
  parseAugmentation,
  randomColourPermutation,
  type GridAugmentation,
} from '../../src/engine/puzzles/augment';
import {
  gridKey,
  height,
  makeGrid,
  width,
  type Grid,
  type PuzzleTask,
} from '../../src/engine/puzzles/grid';
import { createRng, type Rng } from '../../src/engine/world/random';

const ALL = augmentationsFor({ basic: true, size: true, chain: true, repeat: true });
const byName = (name: string): GridAugmentation => parseAugmentation(name) as GridAugmentation;

const randomGrid = (rng: Rng, rows = rng.between(1, 10), cols = rng.between(1, 10)): Grid =>
  makeGrid(rows, cols, () => rng.int(10));

/** A grid with every cell a different value, so no non-identity symmetry can fix it. */
const numbered = (rows: number, cols: number): Grid => makeGrid(rows, cols, (r, c) => r * cols + c);

const randomGrids = (seed: string, count: number): Grid[] => {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => randomGrid(rng));
};

describe('augmentation families', () => {
  it('lists the identity first and each chosen family once, in a fixed order', () => {
    const names = (choice: Parameters<typeof augmentationsFor>[0]) =>
      augmentationsFor(choice).map((a) => a.name);
    const none = { basic: false, size: false, chain: false, repeat: false };
    expect(names(none)).toEqual(['identity']);
    expect(names({ ...none, basic: true })).toEqual([
      'identity',
      'rot90',
      'rot180',
      'rot270',
      'flipH',
      'flipV',
      'transpose',
      'antiTranspose',
    ]);
    expect(names({ ...none, size: true })).toEqual(['identity', 'size2']);
    expect(names({ ...none, chain: true })).toEqual([
      'identity',
      ...BASIC_AUGMENTATIONS.map((b) => `${b.name}+size2`),
    ]);
    expect(names({ ...none, repeat: true })).toEqual(['identity', 'tile2x1', 'tile1x2', 'tile2x2']);
    expect(ALL.map((a) => a.name)).toEqual([
      'identity',
      ...[BASIC_AUGMENTATIONS, SIZE_AUGMENTATIONS, CHAIN_AUGMENTATIONS, REPEAT_AUGMENTATIONS]
        .flat()
        .map((a) => a.name),
    ]);
    expect(new Set(ALL.map((a) => a.name)).size).toBe(ALL.length);
  });

  it('turns a small grid as the names say', () => {
    const g = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    expect(byName('rot90').apply(g)).toEqual([
      [4, 1],
      [5, 2],
      [6, 3],
    ]);
    expect(byName('rot270').apply(g)).toEqual([
      [3, 6],
      [2, 5],
      [1, 4],
    ]);
    expect(byName('rot180').apply(g)).toEqual([
      [6, 5, 4],
      [3, 2, 1],
    ]);
    expect(byName('flipH').apply(g)).toEqual([
      [3, 2, 1],
      [6, 5, 4],
    ]);
    expect(byName('flipV').apply(g)).toEqual([
      [4, 5, 6],
      [1, 2, 3],
    ]);
    expect(byName('transpose').apply(g)).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(byName('antiTranspose').apply(g)).toEqual([
      [6, 3],
      [5, 2],
      [4, 1],
    ]);
    expect(byName('size2').apply([[1, 2]])).toEqual([
      [1, 1, 2, 2],
      [1, 1, 2, 2],
    ]);
    expect(byName('tile2x1').apply([[1, 2]])).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(byName('tile1x2').apply([[1, 2]])).toEqual([[1, 2, 1, 2]]);
    expect(byName('tile2x2').apply([[7]])).toEqual([
      [7, 7],
      [7, 7],
    ]);
  });

  it('reports the shape of every result without building it', () => {
    for (const g of randomGrids('shape', 40)) {
      for (const augmentation of ALL) {
        const result = augmentation.apply(g);
        expect(augmentation.shape(height(g), width(g)), augmentation.name).toEqual([
          height(result),
          width(result),
        ]);
      }
    }
  });
});

describe('inverses', () => {
  it('undoes every augmentation and colour permutation on random grids of 1×1 to 10×10', () => {
    const rng = createRng('colours');
    const grids = [...randomGrids('round-trip', 300), [[5]], numbered(1, 10), numbered(10, 1)];
    for (const g of grids) {
      const colours = colourAugmentation(randomColourPermutation(rng));
      for (const augmentation of [...ALL, colours, composeAugmentations(rng.pick(ALL), colours)]) {
        const augmented = augmentation.apply(g);
        expect(augmentation.invert(augmented), `${augmentation.name} of ${gridKey(g)}`).toEqual(g);
      }
    }
  });

  it('leaves the argument untouched', () => {
    const g = numbered(3, 4);
    const before = gridKey(g);
    for (const augmentation of ALL) {
      augmentation.invert(augmentation.apply(g));
      expect(gridKey(g)).toBe(before);
    }
  });

  it('refuses grids that no grid augments to', () => {
    const size2 = byName('size2');
    expect(size2.invert(numbered(3, 4))).toBeNull(); // odd number of rows
    expect(size2.invert(numbered(4, 3))).toBeNull(); // odd number of columns
    const blocks = size2.apply(numbered(2, 2));
    (blocks[1] as number[])[0] = 9; // one 2×2 block no longer uniform
    expect(size2.invert(blocks)).toBeNull();
    expect(byName('rot90+size2').invert(blocks)).toBeNull();

    const twoDifferentHalves = [
      [1, 2],
      [1, 3],
    ];
    expect(byName('tile2x1').invert(twoDifferentHalves)).toBeNull();
    expect(byName('tile1x2').invert(twoDifferentHalves)).toBeNull();
    expect(byName('tile2x2').invert(twoDifferentHalves)).toBeNull();
    expect(byName('tile2x1').invert([[1, 2]])).toBeNull(); // one row cannot be two copies
    expect(byName('tile1x2').invert([[1, 2, 1]])).toBeNull();
    expect(byName('tile1x2').invert([[1, 2, 1, 2]])).toEqual([[1, 2]]);
  });

  it('refuses an even-sided grid exactly when it is not made of uniform blocks or equal copies', () => {
    const rng = createRng('refuse');
    const cell = (g: Grid, r: number, c: number) => (g[r] as number[])[c] as number;
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      // Few colours, small grids: some grids are in the image by chance, most are not.
      const g = makeGrid(2 * rng.between(1, 3), 2 * rng.between(1, 3), () => rng.int(2));
      const blocksUniform = g.every((row, r) =>
        row.every((v, c) => v === cell(g, r - (r % 2), c - (c % 2))),
      );
      const [rows, cols] = [height(g) / 2, width(g) / 2];
      const quadrantsEqual = g.every((row, r) =>
        row.every((v, c) => v === cell(g, r % rows, c % cols)),
      );
      expect(byName('size2').invert(g) !== null).toBe(blocksUniform);
      expect(byName('tile2x2').invert(g) !== null).toBe(quadrantsEqual);
      if (!blocksUniform) refused += 1;
    }
    expect(refused).toBeGreaterThan(100);
  });

  it('refuses no grid for the symmetries and colour maps', () => {
    const colours = colourAugmentation([0, 2, 3, 4, 5, 6, 7, 8, 9, 1]);
    for (const g of randomGrids('lossless', 50)) {
      for (const augmentation of [IDENTITY, ...BASIC_AUGMENTATIONS, colours])
        expect(augmentation.invert(g)).not.toBeNull();
    }
  });
});

describe('the symmetries of the square', () => {
  const g = numbered(3, 5);
  const all = [IDENTITY, ...BASIC_AUGMENTATIONS];
  const element = (name: string) => all.find((a) => a.name === name) as GridAugmentation;
  const applyAll = (names: string[], grid: Grid) =>
    names.reduce((result, name) => element(name).apply(result), grid);

  it('are eight different maps of an asymmetric grid', () => {
    expect(new Set(all.map((a) => gridKey(a.apply(g)))).size).toBe(8);
  });

  it('compose as the dihedral group', () => {
    expect(applyAll(['rot90', 'rot90', 'rot90', 'rot90'], g)).toEqual(g);
    expect(applyAll(['rot90', 'rot90'], g)).toEqual(element('rot180').apply(g));
    expect(applyAll(['rot90', 'rot90', 'rot90'], g)).toEqual(element('rot270').apply(g));
    expect(applyAll(['rot90', 'flipH'], g)).toEqual(element('transpose').apply(g));
    expect(applyAll(['rot90', 'flipV'], g)).toEqual(element('antiTranspose').apply(g));
    expect(applyAll(['flipH', 'flipV'], g)).toEqual(element('rot180').apply(g));
    for (const name of ['flipH', 'flipV', 'transpose', 'antiTranspose', 'rot180'])
      expect(applyAll([name, name], g), name).toEqual(g);
    // Closure: every product of two elements is an element.
    const keys = new Set(all.map((a) => gridKey(a.apply(g))));
    for (const a of all)
      for (const b of all)
        expect(keys.has(gridKey(b.apply(a.apply(g)))), `${a.name}, ${b.name}`).toBe(true);
  });
});

describe('colour permutations', () => {
  it('keep the background and draw a bijection of 1–9 from the seed', () => {
    const first = randomColourPermutation(createRng('p'));
    expect(first).toEqual(randomColourPermutation(createRng('p')));
    expect(first[0]).toBe(0);
    expect([...first].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const drawn = new Set(
      Array.from({ length: 20 }, (_, i) => randomColourPermutation(createRng(i)).join('')),
    );
    expect(drawn.size).toBeGreaterThan(15);
  });

  it('recolour every cell and keep 0 in place', () => {
    const colours = colourAugmentation([0, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(colours.name).toBe('colours0987654321');
    expect(colours.apply([[0, 1, 2, 9]])).toEqual([[0, 9, 8, 1]]);
  });

  it('refuse lists that are not permutations keeping 0', () => {
    expect(() => colourAugmentation([1, 0, 2, 3, 4, 5, 6, 7, 8, 9])).toThrow(/keep 0/);
    expect(() => colourAugmentation([0, 1, 1, 3, 4, 5, 6, 7, 8, 9])).toThrow();
    expect(() => colourAugmentation([0, 1, 2])).toThrow();
  });
});

describe('parseAugmentation', () => {
  it('gives back every augmentation from its name', () => {
    const g = numbered(2, 3);
    const colours = colourAugmentation([0, 3, 1, 2, 4, 5, 6, 7, 8, 9]);
    for (const augmentation of [
      ...ALL,
      colours,
      composeAugmentations(byName('rot90+size2'), colours),
    ]) {
      const parsed = parseAugmentation(augmentation.name);
      expect(parsed?.name).toBe(augmentation.name);
      expect(parsed?.apply(g)).toEqual(augmentation.apply(g));
    }
  });

  it('returns null for names of nothing', () => {
    for (const name of [
      '',
      'rot45',
      'rot90+',
      'colours1023456789',
      'colours0113456789',
      'colours012',
    ])
      expect(parseAugmentation(name), name).toBeNull();
  });
});

describe('augmenting pairs and tasks', () => {
  const rng = createRng('tasks');
  const task: PuzzleTask = {
    train: [
      { input: randomGrid(rng, 2, 3), output: randomGrid(rng, 3, 3) },
      { input: randomGrid(rng, 4, 1), output: randomGrid(rng, 1, 2) },
    ],
    test: [{ input: randomGrid(rng, 3, 2), output: randomGrid(rng, 5, 5) }],
  };

  it('applies the same augmentation to every input and output', () => {
    for (const augmentation of ALL) {
      const augmented = augmentTask(task, augmentation);
      const pairs = [...task.train, ...task.test];
      const augmentedPairs = [...augmented.train, ...augmented.test];
      expect(augmentedPairs).toHaveLength(pairs.length);
      pairs.forEach((pair, i) => {
        expect(augmentedPairs[i]).toEqual({
          input: augmentation.apply(pair.input),
          output: augmentation.apply(pair.output),
        });
        expect(augmentPair(pair, augmentation)).toEqual(augmentedPairs[i]);
      });
    }
  });

  it('skips augmentations whose grids would exceed the side limit, never judging by test outputs', () => {
    // The largest side among demonstrations and test inputs is 4 (and the test output's 5 is ignored).
    const fitting = (maxSide: number) =>
      augmentationsForTask(
        { basic: true, size: true, chain: true, repeat: true },
        task,
        maxSide,
      ).map((a) => a.name);
    expect(fitting(5)).toEqual(['identity', ...BASIC_AUGMENTATIONS.map((a) => a.name)]);
    expect(fitting(8).length).toBe(ALL.length);
    expect(fitting(3)).toEqual([]);
    const tile1x2 = byName('tile1x2');
    // tile1x2 doubles columns only: the widest grid has 3 columns, the tallest 4 rows.
    expect(fitsTask(tile1x2, task, 6)).toBe(true);
    expect(fitsTask(tile1x2, task, 5)).toBe(false);
  });
});
