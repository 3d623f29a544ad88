/**
 * Puzzle tasks in ARC's JSON format: `{"train": [{"input", "output"}, …], "test": […]}`, one task
 * per file or many in one object keyed by task id (as ARC Prize files group them). Reading checks
 * every pair and grid and says where and what is wrong in plain words, so an imported file is
 * either wholly valid or refused with a message a person can act on.
 */
import * as v from 'valibot';
import { plainObjectSchema } from '../validation';
import {
  cloneGrid,
  gridProblem,
  MAX_SIDE,
  type Grid,
  type GridPair,
  type PuzzleTask,
} from './grid';

/** Most demonstrations and test pairs a task may have (ARC's own tasks have at most 10 and 4). */
export const MAX_TRAIN_PAIRS = 10;
export const MAX_TEST_PAIRS = 4;
/** Most tasks one file may hold. */
export const MAX_FILE_TASKS = 10_000;

export class ArcFormatError extends Error {
  override name = 'ArcFormatError';
}

const GridSchema = v.custom<Grid>(
  (value) => gridProblem(value, MAX_SIDE) === null,
  (issue) => gridProblem(issue.input, MAX_SIDE) ?? 'not a grid',
);

const pairSchema = (outputMissing: string) =>
  v.pipe(
    plainObjectSchema('a pair must be an object with "input" and "output" grids'),
    v.check((pair) => 'input' in pair, 'an input grid is needed'),
    v.check((pair) => 'output' in pair, outputMissing),
    v.looseObject({ input: GridSchema, output: GridSchema }),
  );

const pairsSchema = (what: string, max: number, outputMissing: string) =>
  v.pipe(
    v.array(pairSchema(outputMissing), `the ${what} must be a list of input/output pairs`),
    v.minLength(1, `at least one ${what.replace(/s$/, '')} is needed`),
    v.maxLength(
      max,
      (issue) => `${(issue.input as unknown[]).length} ${what}; at most ${max} are allowed`,
    ),
  );

const ArcTaskSchema = v.pipe(
  plainObjectSchema('a task must be an object with "train" and "test" lists'),
  v.check((task) => 'train' in task, 'a task needs "train", its list of demonstrations'),
  v.check((task) => 'test' in task, 'a task needs "test", its list of pairs to solve'),
  v.looseObject({
    train: pairsSchema('demonstrations', MAX_TRAIN_PAIRS, 'a demonstration needs an output'),
    test: pairsSchema('test pairs', MAX_TEST_PAIRS, 'an output is needed to grade the answer'),
  }),
);

/** Where an issue is, as `train[1].output`. */
function whereOf(path: readonly { key: unknown }[] | undefined): string {
  return (path ?? [])
    .map(({ key }, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? `${key}` : `.${key}`))
    .join('');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ArcFormatError(`not JSON: ${(error as Error).message}`);
  }
}

const copyPair = ({ input, output }: GridPair): GridPair => ({
  input: cloneGrid(input),
  output: cloneGrid(output),
});

/** A task from ARC JSON (text or an already parsed value); throws an ArcFormatError if invalid. */
export function parseArcTask(input: unknown): PuzzleTask {
  const value = typeof input === 'string' ? parseJson(input) : input;
  const result = v.safeParse(ArcTaskSchema, value, { abortEarly: true });
  if (!result.success) {
    const [issue] = result.issues;
    const where = whereOf(issue.path);
    throw new ArcFormatError(where ? `${where}: ${issue.message}` : issue.message);
  }
  return { train: result.output.train.map(copyPair), test: result.output.test.map(copyPair) };
}

/**
 * The tasks of an ARC file: one task object (named `fallbackId`) or an object of tasks keyed by
 * id. An error names the task it is in.
 */
export function parseArcFile(
  text: string,
  fallbackId = 'task',
): { id: string; task: PuzzleTask }[] {
  const value = parseJson(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ArcFormatError('a task file must hold a task, or an object of tasks by id');
  }
  const isOneTask = 'train' in value || 'test' in value;
  const entries = isOneTask ? [[fallbackId, value] as const] : Object.entries(value);
  if (entries.length === 0) throw new ArcFormatError('the file holds no tasks');
  if (entries.length > MAX_FILE_TASKS) {
    throw new ArcFormatError(
      `the file holds ${entries.length} tasks; at most ${MAX_FILE_TASKS} are allowed`,
    );
  }
  return entries.map(([id, task]) => {
    try {
      return { id, task: parseArcTask(task) };
    } catch (error) {
      if (error instanceof ArcFormatError) throw new ArcFormatError(`${id}: ${error.message}`);
      throw error;
    }
  });
}

/** A task as ARC JSON (only `input` and `output` in each pair); parseArcTask reads it back. */
export function arcTaskJson(task: PuzzleTask): string {
  const pairs = (list: GridPair[]) => list.map(({ input, output }) => ({ input, output }));
  return JSON.stringify({ train: pairs(task.train), test: pairs(task.test) });
}
