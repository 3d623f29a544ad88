import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/engine/random';
import {
  accuracyInterval,
  clusterBootstrap,
  pairedDifferenceInterval,
  pearson,
  quantile,
  withinGroupCorrelation,
  type ContextScore,
} from '../../src/engine/seal/statistics';

const FAST = { replicates: 500, seed: 3, level: 0.95 };

describe('correlations', () => {
  it("computes Pearson's r, and says when a list has no spread", () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(() => pearson([1], [1, 2])).toThrow(/equal length/);
  });

  it('ranks inside groups only: different group means do not make two measurements agree', () => {
    // Within each group the second measurement ranks the items in the opposite order, while the
    // group means agree perfectly: a plain correlation would be high, the within-group one is -1.
    const items = [
      { group: 'a', first: 10, second: 11 },
      { group: 'a', first: 11, second: 10 },
      { group: 'b', first: 0, second: 1 },
      { group: 'b', first: 1, second: 0 },
    ];
    expect(
      pearson(
        items.map((i) => i.first),
        items.map((i) => i.second),
      ),
    ).toBeGreaterThan(0.9);
    expect(withinGroupCorrelation(items)).toBeCloseTo(-1, 12);
    const agreeing = items.map((i) => ({ ...i, second: i.first * 2 + (i.group === 'a' ? 5 : 0) }));
    expect(withinGroupCorrelation(agreeing)).toBeCloseTo(1, 12);
  });
});

describe('the cluster bootstrap', () => {
  it('interpolates quantiles of sorted values', () => {
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
  });

  it('gives a point-sized interval for a statistic that does not depend on the draw', () => {
    expect(clusterBootstrap(7, () => 0.3, FAST)).toEqual({ point: 0.3, low: 0.3, high: 0.3 });
  });

  it('scores accuracy over all questions of the resampled contexts, and repeats from its seed', () => {
    const scores: ContextScore[] = [
      { context: 'a', cluster: 'x', correct: 3, asked: 4 },
      { context: 'b', cluster: 'x', correct: 1, asked: 4 },
      { context: 'c', cluster: 'y', correct: 0, asked: 2 },
      { context: 'd', cluster: 'z', correct: 2, asked: 2 },
    ];
    const interval = accuracyInterval(scores, FAST);
    expect(interval.point).toBeCloseTo(6 / 12, 12);
    expect(interval.low).toBeLessThan(interval.point);
    expect(interval.high).toBeGreaterThan(interval.point);
    expect(interval.low).toBeGreaterThanOrEqual(0);
    expect(interval.high).toBeLessThanOrEqual(1);
    expect(accuracyInterval(scores, FAST)).toEqual(interval);
  });

  it('pairs conditions on the same contexts: a shift shared by every context has no noise', () => {
    const random = createRandom(5);
    const base: ContextScore[] = Array.from({ length: 30 }, (_, i) => ({
      context: `c${i}`,
      cluster: `k${Math.floor(i / 3)}`,
      correct: Math.floor(random() * 8),
      asked: 10,
    }));
    const better = base.map((s) => ({ ...s, correct: s.correct + 2 }));
    const paired = pairedDifferenceInterval(better, base, FAST);
    expect(paired.point).toBeCloseTo(0.2, 12);
    expect(paired.low).toBeCloseTo(0.2, 12);
    expect(paired.high).toBeCloseTo(0.2, 12);
    // Unpaired, the same two conditions would look uncertain: each accuracy alone has an interval.
    const alone = accuracyInterval(better, FAST);
    expect(alone.high - alone.low).toBeGreaterThan(0.05);
    expect(() => pairedDifferenceInterval(better, base.slice(1), FAST)).toThrow(/same contexts/);
  });

  it('covers the true difference about 95 % of the time when clusters share their noise', () => {
    // Simulated experiments: 40 clusters of 4 contexts; a cluster's contexts share an ability
    // (so they are not independent), and condition A is right 5 points more often than B.
    const random = createRandom(11);
    const trueDifference = 0.05;
    let covered = 0;
    const experiments = 200;
    for (let x = 0; x < experiments; x++) {
      const a: ContextScore[] = [];
      const b: ContextScore[] = [];
      for (let k = 0; k < 40; k++) {
        const ability = 0.2 + 0.5 * random();
        for (let c = 0; c < 4; c++) {
          const asked = 10;
          let correctA = 0;
          let correctB = 0;
          for (let q = 0; q < asked; q++) {
            const u = random();
            if (u < ability + trueDifference) correctA++;
            if (u < ability) correctB++;
          }
          a.push({ context: `${k}/${c}`, cluster: `${k}`, correct: correctA, asked });
          b.push({ context: `${k}/${c}`, cluster: `${k}`, correct: correctB, asked });
        }
      }
      const interval = pairedDifferenceInterval(a, b, { ...FAST, seed: x });
      if (interval.low <= trueDifference && trueDifference <= interval.high) covered++;
    }
    expect(covered / experiments).toBeGreaterThan(0.88);
    // …and not by being so wide that it never misses.
    expect(covered / experiments).toBeLessThan(1);
  });
});
