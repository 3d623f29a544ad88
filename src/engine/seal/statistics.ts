/**
 * The statistics SEAL's results are reported with: means, correlations, the reliability of a
 * reward (does it rank a context's self-edits the same way twice?), and percentile intervals from
 * a bootstrap that resamples whole clusters of contexts (linked passages share entities, so their
 * results are not independent) and keeps conditions paired (the same contexts, drawn together).
 */
import { createRandom } from '../random';

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, x) => sum + x, 0) / values.length;
}

/** Pearson's correlation of two equally long lists; null when either has no spread. */
export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length !== ys.length) throw new Error('a correlation needs two lists of equal length');
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const dx = x - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  });
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

/** Two measurements of one item (a self-edit) that belongs to a group (its context). */
export interface PairedMeasurement {
  group: string | number;
  first: number;
  second: number;
}

/** Each measurement minus the mean of its group: what is left to rank within the group. */
function centredWithinGroups(items: readonly PairedMeasurement[]): [number[], number[]] {
  const groups = new Map<string | number, PairedMeasurement[]>();
  for (const item of items) groups.set(item.group, [...(groups.get(item.group) ?? []), item]);
  const firsts: number[] = [];
  const seconds: number[] = [];
  for (const members of groups.values()) {
    const m1 = mean(members.map((m) => m.first));
    const m2 = mean(members.map((m) => m.second));
    for (const member of members) {
      firsts.push(member.first - m1);
      seconds.push(member.second - m2);
    }
  }
  return [firsts, seconds];
}

/**
 * Reliability of a ranking signal: the correlation of two independent measurements of the same
 * items after each group's mean is taken out of each, so that only the ranking inside a group
 * (the choice ReST-EM makes) counts. Null when there is no spread inside the groups.
 */
export function withinGroupCorrelation(items: readonly PairedMeasurement[]): number | null {
  return pearson(...centredWithinGroups(items));
}

/** A point estimate and its two-sided percentile interval. */
export interface Interval {
  point: number;
  low: number;
  high: number;
}

export interface BootstrapOptions {
  replicates: number;
  seed: number;
  /** Coverage of the interval, e.g. 0.95. */
  level: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { replicates: 4000, seed: 1, level: 0.95 };

/** The value at quantile `q` of sorted values (linear interpolation between neighbours). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('a quantile needs at least one value');
  const at = (sorted.length - 1) * q;
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (at - below);
}

/**
 * Percentile bootstrap over clusters: each replicate draws as many clusters as there are, with
 * replacement, and `statistic` gets how many times each cluster was drawn.
 */
export function clusterBootstrap(
  clusterCount: number,
  statistic: (weights: readonly number[]) => number,
  options: BootstrapOptions = DEFAULT_BOOTSTRAP,
): Interval {
  if (clusterCount < 1) throw new Error('a bootstrap needs at least one cluster');
  const point = statistic(Array<number>(clusterCount).fill(1));
  const random = createRandom(options.seed);
  const values: number[] = [];
  const weights = Array<number>(clusterCount);
  for (let r = 0; r < options.replicates; r++) {
    weights.fill(0);
    for (let i = 0; i < clusterCount; i++) weights[Math.floor(random() * clusterCount)]! += 1;
    const value = statistic(weights);
    if (Number.isFinite(value)) values.push(value);
  }
  values.sort((a, b) => a - b);
  const tail = (1 - options.level) / 2;
  return { point, low: quantile(values, tail), high: quantile(values, 1 - tail) };
}

/** One context's result under one condition: right answers (fractional grades summed) of those asked. */
export interface ContextScore {
  context: string;
  cluster: string;
  correct: number;
  asked: number;
}

/** Indexes of the clusters of `scores`, in order of first appearance. */
function clusterIndexes(scores: readonly ContextScore[]): { count: number; of: number[] } {
  const index = new Map<string, number>();
  const of = scores.map((s) => {
    if (!index.has(s.cluster)) index.set(s.cluster, index.size);
    return index.get(s.cluster)!;
  });
  return { count: index.size, of };
}

/** Share of right answers over all questions of `scores`, with a cluster bootstrap interval. */
export function accuracyInterval(
  scores: readonly ContextScore[],
  options: BootstrapOptions = DEFAULT_BOOTSTRAP,
): Interval {
  const clusters = clusterIndexes(scores);
  return clusterBootstrap(
    clusters.count,
    (weights) => {
      let correct = 0;
      let asked = 0;
      scores.forEach((s, i) => {
        const w = weights[clusters.of[i]!]!;
        correct += w * s.correct;
        asked += w * s.asked;
      });
      return asked === 0 ? Number.NaN : correct / asked;
    },
    options,
  );
}

/**
 * Accuracy of `a` minus accuracy of `b` on the same contexts, with a paired cluster bootstrap
 * interval: a replicate draws clusters once and scores both conditions on them.
 */
export function pairedDifferenceInterval(
  a: readonly ContextScore[],
  b: readonly ContextScore[],
  options: BootstrapOptions = DEFAULT_BOOTSTRAP,
): Interval {
  if (a.length !== b.length || a.some((s, i) => s.context !== b[i]!.context)) {
    throw new Error('a paired difference needs both conditions on the same contexts, in order');
  }
  const clusters = clusterIndexes(a);
  return clusterBootstrap(
    clusters.count,
    (weights) => {
      let correctA = 0;
      let askedA = 0;
      let correctB = 0;
      let askedB = 0;
      a.forEach((s, i) => {
        const w = weights[clusters.of[i]!]!;
        correctA += w * s.correct;
        askedA += w * s.asked;
        correctB += w * b[i]!.correct;
        askedB += w * b[i]!.asked;
      });
      return askedA === 0 || askedB === 0 ? Number.NaN : correctA / askedA - correctB / askedB;
    },
    options,
  );
}

/** One of an experiment's goals checked against its result. */
export interface ExperimentGoal {
  goal: string;
  /** null when the result lacks what the goal needs. */
  met: boolean | null;
  detail: string;
}

/** The goal that the interval of `key` (a paired difference) lies above 0, read from `<key>_ci_low`. */
export function intervalAboveZero(
  m: Readonly<Record<string, number>>,
  key: string,
  goal: string,
): ExperimentGoal {
  const low = m[`${key}_ci_low`];
  return low === undefined
    ? { goal, met: null, detail: 'not measured' }
    : { goal, met: low > 0, detail: `the interval's low end is ${(100 * low).toFixed(1)} points` };
}
