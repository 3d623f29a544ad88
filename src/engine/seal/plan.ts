/**
 * What a SEAL run does in each round, as a list of steps at positions of the run, and the seeds
 * each step uses. Every step is one stored episode; the position of the next one is the run's
 * progress, so a resumed run redoes exactly the steps that were not stored.
 *
 * A round's steps, in run order:
 *   1. held-out evaluations with the round's generator: before round 1, every configured
 *      condition on every held-out context; in between, self-edits on the subset of contexts
 *      that tracks the curve; after the last round, self-edits on every context again (and, with
 *      the cross conditions, the passage alone on the subset);
 *   2. after the last round, with the cross conditions: the final generator's self-edits applied
 *      to the base model, on the subset;
 *   3. the E-step: K self-edits of each of the round's training contexts, each rewarded;
 *   4. reward checks: the self-edits of the round's first few contexts rewarded again with other
 *      seeds;
 *   5. the M-step.
 */
import { streamSeed } from '../random';
import type { EvaluationCondition, Passage, RunPosition } from '../store';
import type { SealConfig } from './config';
import type { SealContexts } from './contexts';

/** Which weights a step runs on: the round's generator, or the model the run started from. */
export type StepWeights = 'generator' | 'base';

export type PlannedStep =
  | {
      kind: 'held-out';
      position: RunPosition;
      condition: EvaluationCondition;
      /** Index of the held-out unit (a passage, or a pool of them trained on together). */
      unit: number;
      /** One passage, or a pool of them trained on together. */
      passages: Passage[];
      draw: number;
      weights: StepWeights;
    }
  | {
      kind: 'self-edit' | 'reward-check';
      position: RunPosition;
      passage: Passage;
      /** Index of the passage in the round's batch of training contexts. */
      batchIndex: number;
      sampleIndex: number;
      weights: 'generator';
    };

export interface RoundPlan {
  round: number;
  steps: PlannedStep[];
  /** Where the M-step sits (null after the last round, which only evaluates). */
  mStepPosition: RunPosition | null;
}

/** Seeds of the run: one independent stream per purpose and index path. */
export function seedOf(seed: number, ...path: number[]): number {
  return path.reduce((current, index) => streamSeed(current, index), seed >>> 0);
}

export const STREAM = {
  batch: 1,
  selfEdits: 2,
  lora: 3,
  heldOutSelfEdit: 4,
  mStep: 5,
  forgetting: 6,
  heldOutLora: 7,
  rewardCheckLora: 8,
  selection: 9,
  teacher: 10,
  walkthroughPassage: 11,
  walkthroughSelfEdit: 12,
  walkthroughLora: 13,
} as const;

/** The held-out units of a run: single passages, or pools of `poolSize` passages. */
export function heldOutUnits(config: SealConfig, contexts: SealContexts): Passage[][] {
  const passages = contexts.heldOut.slice(0, config.heldOut.contexts);
  if (config.heldOut.mode === 'single') return passages.map((p) => [p]);
  const pools: Passage[][] = [];
  for (let i = 0; i < passages.length; i += config.heldOut.poolSize) {
    pools.push(passages.slice(i, i + config.heldOut.poolSize));
  }
  return pools;
}

/** How many held-out units the rounds between the first and the last evaluate. */
export function subsetUnitCount(config: SealConfig, unitCount: number): number {
  const { subsetContexts, mode, poolSize } = config.heldOut;
  if (subsetContexts === null) return unitCount;
  const units = mode === 'single' ? subsetContexts : Math.ceil(subsetContexts / poolSize);
  return Math.min(units, unitCount);
}

/** The training contexts of `round`: consecutive slices of one seeded shuffle of them all. */
export function roundBatch(config: SealConfig, contexts: SealContexts, round: number): Passage[] {
  const order = contexts.train.map((_, i) => i);
  let state = seedOf(config.seed, STREAM.batch);
  for (let i = order.length - 1; i > 0; i--) {
    state = streamSeed(state, i);
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const size = Math.min(config.outer.contextsPerRound, order.length);
  return Array.from(
    { length: size },
    (_, i) => contexts.train[order[(round * size + i) % order.length]!]!,
  );
}

/** Draws of a condition: one for those with nothing random to draw. */
function drawsOf(config: SealConfig, condition: EvaluationCondition): number {
  return condition === 'base' || condition === 'passage' ? 1 : config.heldOut.draws;
}

/** The conditions each held-out unit is evaluated under in `round`, with the generator's weights. */
function generatorConditions(
  config: SealConfig,
  contexts: SealContexts,
  round: number,
  unit: number,
  subsetUnits: number,
): EvaluationCondition[] {
  const last = round === config.outer.rounds;
  const inSubset = unit < subsetUnits;
  if (round === 0) {
    const conditions = config.heldOut.conditions;
    if (conditions.includes('teacher') && !contexts.world) {
      throw new Error(
        "the 'teacher' condition writes self-edits from the synthetic world's facts: it needs the world's contexts",
      );
    }
    return [...conditions];
  }
  if (last)
    return config.heldOut.crossConditions && inSubset ? ['self-edit', 'passage'] : ['self-edit'];
  return inSubset ? ['self-edit'] : [];
}

/** Every step of `round`, in run order; see the module's comment. */
export function planRound(config: SealConfig, contexts: SealContexts, round: number): RoundPlan {
  const units = heldOutUnits(config, contexts);
  const subsetUnits = subsetUnitCount(config, units.length);
  const last = round === config.outer.rounds;
  const steps: PlannedStep[] = [];
  units.forEach((passages, unit) => {
    let sampleIndex = 0;
    for (const condition of generatorConditions(config, contexts, round, unit, subsetUnits)) {
      for (let draw = 0; draw < drawsOf(config, condition); draw++) {
        steps.push({
          kind: 'held-out',
          position: { round, contextIndex: unit, sampleIndex: sampleIndex++ },
          condition,
          unit,
          passages,
          draw,
          weights: 'generator',
        });
      }
    }
  });
  let contextIndex = units.length;
  if (last && round > 0 && config.heldOut.crossConditions) {
    units.slice(0, subsetUnits).forEach((passages, unit) => {
      for (let draw = 0; draw < config.heldOut.draws; draw++) {
        steps.push({
          kind: 'held-out',
          position: { round, contextIndex: contextIndex + unit, sampleIndex: draw },
          condition: 'self-edit-on-base',
          unit,
          passages,
          draw,
          weights: 'base',
        });
      }
    });
    contextIndex += subsetUnits;
  }
  if (last) return { round, steps, mStepPosition: null };
  const batch = roundBatch(config, contexts, round);
  // Self-edits picked at random have no reward to check.
  const checked =
    config.outer.selection === 'random'
      ? 0
      : Math.min(config.outer.rewardCheckContexts, batch.length);
  for (const kind of ['self-edit', 'reward-check'] as const) {
    const passages = kind === 'self-edit' ? batch : batch.slice(0, checked);
    passages.forEach((passage, batchIndex) => {
      for (let sampleIndex = 0; sampleIndex < config.selfEdit.samples; sampleIndex++) {
        steps.push({
          kind,
          position: { round, contextIndex: contextIndex + batchIndex, sampleIndex },
          passage,
          batchIndex,
          sampleIndex,
          weights: 'generator',
        });
      }
    });
    contextIndex += passages.length;
  }
  return { round, steps, mStepPosition: { round, contextIndex, sampleIndex: 0 } };
}
