/**
 * A self-edit's numbers in words: the reward with its unit and the baseline it is measured
 * against, what "best" means (the M-step's own rule), and why the best can have fewer right
 * answers than another self-edit of the same passage.
 */
import type { RewardMode, SealConfig } from '../../engine/seal/config';
import type { ClosedBookScores } from '../../engine/seal/episodes';
import { selectForMStep } from '../../engine/seal/selection';

export interface RewardMeaning {
  /** The unit the reward is counted in. */
  unit: string;
  /** What the reward measures, and against what. */
  meaning: string;
}

export const REWARD_MEANINGS: Record<RewardMode, RewardMeaning> = {
  'likelihood-gain': {
    unit: 'nats per answer token',
    meaning:
      'how much the update raised the mean log-probability of the gold answers’ tokens, asked ' +
      'closed book, over the same model before the update (0: no change; +0.69: each gold token ' +
      'became on average twice as likely)',
  },
  improvement: {
    unit: '1 or 0',
    meaning:
      '1 when the updated model answers more of the passage’s questions right than the same ' +
      'model before the update, else 0 (the paper’s reward)',
  },
  accuracy: {
    unit: 'share of questions right',
    meaning:
      'the share of the passage’s questions the updated model answers right closed book; no ' +
      'baseline is subtracted',
  },
};

/** A reward as the card shows it, with its unit. */
export function formatReward(mode: RewardMode, reward: number): string {
  switch (mode) {
    case 'likelihood-gain':
      return `${reward >= 0 ? '+' : '−'}${Math.abs(reward).toFixed(3)} nats/token`;
    case 'improvement':
      return reward.toFixed(2);
    case 'accuracy':
      return `${(reward * 100).toFixed(0)}%`;
  }
}

/** How a likelihood gain reads as a change of probability: the factor per gold-answer token. */
export function likelihoodFactor(before: ClosedBookScores, after: ClosedBookScores): number {
  return Math.exp(after.goldLogLikelihood - before.goldLogLikelihood);
}

/** What "best" means in a run with these settings. */
export function bestRule(
  outer: Pick<SealConfig['outer'], 'selection' | 'keepOnlyPositive'>,
): string {
  if (outer.selection === 'random') {
    return 'This run is the random-selection control: the M-step trains on one self-edit drawn at random, and nothing is rewarded.';
  }
  return (
    'Best: the highest reward of the passage’s K self-edits (the earliest on a tie); ReST-EM’s ' +
    'M-step fine-tunes the model on it' +
    (outer.keepOnlyPositive ? ', if its reward is above zero.' : '.')
  );
}

interface Ranked {
  sampleIndex: number;
  reward: number;
  accuracy: number;
}

/** The self-edit the M-step keeps of one passage's samples, by the run's own rule (reward). */
export function bestOf<T extends Ranked>(samples: readonly T[]): T | null {
  return (
    selectForMStep(
      samples.map((sample) => ({ ...sample, contextIndex: 0, sample })),
      false,
    )[0]?.sample ?? null
  );
}

/**
 * Why the best self-edit has fewer right answers than another one, when it does; null when it
 * does not.
 */
export function lowerAccuracyNote<T extends Ranked>(
  best: T,
  samples: readonly T[],
  mode: RewardMode,
): string | null {
  const better = samples.filter((s) => s.accuracy > best.accuracy);
  if (better.length === 0 || mode === 'accuracy') return null;
  const which = better.map((s) => `#${s.sampleIndex + 1}`).join(', ');
  return mode === 'likelihood-gain'
    ? `Self-edit ${which} got more answers exactly right, yet ranks lower: "best" is chosen by reward, ` +
        'and this reward counts how much likelier the gold answers became, not how many came out ' +
        'exactly right. A tiny model often moves the gold answer up without making it its top answer.'
    : `Self-edit ${which} got more answers right, yet ranks lower: "best" is chosen by reward, and ` +
        'the reward only says whether the update answered more questions right than before; ties ' +
        'go to the earliest sample.';
}
