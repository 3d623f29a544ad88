/**
 * The README's Table 2 section, written from a `table2` result file: our rows with their 95 %
 * intervals beside the paper's numbers, each said to come from the paper's version it does; the
 * cross conditions; the curve of SEAL and its control; and whether the protocol's goals were met.
 */
import { PAPER_TABLE2 as PAPER } from '../src/engine/seal/paper';
import { intervalAboveZero, type ExperimentGoal } from '../src/engine/seal/statistics';

type PaperRow = keyof typeof PAPER.v1Single;

/** Our single-passage metric, its pooled (CPT) twin, and the paper's row. */
const ROWS: [key: string, label: string, cpt: string | null, paper: PaperRow | null][] = [
  ['base', 'base model', 'cpt_base', 'base'],
  ['passage', 'train on the passage', 'cpt_passage', 'passage'],
  ['base_self_edits', 'passage + base-model self-edits', 'cpt_base_self_edits', 'base_self_edits'],
  [
    'teacher_self_edits',
    "passage + teacher's self-edits (paper: GPT-4.1's)",
    null,
    'teacher_self_edits',
  ],
  ['random_selection_final', 'passage + random-selection control, final round', null, null],
  ['seal_final', 'passage + SEAL self-edits, final round', 'cpt_seal', 'seal_final'],
  ['seal_minus_base_self_edits', 'SEAL − base-model self-edits (paired)', null, null],
  ['seal_minus_random_selection', 'SEAL − random-selection control (paired)', null, null],
];

const CROSS_ROWS: [key: string, label: string][] = [
  ['seal_edits_on_base_model', "the final generator's self-edits, trained into the base model"],
  ['passage_on_seal_model', 'the passage alone, trained into the final generator'],
];

const MARK_START = '<!-- table2:start -->';
const MARK_END = '<!-- table2:end -->';

function points(value: number): string {
  return (value * 100).toFixed(1);
}

/** `key`'s value in points with its interval, signed when it is a difference; '—' if absent. */
function cell(m: Record<string, number>, key: string): string {
  const value = m[key];
  if (value === undefined) return '—';
  const low = m[`${key}_ci_low`];
  const high = m[`${key}_ci_high`];
  const interval =
    low === undefined || high === undefined ? '' : ` (${points(low)} to ${points(high)})`;
  const sign = key.includes('_minus_') && value > 0 ? '+' : '';
  return `${sign}${points(value)}${interval}`;
}

export interface Table2Result {
  date: string;
  commit: string;
  metrics: Record<string, number>;
}

function curveRounds(m: Record<string, number>, prefix: string): number[] {
  return Object.keys(m)
    .map((key) => new RegExp(`^${prefix}(\\d+)$`).exec(key)?.[1])
    .filter((round): round is string => round !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The protocol's goals: both paired differences above zero, and a curve that ends at its top. */
export function table2Goals(m: Record<string, number>): ExperimentGoal[] {
  const rounds = curveRounds(m, 'seal_round_');
  const last = rounds.at(-1);
  let curve: ExperimentGoal = {
    goal: "the curve's last round at or above every earlier round",
    met: null,
    detail: 'fewer than two rounds measured',
  };
  if (last !== undefined && rounds.length > 1) {
    const best = rounds
      .slice(0, -1)
      .reduce((a, b) => (m[`seal_round_${b}`]! > m[`seal_round_${a}`]! ? b : a));
    const lastValue = m[`seal_round_${last}`]!;
    const bestValue = m[`seal_round_${best}`]!;
    curve = {
      ...curve,
      met: lastValue >= bestValue,
      detail: `round ${last}: ${points(lastValue)}; the best earlier, round ${best}: ${points(bestValue)}`,
    };
  }
  return [
    intervalAboveZero(m, 'seal_minus_base_self_edits', 'SEAL above the base-model self-edits'),
    intervalAboveZero(m, 'seal_minus_random_selection', 'SEAL above the random-selection control'),
    curve,
  ];
}

/** The section's Markdown for `result`, read from `file`. */
export function table2Section(result: Table2Result, file: string): string {
  const m = result.metrics;
  const lines = [
    MARK_START,
    '',
    `Measured by \`npm run seal -- --config experiments/table2.json\` (${file}, commit ${result.commit.slice(0, 10)}): ${m.contexts ?? '?'} evaluation contexts, the curve on ${m.subset_contexts ?? '?'} of them; ${((m.wall_s ?? 0) / 3600).toFixed(1)} hours of wall time for the SEAL run, its control and the pooled column together.`,
    'Ours is closed-book exact match; the paper graded with a GPT-4.1 yes/no judge.',
    'Intervals are 95 % paired bootstrap intervals over clusters of linked contexts.',
    'The pooled column trains held-out passages together (continued pretraining).',
    '',
    '| condition | ours, single passage, % (95 % interval) | paper v1, single passage | ours, pooled | paper v2, CPT n = 200 |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const [key, label, cpt, paper] of ROWS) {
    if (m[key] === undefined && (cpt === null || m[cpt] === undefined)) continue;
    const paperCell = (version: 'v1Single' | 'v2Cpt') =>
      paper ? PAPER[version][paper].toFixed(1) : '—';
    lines.push(
      `| ${label} | ${cell(m, key)} | ${paperCell('v1Single')} | ${cpt ? cell(m, cpt) : '—'} | ${paperCell('v2Cpt')} |`,
    );
  }
  const cross = CROSS_ROWS.filter(([key]) => m[key] !== undefined);
  if (cross.length > 0) {
    lines.push('', "Where the gain comes from (on the curve's contexts):", '');
    lines.push('| condition | ours, % (95 % interval) |', '| --- | --- |');
    for (const [key, label] of cross) lines.push(`| ${label} | ${cell(m, key)} |`);
  }
  const curve = curveRounds(m, 'seal_round_');
  if (curve.length > 0) {
    lines.push(
      '',
      'The curve (same contexts, samples and seeds every round), % (95 % interval):',
      '',
    );
    lines.push(`| round | ${curve.join(' | ')} |`, `| --- |${curve.map(() => ' --- |').join('')}`);
    for (const [prefix, label] of [
      ['seal_round_', 'SEAL'],
      ['random_selection_round_', 'random selection'],
    ] as const) {
      if (m[`${prefix}0`] === undefined) continue;
      lines.push(`| ${label} | ${curve.map((r) => cell(m, `${prefix}${r}`)).join(' | ')} |`);
    }
  }
  lines.push('', 'The goals, checked in code:', '');
  for (const { goal, met, detail } of table2Goals(m)) {
    const verdict = met === null ? 'not known' : met ? 'met' : 'not met';
    lines.push(`- ${goal}: **${verdict}** (${detail}).`);
  }
  const notes: string[] = [];
  if (m.reward_reliability !== undefined) {
    notes.push(`the reward's reliability ${m.reward_reliability.toFixed(2)}`);
  }
  if (m.self_edit_truncated_fraction !== undefined) {
    notes.push(
      `self-edits cut at the token limit ${(m.self_edit_truncated_fraction * 100).toFixed(1)} %`,
    );
  }
  if (notes.length > 0) lines.push('', `Also measured: ${notes.join('; ')}.`);
  lines.push('', MARK_END);
  return lines.join('\n');
}

/** `readme` with its Table 2 section replaced by `section`; the markers must be there. */
export function replaceTable2Section(readme: string, section: string): string {
  const start = readme.indexOf(MARK_START);
  const end = readme.indexOf(MARK_END);
  if (start < 0 || end < start) {
    throw new Error(`the README needs the markers ${MARK_START} and ${MARK_END} around Table 2`);
  }
  return readme.slice(0, start) + section + readme.slice(end + MARK_END.length);
}
