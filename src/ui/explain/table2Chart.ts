/**
 * Table 2 as chart data: each condition this run measured, its accuracy and 95 % interval, beside
 * the paper's number for the same condition.
 */
import { PAPER_TABLE2 } from '../../engine/seal/paper';
import type { Interval } from '../../engine/seal/statistics';

/** Where the paper's numbers come from, as every label of them says. */
export const PAPER_LABEL = 'paper (Qwen2.5-7B, SQuAD)';
export const PAPER_SOURCE = 'arXiv v1, Table 2, single passage; graded by a GPT-4.1 judge';
export const OURS_LABEL = 'this run';

/** The conditions both this run and the paper measure, in the paper's order. */
export const TABLE2_CONDITIONS = [
  ['base', 'Base model'],
  ['passage', 'Train on passage'],
  ['base_self_edits', 'Passage + base-model self-edits'],
  ['teacher_self_edits', "Passage + teacher's self-edits (paper: GPT-4.1's)"],
  ['seal_final', 'Passage + SEAL self-edits, final round'],
] as const satisfies readonly (readonly [keyof typeof PAPER_TABLE2.v1Single, string])[];

export interface Table2ChartRow {
  key: string;
  label: string;
  /** This run's accuracy (0–1) with its interval; null until measured. */
  ours: Interval | null;
  /** The paper's accuracy (0–1). */
  paper: number;
}

/** The interval stored for `key` in a run's Table 2 metrics, null when it is not measured. */
export function intervalOf(table2: Record<string, number>, key: string): Interval | null {
  const point = table2[key];
  const low = table2[`${key}_ci_low`];
  const high = table2[`${key}_ci_high`];
  return point === undefined || low === undefined || high === undefined
    ? null
    : { point, low, high };
}

/** The chart's rows: every condition the run evaluates (measured or still to come). */
export function table2ChartRows(
  table2: Record<string, number>,
  measured: (key: string) => boolean = (key) => table2[key] !== undefined,
): Table2ChartRow[] {
  return TABLE2_CONDITIONS.filter(([key]) => measured(key)).map(([key, label]) => ({
    key,
    label,
    ours: intervalOf(table2, key),
    paper: PAPER_TABLE2.v1Single[key] / 100,
  }));
}
