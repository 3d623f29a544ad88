/**
 * The README's Table 2 section, written from a `table2` result file: our rows with their 95 %
 * intervals beside the paper's numbers, each said to come from the paper's version it does.
 */
import { PAPER_TABLE2 as PAPER } from '../src/engine/seal/paper';

const ROWS: [key: string, label: string, paper: keyof typeof PAPER.v1Single | null][] = [
  ['base', 'base model', 'base'],
  ['passage', 'train on the passage', 'passage'],
  ['base_self_edits', 'passage + base-model self-edits', 'base_self_edits'],
  ['teacher_self_edits', "passage + teacher's self-edits (paper: GPT-4.1's)", 'teacher_self_edits'],
  ['random_selection_final', 'passage + random-selection control, final round', null],
  ['seal_final', 'passage + SEAL self-edits, final round', 'seal_final'],
  ['seal_minus_base_self_edits', 'SEAL − base-model self-edits (paired)', null],
  ['seal_minus_random_selection', 'SEAL − random-selection control (paired)', null],
];

const MARK_START = '<!-- table2:start -->';
const MARK_END = '<!-- table2:end -->';

function points(value: number): string {
  return (value * 100).toFixed(1);
}

export interface Table2Result {
  date: string;
  commit: string;
  metrics: Record<string, number>;
}

/** The section's Markdown for `result`, read from `file`. */
export function table2Section(result: Table2Result, file: string): string {
  const m = result.metrics;
  const lines = [
    MARK_START,
    '',
    `Measured by \`npm run seal -- --config experiments/table2.json\` (${file}, commit`,
    `${result.commit.slice(0, 10)}): ${m.contexts ?? '?'} evaluation contexts, the curve on`,
    `${m.subset_contexts ?? '?'} of them; ${((m.wall_s ?? 0) / 3600).toFixed(1)} hours of compute.`,
    'Ours is closed-book exact match; the paper graded with a GPT-4.1 yes/no judge. Intervals are',
    '95 % paired bootstrap intervals over clusters of linked contexts.',
    '',
    '| condition | ours, % (95 % interval) | paper v1, single passage | paper v2, CPT n = 200 |',
    '| --- | --- | --- | --- |',
  ];
  for (const [key, label, paper] of ROWS) {
    const value = m[key];
    if (value === undefined) continue;
    const low = m[`${key}_ci_low`];
    const high = m[`${key}_ci_high`];
    const interval =
      low === undefined || high === undefined ? '' : ` (${points(low)} to ${points(high)})`;
    const sign = key.includes('_minus_') && value > 0 ? '+' : '';
    lines.push(
      `| ${label} | ${sign}${points(value)}${interval} | ${paper ? PAPER.v1Single[paper].toFixed(1) : '—'} | ${paper ? PAPER.v2Cpt[paper].toFixed(1) : '—'} |`,
    );
  }
  const curve = Object.keys(m)
    .map((key) => /^seal_round_(\d+)$/.exec(key)?.[1])
    .filter((round): round is string => round !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (curve.length > 0) {
    lines.push('', 'The curve (same contexts, samples and seeds every round):', '');
    lines.push(`| round | ${curve.join(' | ')} |`, `| --- |${curve.map(() => ' --- |').join('')}`);
    for (const [prefix, label] of [
      ['seal_round_', 'SEAL'],
      ['random_selection_round_', 'random selection'],
    ] as const) {
      if (m[`${prefix}0`] === undefined) continue;
      const cells = curve.map((r) => {
        const value = m[`${prefix}${r}`];
        return value === undefined ? '—' : points(value);
      });
      lines.push(`| ${label} | ${cells.join(' | ')} |`);
    }
  }
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
