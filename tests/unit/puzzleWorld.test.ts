import { describe, expect, it } from 'vitest';
import {
  gridKey,
  gridProblem,
  gridsEqual,
  type Grid,
  type PuzzleTask,
} from '../../src/engine/puzzles/grid';
import {
  applyRule,
  applyRuleVisibly,
  makeRule,
  PRIMITIVES,
  primitiveNamed,
  type PrimitiveName,
  type PrimitiveParams,
} from '../../src/engine/puzzles/transforms';
import {
  allCompositions,
  compositionKey,
  DEFAULT_PUZZLE_WORLD_PARAMS,
  feasibleCompositions,
  generatePuzzleWorld,
  heldOutCompositions,
  puzzleProblem,
  PUZZLE_SPLITS,
  ruleReproduces,
  type PuzzleWorldTask,
} from '../../src/engine/puzzles/world';
import { createRng } from '../../src/engine/world/random';

const world = generatePuzzleWorld();
const SMALL = { counts: { pretrain: 60, rl: 20, validation: 10, evaluation: 20 } };

const contentKey = ({ task }: PuzzleWorldTask) =>
  [...task.train, ...task.test].map((p) => `${gridKey(p.input)}>${gridKey(p.output)}`).join('/');
const stepNames = (t: PuzzleWorldTask) => t.rule.steps.map((s) => s.primitive);

describe('puzzle primitives on hand-built grids', () => {
  const run = (name: PrimitiveName, params: PrimitiveParams, grid: Grid) =>
    primitiveNamed(name).apply(grid, params);
  const g: Grid = [
    [1, 2, 0],
    [0, 3, 0],
  ];

  it('turns, flips and transposes', () => {
    expect(run('rotate', { turns: 1 }, g)).toEqual([
      [0, 1],
      [3, 2],
      [0, 0],
    ]);
    expect(run('rotate', { turns: 2 }, g)).toEqual([
      [0, 3, 0],
      [0, 2, 1],
    ]);
    expect(run('rotate', { turns: 3 }, g)).toEqual([
      [0, 0],
      [2, 3],
      [1, 0],
    ]);
    expect(run('flip', { direction: 'horizontal' }, g)).toEqual([
      [0, 2, 1],
      [0, 3, 0],
    ]);
    expect(run('flip', { direction: 'vertical' }, g)).toEqual([
      [0, 3, 0],
      [1, 2, 0],
    ]);
    expect(run('transpose', {}, g)).toEqual([
      [1, 0],
      [2, 3],
      [0, 0],
    ]);
  });

  it('maps colours, scales and tiles', () => {
    expect(run('recolour', { from: [1, 3], to: [3, 1] }, g)).toEqual([
      [3, 2, 0],
      [0, 1, 0],
    ]);
    expect(run('scale', {}, g)).toEqual([
      [1, 1, 2, 2, 0, 0],
      [1, 1, 2, 2, 0, 0],
      [0, 0, 3, 3, 0, 0],
      [0, 0, 3, 3, 0, 0],
    ]);
    expect(run('tile', { down: 1, across: 2 }, g)).toEqual([
      [1, 2, 0, 1, 2, 0],
      [0, 3, 0, 0, 3, 0],
    ]);
    expect(run('tile', { down: 2, across: 1 }, g)).toEqual([...g, ...g]);
  });

  it('lets cells fall in each direction', () => {
    const n: Grid = [
      [1, 0, 2],
      [0, 0, 0],
      [3, 4, 0],
    ];
    expect(run('gravity', { direction: 'down' }, n)).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [3, 4, 2],
    ]);
    expect(run('gravity', { direction: 'up' }, n)).toEqual([
      [1, 4, 2],
      [3, 0, 0],
      [0, 0, 0],
    ]);
    expect(run('gravity', { direction: 'left' }, n)).toEqual([
      [1, 2, 0],
      [0, 0, 0],
      [3, 4, 0],
    ]);
    expect(run('gravity', { direction: 'right' }, n)).toEqual([
      [0, 1, 2],
      [0, 0, 0],
      [0, 3, 4],
    ]);
  });

  it('crops to the coloured cells and shifts with wrap-around', () => {
    const sparse: Grid = [
      [0, 0, 0, 0],
      [0, 5, 0, 0],
      [0, 5, 6, 0],
      [0, 0, 0, 0],
    ];
    expect(run('crop', {}, sparse)).toEqual([
      [5, 0],
      [5, 6],
    ]);
    expect(
      run('shift', { down: 1, right: -1 }, [
        [1, 2, 3],
        [4, 5, 6],
      ]),
    ).toEqual([
      [5, 6, 4],
      [2, 3, 1],
    ]);
  });

  it('acts on objects: keep the largest, recolour by size, hollow, fill, move', () => {
    const shapes: Grid = [
      [1, 1, 0, 2],
      [0, 1, 0, 0],
      [0, 0, 0, 3],
      [2, 0, 0, 3],
    ];
    expect(run('keepLargest', {}, shapes)).toEqual([
      [1, 1, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(run('recolourBySize', { colours: [7, 8, 9] }, shapes)).toEqual([
      [9, 9, 0, 7],
      [0, 9, 0, 0],
      [0, 0, 0, 8],
      [7, 0, 0, 8],
    ]);
    expect(
      run('hollow', {}, [
        [4, 4, 4, 0],
        [4, 4, 4, 0],
        [4, 4, 4, 2],
      ]),
    ).toEqual([
      [4, 4, 4, 0],
      [4, 0, 4, 0],
      [4, 4, 4, 2],
    ]);
    // The left frame is closed; the right one is open at the bottom edge.
    expect(
      run('fillEnclosed', { colour: 6 }, [
        [3, 3, 3, 0, 5, 5, 5],
        [3, 0, 3, 0, 5, 0, 5],
        [3, 3, 3, 0, 5, 0, 5],
      ]),
    ).toEqual([
      [3, 3, 3, 0, 5, 5, 5],
      [3, 6, 3, 0, 5, 0, 5],
      [3, 3, 3, 0, 5, 0, 5],
    ]);
    expect(
      run('moveObjects', { direction: 'right' }, [
        [1, 0, 0],
        [0, 2, 0],
      ]),
    ).toEqual([
      [0, 1, 0],
      [0, 0, 2],
    ]);
  });

  it('says when a primitive does not apply', () => {
    const applies = (name: PrimitiveName, params: PrimitiveParams, grid: Grid, maxSide = 6) =>
      primitiveNamed(name).applies(grid, params, maxSide);
    const square = (side: number): Grid => Array.from({ length: side }, () => Array(side).fill(1));
    expect(applies('scale', {}, square(3))).toBe(true);
    expect(applies('scale', {}, square(4))).toBe(false);
    expect(applies('tile', { down: 1, across: 2 }, [[1, 2, 3, 4]])).toBe(false);
    expect(applies('tile', { down: 2, across: 1 }, [[1, 2, 3, 4]])).toBe(true);
    expect(applies('keepLargest', {}, [[1, 0, 2]])).toBe(false);
    expect(applies('keepLargest', {}, [[1, 1, 0, 2]])).toBe(true);
    expect(applies('crop', {}, square(3))).toBe(false);
    expect(applies('crop', {}, [[0, 0, 0]])).toBe(false);
    expect(applies('moveObjects', { direction: 'right' }, [[0, 0, 1]])).toBe(false);
    expect(applies('moveObjects', { direction: 'left' }, [[0, 0, 1]])).toBe(true);
    expect(applies('hollow', {}, square(2))).toBe(false);
    expect(applies('fillEnclosed', { colour: 4 }, square(3))).toBe(false);
  });

  it('describes a rule in words and applies its steps in order', () => {
    const rule = makeRule([
      { primitive: 'crop', params: {} },
      { primitive: 'rotate', params: { turns: 1 } },
    ]);
    expect(rule.name).toBe('crop+rotate');
    expect(rule.description).toBe(
      'crop the grid to the box around its coloured cells, then rotate the grid 90° clockwise',
    );
    const input: Grid = [
      [0, 0, 0],
      [0, 1, 2],
    ];
    expect(applyRule(rule, input)).toEqual([[1], [2]]);
    expect(applyRuleVisibly(rule, input, 6)).toEqual([[1], [2]]);
    // A step that changes nothing (a half turn of a symmetric grid) makes the rule invisible.
    const turn = makeRule([{ primitive: 'rotate', params: { turns: 2 } }]);
    expect(applyRuleVisibly(turn, [[1, 0, 1]], 6)).toBeNull();
  });

  it('draws parameters from the seed and describes every primitive', () => {
    for (const primitive of PRIMITIVES) {
      const a = primitive.drawParams(createRng(`p/${primitive.name}`));
      const b = primitive.drawParams(createRng(`p/${primitive.name}`));
      expect(a).toEqual(b);
      expect(primitive.describe(a).length).toBeGreaterThan(10);
    }
  });
});

describe('puzzle world', () => {
  it('is byte-identical for a seed and differs between seeds', () => {
    const once = JSON.stringify(generatePuzzleWorld({ ...SMALL, seed: 5 }));
    expect(JSON.stringify(generatePuzzleWorld({ ...SMALL, seed: 5 }))).toBe(once);
    expect(JSON.stringify(generatePuzzleWorld({ ...SMALL, seed: 6 }))).not.toBe(once);
  });

  it('keeps a task unchanged when another split grows', () => {
    const grown = generatePuzzleWorld({
      ...SMALL,
      seed: 5,
      counts: { ...SMALL.counts, pretrain: 120 },
    });
    const base = generatePuzzleWorld({ ...SMALL, seed: 5 });
    const evaluation = (w: typeof base) => w.tasks.filter((t) => t.split === 'evaluation');
    expect(evaluation(grown)).toEqual(evaluation(base));
  });

  it('has the default number of tasks in each split', () => {
    for (const split of PUZZLE_SPLITS) {
      expect(world.tasks.filter((t) => t.split === split)).toHaveLength(
        DEFAULT_PUZZLE_WORLD_PARAMS.counts[split],
      );
    }
  });

  it('keeps the splits disjoint by id and by content', () => {
    expect(new Set(world.tasks.map((t) => t.id)).size).toBe(world.tasks.length);
    expect(new Set(world.tasks.map(contentKey)).size).toBe(world.tasks.length);
    for (const t of world.tasks) expect(t.id.startsWith(`${t.split}-`)).toBe(true);
  });

  it('holds its held-out compositions out of pretraining, and uses only them elsewhere', () => {
    const heldOut = new Set(world.heldOutCompositions);
    expect(heldOut.size).toBeGreaterThan(0);
    expect(world.heldOutCompositions).toEqual(heldOutCompositions(DEFAULT_PUZZLE_WORLD_PARAMS));
    const composed = world.tasks.filter((t) => t.rule.steps.length === 2);
    for (const t of composed) {
      expect(heldOut.has(compositionKey(stepNames(t)))).toBe(t.split !== 'pretrain');
    }
    for (const split of PUZZLE_SPLITS) {
      const inSplit = composed.filter((t) => t.split === split);
      expect(inSplit.length).toBeGreaterThan(0);
    }
    // Single primitives appear in every split.
    for (const split of PUZZLE_SPLITS) {
      expect(world.tasks.some((t) => t.split === split && t.rule.steps.length === 1)).toBe(true);
    }
  });

  it('chooses the held-out compositions from the seed, among those that make tasks', () => {
    const sizes = DEFAULT_PUZZLE_WORLD_PARAMS;
    const feasible = new Set(feasibleCompositions(sizes));
    const all = allCompositions();
    expect(feasible.size).toBeGreaterThan(all.length / 2);
    for (const key of feasible) expect(all).toContain(key);
    // Moving objects then cropping shows only the crop; cropping first leaves none free to move.
    expect(feasible.has('crop+moveObjects')).toBe(false);
    const a = heldOutCompositions({ ...sizes, seed: 11 });
    expect(heldOutCompositions({ ...sizes, seed: 11 })).toEqual(a);
    expect(heldOutCompositions({ ...sizes, seed: 12 })).not.toEqual(a);
    for (const key of a) expect(feasible.has(key)).toBe(true);
    expect(a).toHaveLength(Math.round(feasible.size * sizes.heldOutShare));
  });

  it('makes every task well-posed and reproduced by its rule', () => {
    const { maxSide, minDemonstrations, maxDemonstrations } = DEFAULT_PUZZLE_WORLD_PARAMS;
    for (const { rule, task } of world.tasks) {
      expect(task.train.length).toBeGreaterThanOrEqual(minDemonstrations);
      expect(task.train.length).toBeLessThanOrEqual(maxDemonstrations);
      expect(task.test).toHaveLength(1);
      const pairs = [...task.train, ...task.test];
      for (const pair of pairs) {
        expect(gridProblem(pair.input, maxSide)).toBeNull();
        expect(gridProblem(pair.output, maxSide)).toBeNull();
        expect(gridsEqual(pair.input, pair.output)).toBe(false);
        expect(gridsEqual(applyRule(rule, pair.input), pair.output)).toBe(true);
        expect(applyRuleVisibly(rule, pair.input, maxSide)).not.toBeNull();
      }
      const testOutput = task.test[0]!.output;
      expect(task.train.some((p) => gridsEqual(p.output, testOutput))).toBe(false);
      expect(new Set(task.train.map((p) => gridKey(p.input))).size).toBeGreaterThan(1);
      expect(ruleReproduces(rule, task)).toBe(true);
      expect(rule.name).toBe(rule.steps.map((s) => s.primitive).join('+'));
      if (rule.steps.length === 2) {
        const [a, b] = rule.steps.map((s) => primitiveNamed(s.primitive).family);
        expect(a).not.toBe(b);
      }
    }
  });

  it('uses every primitive, alone and in compositions', () => {
    const alone = new Set(world.tasks.filter((t) => t.rule.steps.length === 1).map(stepNames));
    const names = new Set([...alone].flat());
    for (const p of PRIMITIVES) expect(names.has(p.name)).toBe(true);
    const composedNames = new Set(
      world.tasks.filter((t) => t.rule.steps.length === 2).flatMap(stepNames),
    );
    for (const p of PRIMITIVES) expect(composedNames.has(p.name)).toBe(true);
  });

  it('refuses parameters it cannot honour', () => {
    expect(() => generatePuzzleWorld({ minSide: 0 })).toThrow(/minSide/);
    expect(() => generatePuzzleWorld({ minSide: 5, maxSide: 4 })).toThrow(/maxSide/);
    expect(() => generatePuzzleWorld({ maxSide: 31 })).toThrow(/maxSide/);
    expect(() => generatePuzzleWorld({ minDemonstrations: 1 })).toThrow(/minDemonstrations/);
    expect(() => generatePuzzleWorld({ heldOutShare: 1.5 })).toThrow(/heldOutShare/);
    expect(() => generatePuzzleWorld({ counts: { ...SMALL.counts, rl: -1 } })).toThrow(/counts.rl/);
  });
});

describe('puzzle checks', () => {
  const fair: PuzzleTask = {
    train: [
      { input: [[1, 0]], output: [[0, 1]] },
      { input: [[2, 0, 0]], output: [[0, 0, 2]] },
    ],
    test: [{ input: [[1, 2, 0]], output: [[0, 2, 1]] }],
  };
  const flip = makeRule([{ primitive: 'flip', params: { direction: 'horizontal' } }]);

  it('accepts a fair task and the rule that made it', () => {
    expect(puzzleProblem(fair, 6)).toBeNull();
    expect(ruleReproduces(flip, fair)).toBe(true);
  });

  it('finds a rule that does not reproduce an output', () => {
    const wrong = { ...fair, test: [{ input: [[1, 2, 0]], output: [[0, 1, 2]] }] };
    expect(ruleReproduces(flip, wrong)).toBe(false);
  });

  it('names what makes a task unfair', () => {
    const same = { ...fair, test: [{ input: [[0, 1]], output: [[0, 1]] }] };
    expect(puzzleProblem(same, 6)).toBe('pair 3: the output equals the input');
    const echo = { ...fair, test: [{ input: [[1, 0, 0]], output: [[0, 0, 2]] }] };
    expect(puzzleProblem(echo, 6)).toBe('two pairs have the same output');
    const unseen = { ...fair, test: [{ input: [[7, 0]], output: [[0, 7]] }] };
    expect(puzzleProblem(unseen, 6)).toBe('the test input uses colour 7, never demonstrated');
    const wide = { ...fair, test: [{ input: [[1, 0, 0, 0]], output: [[0, 0, 0, 1]] }] };
    expect(puzzleProblem(wide, 3)).toBe('pair 3: a grid has 4 columns; at most 3 are allowed');
  });
});
