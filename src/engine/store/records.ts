/**
 * The record formats the store keeps and exchanges, as valibot schemas: every record written
 * through the store API or read from an imported file is checked against them first, so a bad
 * value is reported with the field that is wrong and nothing is stored. Types derive from them.
 * docs/formats.md describes the same formats for people.
 */
import * as v from 'valibot';
import { MAX_TEST_PAIRS, MAX_TRAIN_PAIRS } from '../puzzles/arc';
import { gridProblem, type Grid } from '../puzzles/grid';
import { parseOrThrow } from '../validation';

/** Longest text field kept (a passage, a prompt, a self-edit), in characters. */
export const MAX_TEXT_LENGTH = 1_000_000;
/** Longest list kept in one field (loss curve points, examples, questions). */
export const MAX_LIST_LENGTH = 100_000;
/** Longest status message a run keeps, in characters. */
export const MAX_STATUS_LENGTH = 1000;
/** Largest serialized `config` kept, in characters of JSON. */
export const MAX_CONFIG_LENGTH = 1_000_000;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isJson(value: unknown, depth = 0): value is Json {
  if (depth > 64) return false;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every((item) => isJson(item, depth + 1));
  }
  return false;
}

export const JsonSchema = v.pipe(
  v.custom<Json>(
    (value) => isJson(value),
    'must be plain JSON data (finite numbers, strings, booleans, null, arrays, objects)',
  ),
  v.check(
    (value) => JSON.stringify(value).length <= MAX_CONFIG_LENGTH,
    `must be at most ${MAX_CONFIG_LENGTH} characters as JSON`,
  ),
);

/** A fresh id: when it was made, then random characters so that two tabs never collide. */
export function newId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Ids name records and, in an export, folders: letters, digits, '.', '_' and '-', starting with a
 * letter or digit, so that no id can be read as a path ('../x', 'a/b', '') or be unreasonably long.
 */
export const IdSchema = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    'must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit',
  ),
  v.check((id) => !id.includes('..'), 'must not contain ".."'),
);

/** Tensor names as safetensors files use them, e.g. `model.layers.0.self_attn.q_proj.weight`. */
export const TensorNameSchema = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$/,
    'must be 1–300 letters, digits, ".", "_" or "-" (no slashes or spaces)',
  ),
);

const TextSchema = v.pipe(
  v.string(),
  v.maxLength(MAX_TEXT_LENGTH, `must be at most ${MAX_TEXT_LENGTH} characters`),
);
export const ShortTextSchema = v.pipe(
  v.string(),
  v.maxLength(1000, 'must be at most 1000 characters'),
);
/** The longest name a run can be given (names stored earlier may be longer, up to 1000). */
export const MAX_RUN_NAME_LENGTH = 200;
/** A name given to a run: spaces at either end are dropped, and something must be left. */
export const RunNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.nonEmpty('must not be empty'),
  v.maxLength(MAX_RUN_NAME_LENGTH, `must be at most ${MAX_RUN_NAME_LENGTH} characters`),
);
export const CountSchema = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31));
const TimeSchema = v.pipe(v.number(), v.integer(), v.minValue(0));
const FiniteSchema = v.pipe(v.number(), v.finite());
const NumberMapSchema = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(100)), FiniteSchema),
  v.check((map) => Object.keys(map).length <= 1000, 'must have at most 1000 entries'),
);
const listOf = <T extends v.GenericSchema>(item: T) =>
  v.pipe(v.array(item), v.maxLength(MAX_LIST_LENGTH, `must have at most ${MAX_LIST_LENGTH} items`));

export const RUN_STATUSES = ['running', 'paused', 'done', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Where a run stands: the position of the next episode it will run. */
export const RunPositionSchema = v.strictObject({
  round: CountSchema,
  contextIndex: CountSchema,
  sampleIndex: CountSchema,
});
export type RunPosition = v.InferOutput<typeof RunPositionSchema>;

export const RunSchema = v.strictObject({
  schemaVersion: v.literal(2),
  id: IdSchema,
  /** 'seal', 'finetune' or the name of an experiment. */
  kind: IdSchema,
  name: ShortTextSchema,
  config: JsonSchema,
  seeds: NumberMapSchema,
  datasetIds: listOf(IdSchema),
  status: v.picklist(RUN_STATUSES),
  /** Why the run stopped, when it did not finish (a full disk, an error). */
  statusMessage: v.nullable(
    v.pipe(
      v.string(),
      v.maxLength(MAX_STATUS_LENGTH, `must be at most ${MAX_STATUS_LENGTH} characters`),
    ),
  ),
  progress: RunPositionSchema,
  episodeCount: CountSchema,
  /** Approximate bytes of the run's episodes (JSON characters). */
  storedBytes: CountSchema,
  createdAt: TimeSchema,
  updatedAt: TimeSchema,
});
export type RunRecord = v.InferOutput<typeof RunSchema>;

export const NewRunSchema = v.strictObject({
  id: v.optional(IdSchema),
  kind: IdSchema,
  name: v.optional(ShortTextSchema),
  config: JsonSchema,
  seeds: NumberMapSchema,
  datasetIds: listOf(IdSchema),
});
export type NewRun = v.InferInput<typeof NewRunSchema>;

/**
 * What an episode measured: a held-out evaluation of one condition, a training self-edit of the
 * E-step, or a second evaluation of a training self-edit's reward with other seeds (how reliably
 * the reward ranks self-edits). In the puzzle experiment: a recipe of the E-step, sampled for a
 * training puzzle and applied ('recipe'), or a held-out puzzle evaluated under one condition
 * ('puzzle-eval').
 */
export const EPISODE_KINDS = [
  'held-out',
  'self-edit',
  'reward-check',
  'recipe',
  'puzzle-eval',
] as const;
export type EpisodeKind = (typeof EPISODE_KINDS)[number];

/**
 * What a held-out evaluation trains on before asking a context's questions: nothing, the passage,
 * the passage and a self-edit of the generator, the passage and a teacher's self-edit written from
 * the world's facts, or the passage and the generator's self-edit applied to the base model.
 */
export const EVALUATION_CONDITIONS = [
  'base',
  'passage',
  'self-edit',
  'teacher',
  'self-edit-on-base',
] as const;
export type EvaluationCondition = (typeof EVALUATION_CONDITIONS)[number];

/**
 * How a held-out puzzle is answered: in context ('icl'), after test-time training with a recipe
 * sampled from the model before any RL ('ttt_untrained') or after RL ('seal', the round saying
 * which), or with the one fixed hand-tuned recipe ('oracle').
 */
export const PUZZLE_CONDITIONS = ['icl', 'ttt_untrained', 'seal', 'oracle'] as const;
export type PuzzleCondition = (typeof PUZZLE_CONDITIONS)[number];

/**
 * What became of a puzzle episode's self-edit: no valid recipe in the allowed samples
 * ('invalid'), a recipe over the step budget, discarded ('over-budget'), a recipe trained on
 * ('applied'), or no self-edit at all (in-context answering, 'in-context').
 */
export const PUZZLE_STATUSES = ['invalid', 'over-budget', 'applied', 'in-context'] as const;
export type PuzzleStatus = (typeof PUZZLE_STATUSES)[number];

/** A grid as a model wrote it: digits in rows, not necessarily a valid grid (see GridSchema). */
const WrittenGridSchema = v.pipe(
  v.array(
    v.pipe(
      v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(9))),
      v.maxLength(100),
    ),
  ),
  v.maxLength(100),
);

export const PuzzleEpisodeSchema = v.strictObject({
  condition: v.optional(v.picklist(PUZZLE_CONDITIONS)),
  status: v.picklist(PUZZLE_STATUSES),
  /** Every sampled recipe text, with why it was refused (null: the one accepted). */
  samples: listOf(v.strictObject({ text: TextSchema, reason: v.nullable(ShortTextSchema) })),
  /** Test-time training examples and optimizer steps (those the recipe asked for when over budget). */
  examples: CountSchema,
  steps: CountSchema,
  /** The voting: each augmentation's answer and the answer undone, then the attempts graded. */
  ballots: listOf(
    v.strictObject({
      augmentation: ShortTextSchema,
      prediction: v.nullable(WrittenGridSchema),
      undone: v.nullable(WrittenGridSchema),
    }),
  ),
  attempts: listOf(WrittenGridSchema),
  solved: v.boolean(),
});
export type PuzzleEpisode = v.InferOutput<typeof PuzzleEpisodeSchema>;

export const EpisodeSchema = v.strictObject({
  schemaVersion: v.literal(2),
  runId: IdSchema,
  round: CountSchema,
  contextIndex: CountSchema,
  /** The passage's id in its dataset. */
  contextId: ShortTextSchema,
  sampleIndex: CountSchema,
  prompt: TextSchema,
  selfEdit: TextSchema,
  /** The training examples the self-edit was split into. */
  parsedExamples: listOf(TextSchema),
  /** Training loss after each inner-loop step. */
  lossCurve: listOf(FiniteSchema),
  /** The adapted model's answer to each of the passage's questions, in order. */
  answers: listOf(TextSchema),
  /** Grade of each answer, 0 (wrong) to 1 (right). */
  grades: listOf(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  reward: FiniteSchema,
  seeds: NumberMapSchema,
  /** Milliseconds spent per phase, e.g. generate, train, grade. */
  timings: NumberMapSchema,
  /** The checkpoint holding this episode's adapter, when it was kept. */
  adapterId: v.nullable(IdSchema),
  /** Absent in episodes stored before it was recorded: their contextId says it instead. */
  kind: v.optional(v.picklist(EPISODE_KINDS)),
  /** Held-out evaluations: what was trained on. */
  condition: v.optional(v.picklist(EVALUATION_CONDITIONS)),
  /** Held-out evaluations: which of a context's independent draws (samples and seeds) this is. */
  draw: v.optional(CountSchema),
  /** Diagnostics, e.g. the self-edit's lines and how many agree with the world's facts. */
  metrics: v.optional(NumberMapSchema),
  /** Puzzle episodes ('recipe', 'puzzle-eval'): the recipe's fate, the vote and the verdict. */
  puzzle: v.optional(PuzzleEpisodeSchema),
  createdAt: TimeSchema,
});
export type EpisodeRecord = v.InferOutput<typeof EpisodeSchema>;

export const NewEpisodeSchema = v.omit(EpisodeSchema, ['schemaVersion', 'createdAt']);
export type NewEpisode = v.InferInput<typeof NewEpisodeSchema>;

export const DTYPES = ['float32'] as const;

export const TensorInfoSchema = v.strictObject({
  name: TensorNameSchema,
  dtype: v.picklist(DTYPES),
  shape: v.pipe(v.array(CountSchema), v.maxLength(8, 'must have at most 8 dimensions')),
});
export type TensorInfo = v.InferOutput<typeof TensorInfoSchema>;

export const CHECKPOINT_KINDS = ['adapter', 'full'] as const;

export const CheckpointSchema = v.strictObject({
  schemaVersion: v.literal(2),
  id: IdSchema,
  name: ShortTextSchema,
  /** 'adapter': LoRA weights whose config is a PEFT adapter_config.json; 'full': all weights. */
  kind: v.picklist(CHECKPOINT_KINDS),
  runId: v.nullable(IdSchema),
  round: v.nullable(CountSchema),
  /** The checkpoint this one was trained from. */
  parentId: v.nullable(IdSchema),
  config: JsonSchema,
  tensors: v.pipe(v.array(TensorInfoSchema), v.maxLength(100_000)),
  sizeBytes: CountSchema,
  createdAt: TimeSchema,
});
export type CheckpointRecord = v.InferOutput<typeof CheckpointSchema>;

export const PassageSchema = v.strictObject({
  id: ShortTextSchema,
  title: ShortTextSchema,
  context: TextSchema,
  questions: listOf(v.strictObject({ question: TextSchema, answer: TextSchema })),
});
export type Passage = v.InferOutput<typeof PassageSchema>;

export const DATASET_SOURCES = ['seal-json', 'squad-v1', 'jsonl'] as const;

export const DatasetSchema = v.strictObject({
  schemaVersion: v.literal(2),
  id: IdSchema,
  name: ShortTextSchema,
  /** The file layout it was imported from. */
  source: v.picklist(DATASET_SOURCES),
  passages: listOf(PassageSchema),
  sizeBytes: CountSchema,
  createdAt: TimeSchema,
});
export type DatasetRecord = v.InferOutput<typeof DatasetSchema>;

const GridSchema = v.custom<Grid>(
  (value) => gridProblem(value) === null,
  (issue) => gridProblem(issue.input) ?? 'not a grid',
);
const GridPairSchema = v.strictObject({ input: GridSchema, output: GridSchema });
const pairListOf = (max: number) =>
  v.pipe(
    v.array(GridPairSchema),
    v.minLength(1),
    v.maxLength(max, `must have at most ${max} pairs`),
  );

/** A puzzle task imported from an ARC JSON file. */
export const PuzzleTaskSchema = v.strictObject({
  schemaVersion: v.literal(2),
  id: IdSchema,
  /** The task's id in its file (an ARC task's key, or the file's name for a one-task file). */
  name: ShortTextSchema,
  fileName: ShortTextSchema,
  task: v.strictObject({
    train: pairListOf(MAX_TRAIN_PAIRS),
    test: pairListOf(MAX_TEST_PAIRS),
  }),
  createdAt: TimeSchema,
});
export type PuzzleTaskRecord = v.InferOutput<typeof PuzzleTaskSchema>;

/** The offending field, if any, and what is wrong with it. */
function fieldProblem(issue: v.BaseIssue<unknown>): string {
  const path = v.getDotPath(issue);
  const problem =
    issue.kind === 'schema' && issue.received === 'undefined'
      ? 'missing'
      : issue.kind === 'schema' && issue.expected
        ? `expected ${issue.expected}, got ${issue.received}`
        : issue.message.replace(/^Invalid \w+: /, '');
  return path ? `${path}: ${problem}` : problem;
}

/** Parses `value` as `schema` or throws an error naming `where` and the offending field. */
export function validate<T extends v.GenericSchema>(
  schema: T,
  value: unknown,
  where: string,
): v.InferOutput<T> {
  return parseOrThrow(schema, value, where, fieldProblem);
}
