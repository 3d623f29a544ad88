/** Whether a measured accuracy is precise enough to compare, said in a plain sentence. */
import type { Interval } from '../../engine/seal/statistics';

/** An interval this wide (in shares, 0–1) cannot separate the gains the paper reports (~7 points). */
export const WIDE_INTERVAL = 0.1;

/** The interval's width in percentage points. */
export function intervalPoints(interval: Pick<Interval, 'low' | 'high'>): number {
  return (interval.high - interval.low) * 100;
}

/**
 * A note on an accuracy measured on `contexts` passages: its 95 % interval, and when that is wide,
 * what it means for comparing rows; null when the interval is narrow.
 */
export function noiseNote(interval: Interval, contexts: number): string | null {
  if (interval.high - interval.low < WIDE_INTERVAL) return null;
  const points = intervalPoints(interval).toFixed(0);
  const share = (value: number) => `${(value * 100).toFixed(1)}%`;
  return (
    `Small run: with ${contexts} held-out passage${contexts === 1 ? '' : 's'} the 95 % interval ` +
    `runs from ${share(interval.low)} to ${share(interval.high)}, ${points} points wide. ` +
    `Differences between rows smaller than that may be noise; more held-out contexts or draws ` +
    `narrow it.`
  );
}
