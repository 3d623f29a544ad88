/**
 * Table 1 as the Puzzles panel shows it: every row a run measures, listed from the start and
 * filled in as its held-out tasks are stored, each with its 95 % interval, how far it has got,
 * and the paper's number beside it.
 */
import type { Table1Config } from '../../engine/api';
import type { Interval } from '../../engine/seal/statistics';
import { intervalOf, type Table2ChartRow } from './table2Chart';

/** The paper's Table 1 (share of self-edits, or of tasks, that lead to a right answer). */
export const PAPER_TABLE1 = { icl: 0, ttt_untrained: 0.2, seal: 0.725, oracle: 1 } as const;
export const PAPER_TABLE1_LABEL = 'paper (Llama-3.2-1B, ARC subset)';
export const PAPER_TABLE1_SOURCE =
  'SEAL (Zweiger et al. 2025), Table 1: a filtered subset of ARC, one RL round, 15 self-edits per training task';

export interface Table1Row {
  key: string;
  label: string;
  ours: Interval | null;
  /** The paper's number for the row (0–1); null where the paper has none. */
  paper: number | null;
  /** Shares of the row's recipes that were invalid or over the step budget; null for rows without sampled recipes or not measured yet. */
  invalid: number | null;
  overBudget: number | null;
  /** Held-out tasks with all their samples stored, of those the row measures. */
  tasksDone: number;
  tasksTotal: number;
}

const DIFFERENCE = 'seal_minus_ttt_untrained';

/** The rows of a run with `config`, in the paper's order, as measured so far. */
export function table1Rows(
  config: Pick<Table1Config, 'rl' | 'evaluation'>,
  table1: Record<string, number>,
  rowTasks: Record<string, number>,
): Table1Row[] {
  const tasksTotal = config.evaluation.tasks;
  const { rounds } = config.rl;
  const sampled = (key: string) => (name: 'invalid' | 'over_budget') =>
    table1[`${key}_${name}`] ?? null;
  const make = (key: string, label: string, paper: number | null, hasRecipes: boolean) => ({
    key,
    label,
    ours: intervalOf(table1, key),
    paper,
    invalid: hasRecipes ? sampled(key)('invalid') : null,
    overBudget: hasRecipes ? sampled(key)('over_budget') : null,
    tasksDone: rowTasks[key] ?? 0,
    tasksTotal,
  });
  const rows: Table1Row[] = [
    make('icl', 'In context, no self-edit (icl)', PAPER_TABLE1.icl, false),
    make(
      'ttt_untrained',
      'TTT with self-edits of the untrained model (ttt_untrained)',
      PAPER_TABLE1.ttt_untrained,
      true,
    ),
  ];
  // With one round the per-round row is the final one; more rounds show the curve.
  if (rounds > 1) {
    for (let round = 1; round <= rounds; round++) {
      rows.push(make(`seal_round_${round}`, `SEAL after round ${round}`, null, true));
    }
  }
  if (rounds > 0) {
    rows.push(
      make(
        'seal',
        `SEAL, after ${rounds} RL round${rounds === 1 ? '' : 's'} (seal)`,
        PAPER_TABLE1.seal,
        true,
      ),
    );
    rows.push({
      ...make(
        DIFFERENCE,
        'SEAL − untrained, paired by task',
        PAPER_TABLE1.seal - PAPER_TABLE1.ttt_untrained,
        false,
      ),
      tasksDone: Math.min(rowTasks.seal ?? 0, rowTasks.ttt_untrained ?? 0),
    });
  }
  rows.push(make('oracle', 'Hand-tuned recipe (oracle)', PAPER_TABLE1.oracle, false));
  return rows;
}

/** "partial: n of N tasks" while a row has tasks still to come; null once it is complete. */
export function partialNote(row: Pick<Table1Row, 'tasksDone' | 'tasksTotal'>): string | null {
  return row.tasksDone >= row.tasksTotal
    ? null
    : `partial: ${row.tasksDone} of ${row.tasksTotal} tasks`;
}

/** The chart's rows: shares the paper also reports (not the difference, which can be negative). */
export function table1ChartRows(rows: readonly Table1Row[]): Table2ChartRow[] {
  return rows.flatMap((row) =>
    row.paper === null || row.key === DIFFERENCE
      ? []
      : [{ key: row.key, label: row.label, ours: row.ours, paper: row.paper }],
  );
}

/** A row's share split by whether the model already answers the task in context. */
export interface InContextSplitRow {
  key: string;
  label: string;
  /** On tasks solved in context: recipes that keep the answer. */
  solved: Interval | null;
  /** On tasks not solved in context: recipes that teach the model what it did not know. */
  unsolved: Interval | null;
}

/** The recipe rows split by the in-context answer, those measured so far (none before `icl`). */
export function inContextSplitRows(table1: Record<string, number>): InContextSplitRow[] {
  const rows: InContextSplitRow[] = [
    { key: 'ttt_untrained', label: 'Untrained recipes (ttt_untrained)' },
    { key: 'seal', label: 'SEAL recipes (seal)' },
    { key: 'oracle', label: 'Hand-tuned recipe (oracle)' },
  ].map(({ key, label }) => ({
    key,
    label,
    solved: intervalOf(table1, `${key}_on_icl_solved`),
    unsolved: intervalOf(table1, `${key}_on_icl_unsolved`),
  }));
  return rows.filter((row) => row.solved !== null || row.unsolved !== null);
}
