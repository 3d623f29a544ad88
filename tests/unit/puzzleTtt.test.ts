import { describe, expect, it } from 'vitest';
import {
  augmentationsFor,
  parseAugmentation,
  type AugmentationChoice,
} from '../../src/engine/puzzles/augment';
import { gridKey, makeGrid, type Grid, type PuzzleTask } from '../../src/engine/puzzles/grid';
import {
  tttExampleCount,
  tttExamples,
  type TttExample,
  type TttOptions,
} from '../../src/engine/puzzles/ttt';
import { createRng } from '../../src/engine/world/random';

const NONE: AugmentationChoice = { basic: false, size: false, chain: false, repeat: false };
const BASIC: AugmentationChoice = { ...NONE, basic: true };
const ALL: AugmentationChoice = { basic: true, size: true, chain: true, repeat: true };
const OPTIONS: TttOptions = { seed: 1, maxSide: 30, leaveTwoOut: false, colourPermutations: 0 };

/** A task of `sides.length` demonstrations with random grids of those sides, and a 7×7 test pair. */
function makeTask(seed: string, sides: number[]): PuzzleTask {
  const rng = createRng(seed);
  const grid = (side: number): Grid => makeGrid(side, side, () => rng.between(1, 9));
  return {
    train: sides.map((side) => ({ input: grid(side), output: grid(side) })),
    test: [{ input: grid(7), output: grid(7) }],
  };
}

const threeDemos = makeTask('three', [2, 3, 3]);

/** Which demonstration an example's pair is, once its augmentation is undone; -1 for none. */
function demoIndex(task: PuzzleTask, example: TttExample, pair: TttExample['query']): number {
  const augmentation = parseAugmentation(example.augmentation);
  expect(augmentation, example.augmentation).not.toBeNull();
  const input = augmentation!.invert(pair.input);
  const output = augmentation!.invert(pair.output);
  if (!input || !output) return -1;
  return task.train.findIndex(
    (demo) => gridKey(demo.input) === gridKey(input) && gridKey(demo.output) === gridKey(output),
  );
}

describe('tttExamples', () => {
  it('builds n leave-one-out puzzles under each augmentation', () => {
    expect(tttExamples(threeDemos, BASIC, OPTIONS)).toHaveLength(3 * 8);
    expect(tttExamples(threeDemos, NONE, OPTIONS)).toHaveLength(3);
    // basic 7 + size 1 + chain 7 + repeat 3, and the identity.
    expect(tttExamples(threeDemos, ALL, OPTIONS)).toHaveLength(3 * 19);
  });

  it('adds n × (n − 1) leave-two-out puzzles when asked and n ≥ 3', () => {
    const options = { ...OPTIONS, leaveTwoOut: true };
    expect(tttExamples(threeDemos, BASIC, options)).toHaveLength((3 + 3 * 2) * 8);
    const four = makeTask('four', [2, 2, 3, 3]);
    expect(tttExamples(four, NONE, options)).toHaveLength(4 + 4 * 3);
    const two = makeTask('two', [2, 3]);
    expect(tttExamples(two, BASIC, options)).toHaveLength(2 * 8);
    expect(tttExamples(makeTask('one', [3]), BASIC, options)).toEqual([]);
  });

  it('adds the colour-permuted copies of every example', () => {
    const options = { ...OPTIONS, leaveTwoOut: true, colourPermutations: 2 };
    const examples = tttExamples(threeDemos, BASIC, options);
    expect(examples).toHaveLength((3 + 6) * 8 * 3);
    const recoloured = examples.filter((e) => e.augmentation.includes('colours'));
    expect(recoloured).toHaveLength((3 + 6) * 8 * 2);
    expect(new Set(recoloured.map((e) => e.augmentation.split('+').at(-1))).size).toBeGreaterThan(
      100,
    );
  });

  it('skips, per puzzle, the augmentations that would exceed the side limit', () => {
    // Sides 2, 2 and 4: doubling fits a limit of 6 only in the puzzles without the 4 × 4 pair,
    // which are the two leave-two-out puzzles that drop it.
    const task = makeTask('mixed', [2, 2, 4]);
    const options = { ...OPTIONS, maxSide: 6, leaveTwoOut: true };
    const examples = tttExamples(task, { ...NONE, size: true }, options);
    expect(examples).toHaveLength(9 + 2);
    const doubled = examples.filter((e) => e.augmentation === 'size2');
    for (const example of doubled) {
      const shown = [...example.demonstrations, example.query].map((pair) =>
        demoIndex(task, example, pair),
      );
      expect(shown).not.toContain(2);
      expect(shown).not.toContain(-1);
    }
    expect(tttExamples(threeDemos, ALL, { ...OPTIONS, maxSide: 5 })).toHaveLength(3 * 8);
    expect(tttExamples(threeDemos, ALL, { ...OPTIONS, maxSide: 2 })).toEqual([]);
  });

  it('holds one demonstration out as the query and shows the others, all augmented alike', () => {
    const task = makeTask('four', [2, 2, 3, 3]);
    const options = { ...OPTIONS, leaveTwoOut: true, colourPermutations: 1 };
    const examples = tttExamples(task, ALL, options);
    const queriesPerDemo = [0, 0, 0, 0];
    for (const example of examples) {
      const query = demoIndex(task, example, example.query);
      expect(query).toBeGreaterThanOrEqual(0);
      queriesPerDemo[query]! += 1;
      const shown = example.demonstrations.map((pair) => demoIndex(task, example, pair));
      expect([3, 2]).toContain(shown.length);
      expect(new Set(shown).size).toBe(shown.length);
      expect(shown).not.toContain(query);
      expect(shown).not.toContain(-1);
    }
    expect(queriesPerDemo.every((count) => count === examples.length / 4)).toBe(true);
  });

  it('never shows the test pair', () => {
    const examples = tttExamples(threeDemos, ALL, {
      ...OPTIONS,
      leaveTwoOut: true,
      colourPermutations: 1,
    });
    const testKeys = new Set(
      threeDemos.test.flatMap((pair) =>
        augmentationsFor(ALL).flatMap((a) => [
          gridKey(a.apply(pair.input)),
          gridKey(a.apply(pair.output)),
        ]),
      ),
    );
    for (const example of examples) {
      for (const pair of [...example.demonstrations, example.query]) {
        // The demonstrations are at most 3 × 3, so at most 6 × 6 augmented; the test grids are 7 × 7.
        for (const grid of [pair.input, pair.output]) {
          expect(grid.length).toBeLessThan(7);
          expect(testKeys.has(gridKey(grid))).toBe(false);
        }
      }
    }
  });

  it('shuffles the order of the demonstrations from the seed', () => {
    const task = makeTask('five', [2, 2, 2, 3, 3]);
    const orders = tttExamples(task, BASIC, OPTIONS).map((example) => {
      const shown = example.demonstrations.map((pair) => demoIndex(task, example, pair));
      return shown.join(',');
    });
    const sorted = (order: string) => order.split(',').map(Number).sort().join(',');
    // 5 puzzles × 8 augmentations, each showing its 4 demonstrations in one of 24 orders.
    expect(new Set(orders).size).toBeGreaterThan(20);
    expect(orders.filter((order) => order !== sorted(order)).length).toBeGreaterThan(
      orders.length / 2,
    );
  });

  it('is deterministic for a seed, differs between seeds, and does not depend on what else is built', () => {
    const options = { ...OPTIONS, leaveTwoOut: true, colourPermutations: 1 };
    const full = tttExamples(threeDemos, ALL, options);
    expect(tttExamples(threeDemos, ALL, options)).toEqual(full);
    expect(tttExamples(threeDemos, ALL, { ...options, seed: 2 })).not.toEqual(full);

    const keys = full.map((e) => JSON.stringify(e));
    const subset = tttExamples(threeDemos, ALL, { ...options, maxExamples: 50 });
    expect(subset).toHaveLength(50);
    const positions = subset.map((e) => keys.indexOf(JSON.stringify(e)));
    expect(positions).not.toContain(-1);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // Without colour copies, the examples are those with copy 0 of the run with them.
    const plain = tttExamples(threeDemos, ALL, { ...options, colourPermutations: 0 });
    expect(plain.map((e) => keys.indexOf(JSON.stringify(e))).every((i) => i >= 0)).toBe(true);
  });

  it('keeps a seeded choice of maxExamples, spread over the list', () => {
    const options = { ...OPTIONS, leaveTwoOut: true, maxExamples: 30 };
    const kept = tttExamples(threeDemos, ALL, options);
    expect(kept).toHaveLength(30);
    expect(new Set(kept.map((e) => e.augmentation)).size).toBeGreaterThan(10);
    expect(tttExamples(threeDemos, ALL, { ...options, seed: 9 })).not.toEqual(kept);
    expect(tttExamples(threeDemos, NONE, options)).toHaveLength(9);
  });

  it('refuses options out of range', () => {
    expect(() => tttExamples(threeDemos, BASIC, { ...OPTIONS, maxSide: 0 })).toThrow(/maxSide/);
    expect(() => tttExamples(threeDemos, BASIC, { ...OPTIONS, colourPermutations: -1 })).toThrow(
      /colourPermutations/,
    );
    expect(() => tttExampleCount(threeDemos, BASIC, { ...OPTIONS, maxExamples: 0 })).toThrow(
      /maxExamples/,
    );
  });
});

describe('tttExampleCount', () => {
  it('equals the number of examples built, over tasks, choices and options', () => {
    const rng = createRng('counts');
    for (let i = 0; i < 40; i++) {
      const task = makeTask(
        `task${i}`,
        Array.from({ length: rng.between(1, 5) }, () => rng.between(1, 6)),
      );
      const choice = {
        basic: rng.chance(0.5),
        size: rng.chance(0.5),
        chain: rng.chance(0.5),
        repeat: rng.chance(0.5),
      };
      const options: TttOptions = {
        seed: i,
        maxSide: rng.between(4, 12),
        leaveTwoOut: rng.chance(0.5),
        colourPermutations: rng.between(0, 2),
        ...(rng.chance(0.3) ? { maxExamples: rng.between(1, 40) } : {}),
      };
      const count = tttExampleCount(task, choice, options);
      expect(count).toBe(tttExamples(task, choice, options).length);
      if (options.maxExamples !== undefined) expect(count).toBeLessThanOrEqual(options.maxExamples);
    }
  });
});
