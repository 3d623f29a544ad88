import { describe, expect, it } from 'vitest';
import {
  colourAugmentation,
  composeAugmentations,
  parseAugmentation,
  type GridAugmentation,
} from '../../src/engine/puzzles/augment';
import type { Grid } from '../../src/engine/puzzles/grid';
import { solved, voteOnAnswer } from '../../src/engine/puzzles/vote';

const named = (...names: string[]): GridAugmentation[] =>
  names.map((name) => parseAugmentation(name) as GridAugmentation);

const input: Grid = [
  [1, 2, 0],
  [0, 3, 4],
];
/** The true output: the input turned upside down. */
const truth: Grid = [
  [0, 3, 4],
  [1, 2, 0],
];
const other: Grid = [[5]];
const third: Grid = [
  [6, 6],
  [0, 6],
];

/** A predictor that answers `answers[name]` (a grid in the original frame) augmented back. */
function fakePredictor(answers: Record<string, Grid | null>) {
  const calls: { augmentedInput: Grid; augmentation: string }[] = [];
  const predict = async (augmentedInput: Grid, augmentation: string) => {
    calls.push({ augmentedInput, augmentation });
    const answer = answers[augmentation];
    if (answer === undefined) throw new Error(`no answer for ${augmentation}`);
    return answer && (parseAugmentation(augmentation) as GridAugmentation).apply(answer);
  };
  return { predict, calls };
}

describe('voteOnAnswer', () => {
  it('asks under every augmentation, undoes the answers and ranks them by votes', async () => {
    const augmentations = named('identity', 'rot90', 'rot180', 'flipH', 'size2', 'tile1x2');
    const { predict, calls } = fakePredictor({
      identity: other,
      rot90: truth,
      rot180: truth,
      flipH: other,
      size2: truth,
      tile1x2: third,
    });
    const vote = await voteOnAnswer(input, augmentations, predict);
    expect(calls).toEqual(
      augmentations.map((a) => ({ augmentedInput: a.apply(input), augmentation: a.name })),
    );
    expect(vote.tally).toEqual([
      { grid: truth, votes: 3 },
      { grid: other, votes: 2 },
      { grid: third, votes: 1 },
    ]);
    expect(vote.attempts).toEqual([truth, other]);
    expect(vote.ballots.map((b) => b.augmentation)).toEqual(augmentations.map((a) => a.name));
    expect(vote.ballots[4]).toEqual({
      augmentation: 'size2',
      prediction: named('size2')[0]!.apply(truth),
      undone: truth,
    });
    expect(solved(vote.attempts, truth)).toBe(true);

    const single = await voteOnAnswer(input, augmentations, predict, 1);
    expect(single.attempts).toEqual([truth]);
    expect(single.tally).toEqual(vote.tally);
  });

  it('undoes colour permutations along with geometry', async () => {
    const colours = colourAugmentation([0, 2, 3, 4, 5, 6, 7, 8, 9, 1]);
    const augmentations = [
      ...named('identity'),
      composeAugmentations(named('transpose')[0]!, colours),
    ];
    const { predict } = fakePredictor({ identity: other, [augmentations[1]!.name]: truth });
    const vote = await voteOnAnswer(input, augmentations, predict);
    expect(vote.ballots[1]!.prediction).toEqual([
      [0, 2],
      [4, 3],
      [5, 0],
    ]);
    expect(vote.ballots[1]!.undone).toEqual(truth);
  });

  it('breaks ties by the answer given first, in augmentation order', async () => {
    const augmentations = named('identity', 'rot90', 'rot180', 'flipH', 'flipV');
    const { predict } = fakePredictor({
      identity: third,
      rot90: other,
      rot180: other,
      flipH: third,
      flipV: truth,
    });
    const vote = await voteOnAnswer(input, augmentations, predict);
    expect(vote.tally).toEqual([
      { grid: third, votes: 2 },
      { grid: other, votes: 2 },
      { grid: truth, votes: 1 },
    ]);
    expect(vote.attempts).toEqual([third, other]);
    expect(solved(vote.attempts, truth)).toBe(false);

    // The same answers asked in another order: the tie goes the other way.
    const reordered = await voteOnAnswer(
      input,
      named('rot90', 'identity', 'rot180', 'flipH', 'flipV'),
      predict,
    );
    expect(reordered.attempts).toEqual([other, third]);
  });

  it('gives no vote to garbage or to answers no grid augments to', async () => {
    const augmentations = named('identity', 'rot90', 'size2', 'tile2x1', 'flipV');
    const ragged = [[1, 2], [3]];
    const answers: Record<string, Grid> = {
      identity: [[1, 12]], // colour out of range
      rot90: ragged,
      size2: [
        [1, 1, 2],
        [1, 1, 2],
      ], // odd width: not a doubled grid
      tile2x1: [
        [1, 2],
        [2, 1],
      ], // two different halves
      flipV: [], // empty
    };
    const vote = await voteOnAnswer(input, augmentations, async (_, name) => answers[name] ?? null);
    expect(vote.ballots).toEqual(
      augmentations.map((a) => ({
        augmentation: a.name,
        prediction: answers[a.name],
        undone: null,
      })),
    );
    expect(vote.tally).toEqual([]);
    expect(vote.attempts).toEqual([]);
    expect(solved(vote.attempts, truth)).toBe(false);
  });

  it('counts only the answers there are when some predictions are null', async () => {
    const augmentations = named('identity', 'rot90', 'rot180', 'transpose');
    const { predict } = fakePredictor({
      identity: null,
      rot90: null,
      rot180: truth,
      transpose: null,
    });
    const vote = await voteOnAnswer(input, augmentations, predict);
    expect(vote.ballots.map((b) => b.undone)).toEqual([null, null, truth, null]);
    expect(vote.ballots.map((b) => b.prediction)).toEqual([
      null,
      null,
      named('rot180')[0]!.apply(truth),
      null,
    ]);
    expect(vote.tally).toEqual([{ grid: truth, votes: 1 }]);
    expect(vote.attempts).toEqual([truth]);

    const silent = await voteOnAnswer(input, augmentations, async () => null);
    expect(silent.tally).toEqual([]);
    expect(silent.attempts).toEqual([]);
  });

  it('refuses a number of attempts below one', async () => {
    await expect(voteOnAnswer(input, named('identity'), async () => truth, 0)).rejects.toThrow(
      /attempts/,
    );
  });
});

describe('solved', () => {
  it('is true when either attempt is the truth, and only then', () => {
    expect(solved([other, truth], truth)).toBe(true);
    expect(solved([truth], truth)).toBe(true);
    expect(solved([other, third], truth)).toBe(false);
    expect(solved([input], truth)).toBe(false);
    expect(solved([], truth)).toBe(false);
  });
});
