/**
 * Which self-edit of each context the M-step trains on: the highest reward (ReST-EM), or one at
 * random (a control). Pure, so the panel's cards mark the same "best" the run keeps.
 */
import { createRandom, streamSeed } from '../random';
import type { SealConfig } from './config';
import { seedOf, STREAM } from './plan';

export interface Candidate {
  contextIndex: number;
  sampleIndex: number;
  reward: number;
}

/**
 * The M-step's data: per context, its highest-reward self-edit (the earliest sample on a tie),
 * dropped when `keepOnlyPositive` and its reward is not above zero. In context order.
 */
export function selectForMStep<T extends Candidate>(
  candidates: readonly T[],
  keepOnlyPositive: boolean,
): T[] {
  const best = new Map<number, T>();
  for (const candidate of candidates) {
    const current = best.get(candidate.contextIndex);
    const better =
      !current ||
      candidate.reward > current.reward ||
      (candidate.reward === current.reward && candidate.sampleIndex < current.sampleIndex);
    if (better) best.set(candidate.contextIndex, candidate);
  }
  return [...best.values()]
    .filter((c) => !keepOnlyPositive || c.reward > 0)
    .sort((a, b) => a.contextIndex - b.contextIndex);
}

/** The control's M-step data: per context, one of its self-edits drawn at random. In context order. */
export function selectAtRandom<T extends Candidate>(candidates: readonly T[], seed: number): T[] {
  const byContext = new Map<number, T[]>();
  for (const candidate of candidates) {
    byContext.set(candidate.contextIndex, [
      ...(byContext.get(candidate.contextIndex) ?? []),
      candidate,
    ]);
  }
  return [...byContext.entries()]
    .sort(([a], [b]) => a - b)
    .map(([contextIndex, samples]) => {
      const ordered = [...samples].sort((a, b) => a.sampleIndex - b.sampleIndex);
      const random = createRandom(streamSeed(seed, contextIndex));
      return ordered[Math.floor(random() * ordered.length)]!;
    });
}

/** The M-step's data of a round, chosen as the run's config says. */
export function keptSelfEdits<T extends Candidate>(
  config: SealConfig,
  round: number,
  candidates: readonly T[],
): T[] {
  return config.outer.selection === 'random'
    ? selectAtRandom(candidates, seedOf(config.seed, STREAM.selection, round))
    : selectForMStep(candidates, config.outer.keepOnlyPositive);
}
