/**
 * The puzzle world: few-shot grid puzzles generated from a seed, in four disjoint splits. A task's
 * rule is one primitive or a composition of two from different families; a share of the
 * compositions (chosen by the seed) is held out of pretraining, so the tasks SEAL trains and is
 * evaluated on need a combination the puzzle model has never been shown.
 */
import { createRng, type Rng } from '../world/random';
import { gridKey, gridProblem, gridsEqual, MAX_SIDE, type GridPair, type PuzzleTask } from './grid';
import { randomInput } from './inputs';
import { coloursOf } from './objects';
import {
  applyRule,
  applyRuleVisibly,
  drawStep,
  makeRule,
  PRIMITIVES,
  primitiveNamed,
  type InputStyle,
  type Primitive,
  type PrimitiveName,
  type PuzzleRule,
} from './transforms';

export type PuzzleSplit = 'pretrain' | 'rl' | 'validation' | 'evaluation';
export const PUZZLE_SPLITS: readonly PuzzleSplit[] = ['pretrain', 'rl', 'validation', 'evaluation'];

export interface PuzzleWorldParams {
  seed: number | string;
  /** Sides of the input grids, inclusive. */
  minSide: number;
  /** Largest side of any grid, input or output; inputs are drawn up to it (less when a rule grows them). */
  maxSide: number;
  minDemonstrations: number;
  maxDemonstrations: number;
  counts: Readonly<Record<PuzzleSplit, number>>;
  /** Share of tasks, in every split, whose rule is a composition of two primitives. */
  compositionShare: number;
  /** Share of the compositions kept out of pretraining, for the other splits only. */
  heldOutShare: number;
}

export const DEFAULT_PUZZLE_WORLD_PARAMS: PuzzleWorldParams = {
  seed: 1,
  minSide: 3,
  maxSide: 6,
  minDemonstrations: 2,
  maxDemonstrations: 4,
  counts: { pretrain: 2000, rl: 64, validation: 32, evaluation: 64 },
  compositionShare: 0.5,
  heldOutShare: 0.25,
};

export interface PuzzleWorldTask {
  id: string;
  split: PuzzleSplit;
  rule: PuzzleRule;
  task: PuzzleTask;
}

export interface PuzzleWorld {
  /** Composition keys (see `compositionKey`) that appear only outside pretraining. */
  heldOutCompositions: string[];
  tasks: PuzzleWorldTask[];
}

/** Rule draws per task, and input draws per rule, before giving up. */
const RULE_ATTEMPTS = 200;
/** Rule draws that decide whether a composition can make a task at all. */
const FEASIBILITY_ATTEMPTS = 12;
const INPUT_ATTEMPTS = 60;
/** When a composition needs two input styles, the more specific one wins. */
const STYLE_PRIORITY: readonly InputStyle[] = ['frames', 'blocks', 'sparse', 'objects', 'noise'];

/** A composition's primitives, in catalogue-independent (alphabetical) order, joined by '+'. */
export function compositionKey(primitives: readonly PrimitiveName[]): string {
  return [...primitives].sort().join('+');
}

/** Every pair of primitives from different families, as its composition key, sorted. */
export function allCompositions(): string[] {
  const keys: string[] = [];
  PRIMITIVES.forEach((a, i) =>
    PRIMITIVES.slice(i + 1).forEach((b) => {
      if (a.family !== b.family) keys.push(compositionKey([a.name, b.name]));
    }),
  );
  return keys.sort();
}

type SizeParams = Pick<
  PuzzleWorldParams,
  'minSide' | 'maxSide' | 'minDemonstrations' | 'maxDemonstrations'
>;
const feasibleBySizes = new Map<string, string[]>();

/**
 * The compositions that make fair tasks at these sizes, sorted: some never do (a frame to fill
 * has no room once the grid must double within the side limit; moving objects then cropping
 * shows only the crop). A composition is kept when one of a few seeded tries makes a task.
 */
export function feasibleCompositions(sizes: SizeParams): string[] {
  const { minSide, maxSide, minDemonstrations, maxDemonstrations } = sizes;
  const memoKey = [minSide, maxSide, minDemonstrations, maxDemonstrations].join();
  let feasible = feasibleBySizes.get(memoKey);
  if (!feasible) {
    feasible = allCompositions().filter((key) => {
      const rng = createRng(`puzzle-compositions/${key}`);
      for (let attempt = 0; attempt < FEASIBILITY_ATTEMPTS; attempt++) {
        if (taskFor(drawRule(rng, true, [key]), rng, sizes)) return true;
      }
      return false;
    });
    feasibleBySizes.set(memoKey, feasible);
  }
  return feasible;
}

/** The compositions a world with these params keeps out of pretraining, sorted. */
export function heldOutCompositions(
  params: Pick<PuzzleWorldParams, 'seed' | 'heldOutShare'> & SizeParams,
): string[] {
  const feasible = feasibleCompositions(params);
  const count = Math.round(feasible.length * params.heldOutShare);
  const rng = createRng(`puzzle-world/${params.seed}`).fork('held-out compositions');
  return rng.shuffle(feasible).slice(0, count).sort();
}

function checkParams(p: PuzzleWorldParams): void {
  const whole = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) {
      throw new Error(`puzzle world: ${name} must be a whole number ≥ ${min}, got ${value}`);
    }
  };
  whole('minSide', p.minSide, 1);
  whole('maxSide', p.maxSide, p.minSide);
  if (p.maxSide > MAX_SIDE) throw new Error(`puzzle world: maxSide must be ≤ ${MAX_SIDE}`);
  whole('minDemonstrations', p.minDemonstrations, 2);
  whole('maxDemonstrations', p.maxDemonstrations, p.minDemonstrations);
  for (const split of PUZZLE_SPLITS) whole(`counts.${split}`, p.counts[split], 0);
  for (const share of ['compositionShare', 'heldOutShare'] as const) {
    if (!(p[share] >= 0 && p[share] <= 1)) {
      throw new Error(`puzzle world: ${share} must be in [0, 1], got ${p[share]}`);
    }
  }
}

/** Whether every pair of `task` comes out of `rule` (applied with `applyRule`). */
export function ruleReproduces(rule: Pick<PuzzleRule, 'steps'>, task: PuzzleTask): boolean {
  return [...task.train, ...task.test].every((pair) =>
    gridsEqual(applyRule(rule, pair.input), pair.output),
  );
}

/**
 * Why `task` is not a fair puzzle, or null: every grid valid within `maxSide`, every output
 * different from its input, all outputs distinct (so the test output is none of the
 * demonstrations' and they are not all alike), and the test uses only colours the demonstrations
 * show, in its input and its output.
 */
export function puzzleProblem(task: PuzzleTask, maxSide: number): string | null {
  const pairs = [...task.train, ...task.test];
  for (const [i, pair] of pairs.entries()) {
    const problem = gridProblem(pair.input, maxSide) ?? gridProblem(pair.output, maxSide);
    if (problem) return `pair ${i + 1}: ${problem}`;
    if (gridsEqual(pair.input, pair.output)) return `pair ${i + 1}: the output equals the input`;
  }
  if (new Set(pairs.map((p) => gridKey(p.output))).size < pairs.length) {
    return 'two pairs have the same output';
  }
  const seen = (side: 'input' | 'output') => coloursOf(...task.train.map((p) => p[side]));
  for (const side of ['input', 'output'] as const) {
    const shown = seen(side);
    for (const pair of task.test) {
      const unseen = [...coloursOf(pair[side])].filter((c) => !shown.has(c));
      if (unseen.length) return `the test ${side} uses colour ${unseen[0]}, never demonstrated`;
    }
  }
  return null;
}

/** Whether one step of a composition alone already explains every pair (so it shows nothing). */
function explainedByOneStep(rule: PuzzleRule, pairs: readonly GridPair[], maxSide: number) {
  return (
    rule.steps.length > 1 &&
    rule.steps.some((step) =>
      pairs.every((pair) => {
        const output = applyRuleVisibly({ steps: [step] }, pair.input, maxSide);
        return output !== null && gridsEqual(output, pair.output);
      }),
    )
  );
}

/** A task showing `rule`, or null when the draws could not make a fair one. */
function taskFor(rule: PuzzleRule, rng: Rng, p: SizeParams): PuzzleTask | null {
  const primitives = rule.steps.map((s) => primitiveNamed(s.primitive));
  let [rowsTimes, colsTimes] = [1, 1];
  rule.steps.forEach((step, i) => {
    const [down, across] = primitives[i]!.growth(step.params);
    [rowsTimes, colsTimes] = [rowsTimes * down, colsTimes * across];
  });
  // A turn may swap which side grows, so both sides are kept within the larger growth.
  const largestSide = Math.floor(p.maxSide / Math.max(rowsTimes, colsTimes));
  if (largestSide < p.minSide) return null;
  const allowed = primitives.reduce<readonly number[]>(
    (kept, prim, i) => kept.filter((c) => prim.inputColours(rule.steps[i]!.params).includes(c)),
    primitives[0]!.inputColours(rule.steps[0]!.params),
  );
  if (allowed.length === 0) return null;
  // A few colours for the whole task, as in ARC, so the test shows colours the demonstrations do.
  const colours = rng.shuffle(allowed).slice(0, rng.between(2, 4));
  const style = STYLE_PRIORITY.find((s) => primitives.some((prim) => prim.input === s))!;

  const wanted = rng.between(p.minDemonstrations, p.maxDemonstrations) + 1;
  const pairs: GridPair[] = [];
  for (let attempt = 0; attempt < INPUT_ATTEMPTS && pairs.length < wanted; attempt++) {
    const input = randomInput(
      rng,
      rng.between(p.minSide, largestSide),
      rng.between(p.minSide, largestSide),
      style,
      colours,
    );
    const output = applyRuleVisibly(rule, input, p.maxSide);
    if (!output) continue;
    const candidate = { input, output };
    const train = pairs.length < wanted - 1 ? [...pairs, candidate] : pairs;
    const test = pairs.length < wanted - 1 ? [] : [candidate];
    if (puzzleProblem({ train, test }, p.maxSide) === null) pairs.push(candidate);
  }
  if (pairs.length < wanted || explainedByOneStep(rule, pairs, p.maxSide)) return null;
  return { train: pairs.slice(0, -1), test: pairs.slice(-1) };
}

/** A rule of one primitive, or of two from different families drawn from `compositions`. */
function drawRule(rng: Rng, composed: boolean, compositions: readonly string[]): PuzzleRule {
  if (!composed) return makeRule([drawStep(rng.pick(PRIMITIVES), rng)]);
  const names = rng.pick(compositions).split('+') as PrimitiveName[];
  const ordered: Primitive[] = rng.shuffle(names).map(primitiveNamed);
  return makeRule(ordered.map((prim) => drawStep(prim, rng)));
}

const taskContentKey = (task: PuzzleTask) =>
  [...task.train, ...task.test].map((p) => `${gridKey(p.input)}>${gridKey(p.output)}`).join('/');

/**
 * Generates the world. Each task draws from its own stream (forked by split and index), so a
 * task does not change when another split grows. The same params give a byte-identical world.
 */
export function generatePuzzleWorld(overrides: Partial<PuzzleWorldParams> = {}): PuzzleWorld {
  const params: PuzzleWorldParams = { ...DEFAULT_PUZZLE_WORLD_PARAMS, ...overrides };
  checkParams(params);
  const heldOut = heldOutCompositions(params);
  const heldOutSet = new Set(heldOut);
  const shown = feasibleCompositions(params).filter((key) => !heldOutSet.has(key));
  const root = createRng(`puzzle-world/${params.seed}`);
  const seen = new Set<string>();
  const tasks: PuzzleWorldTask[] = [];
  for (const split of PUZZLE_SPLITS) {
    const compositions = split === 'pretrain' ? shown : heldOut;
    for (let index = 0; index < params.counts[split]; index++) {
      const id = `${split}-${String(index).padStart(4, '0')}`;
      const rng = root.fork(id);
      const composed = compositions.length > 0 && rng.chance(params.compositionShare);
      let made: PuzzleWorldTask | null = null;
      for (let attempt = 0; attempt < RULE_ATTEMPTS && !made; attempt++) {
        const rule = drawRule(rng, composed, compositions);
        const task = taskFor(rule, rng, params);
        if (task && !seen.has(taskContentKey(task))) made = { id, split, rule, task };
      }
      if (!made) {
        throw new Error(
          `puzzle world: could not make task ${id}; the sides ${params.minSide}–${params.maxSide} may be too small for its rules`,
        );
      }
      seen.add(taskContentKey(made.task));
      tasks.push(made);
    }
  }
  return { heldOutCompositions: heldOut, tasks };
}
