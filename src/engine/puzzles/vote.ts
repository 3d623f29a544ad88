/**
 * Augmented inference: the model answers the test input under several invertible augmentations,
 * each answer is undone back to the original orientation, size and colours, and the answers vote.
 * A model that has learned the rule tends to agree with itself across augmentations, while its
 * mistakes scatter; the most-voted answers are the attempts (ARC grades two).
 */
import type { GridAugmentation } from './augment';
import { gridKey, gridProblem, gridsEqual } from './grid';
import type { Grid } from './grid';

export interface Ballot {
  augmentation: string;
  /** The model's answer to the augmented input, as it gave it. */
  prediction: Grid | null;
  /** The answer undone; null when there was none, it is not a grid, or no grid augments to it. */
  undone: Grid | null;
}

export interface Tally {
  grid: Grid;
  votes: number;
}

export interface Vote {
  attempts: Grid[];
  ballots: Ballot[];
  /** Every undone answer with its votes, most votes first; ties in the order first given. */
  tally: Tally[];
}

function undo(augmentation: GridAugmentation, prediction: Grid | null): Grid | null {
  if (prediction === null || gridProblem(prediction, Number.POSITIVE_INFINITY) !== null)
    return null;
  return augmentation.invert(prediction);
}

/**
 * Asks `predict` for the output of `input` under each augmentation in turn (put the identity first:
 * ties go to the answer given earliest), undoes the answers and returns the `attempts` most voted.
 */
export async function voteOnAnswer(
  input: Grid,
  augmentations: readonly GridAugmentation[],
  predict: (augmentedInput: Grid, augmentation: string) => Promise<Grid | null>,
  attempts = 2,
): Promise<Vote> {
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new Error(`attempts must be a positive integer, got ${attempts}`);
  const ballots: Ballot[] = [];
  for (const augmentation of augmentations) {
    const prediction = await predict(augmentation.apply(input), augmentation.name);
    ballots.push({
      augmentation: augmentation.name,
      prediction,
      undone: undo(augmentation, prediction),
    });
  }
  const byKey = new Map<string, Tally>();
  for (const { undone } of ballots) {
    if (undone === null) continue;
    const key = gridKey(undone);
    const entry = byKey.get(key);
    if (entry) entry.votes += 1;
    else byKey.set(key, { grid: undone, votes: 1 });
  }
  // Array.prototype.sort is stable, so equal votes keep the order in which answers first came.
  const tally = [...byKey.values()].sort((a, b) => b.votes - a.votes);
  return { attempts: tally.slice(0, attempts).map((entry) => entry.grid), ballots, tally };
}

/** Whether one of the attempts is the true output. */
export function solved(attempts: readonly Grid[], truth: Grid): boolean {
  return attempts.some((attempt) => gridsEqual(attempt, truth));
}
