/**
 * The engine's puzzle calls: the seeded world's tasks to browse, ARC files imported into the
 * store, and one task tried on the loaded model, in context or after test-time training with a
 * recipe. Trying runs as the model's one job, cancellable; every tensor it makes is freed.
 */
import type { JobRegistry } from '../jobs';
import type { LoadedModel, ModelSession } from '../model/session';
import type { PuzzleTaskRecord, SealStore } from '../store';
import type { TrainingProgress } from '../train/sft';
import type { PuzzleTask } from './grid';
import type { Recipe } from './recipe';
import {
  applyRecipe,
  answerPuzzle,
  type PuzzleAnswer,
  type RecipeOutcome,
} from './testTimeTraining';
import { PUZZLE_MARKERS, puzzlePrompt } from './text';
import { tinyPuzzleModel } from './tinyModel';
import { recipeCost, tryoutSettings } from './tryout';
import { DEFAULT_PUZZLE_WORLD_PARAMS, generatePuzzleWorld, type PuzzleSplit } from './world';

/** A task of the seeded world as the browser shows it. */
export interface WorldTaskView {
  id: string;
  split: BrowsableSplit;
  /** The rule in words, e.g. "rotate the grid a quarter turn clockwise, then …". */
  rule: string;
  task: PuzzleTask;
}

/** Splits a person may browse: pretraining's tasks are many and only teach the model. */
export type BrowsableSplit = Exclude<PuzzleSplit, 'pretrain'>;

export interface ApplyRecipeRequest {
  task: PuzzleTask;
  recipe: Recipe;
  /** Drives the training examples, their order and the adapter's initialisation. */
  seed: number;
}

export type RecipeEvent =
  /** Before training: how many examples and optimizer steps the recipe makes of the task. */
  | { type: 'planned'; exampleCount: number; steps: number; maxSteps: number }
  /** Training is done; the adapted model answers next. */
  | { type: 'trained'; losses: number[] };

export interface PuzzleApi {
  /** The tasks of the world of `worldSeed` in `splits`, in split order. */
  listWorldTasks(worldSeed: number, splits: BrowsableSplit[]): Promise<WorldTaskView[]>;
  /**
   * Reads an ARC JSON file (one task, or an object of tasks by id) and stores its tasks; an error
   * says in plain words what is wrong and nothing is stored.
   */
  importArcFile(fileName: string, text: string): Promise<PuzzleTaskRecord[]>;
  storedTasks(): Promise<PuzzleTaskRecord[]>;
  deleteTask(id: string): Promise<void>;
  /** Why the loaded model cannot try puzzles (none loaded, or it does not read grids), or null. */
  modelProblem(): Promise<string | null>;
  /** Replaces the loaded model with the tiny puzzle model (random weights); returns its id. */
  loadTinyModel(seed: number): Promise<string>;
  /** The loaded model answers the task's test input as it is, with augmentation voting. */
  answerInContext(jobId: string, task: PuzzleTask): Promise<PuzzleAnswer>;
  /** Test-time training as the recipe says on a fresh LoRA, then the voted answer. */
  applyRecipe(
    jobId: string,
    request: ApplyRecipeRequest,
    onEvent?: (event: RecipeEvent) => void,
  ): Promise<RecipeOutcome>;
}

/** A tiny puzzle with every marker, row breaks and a blank line between its parts. */
const PROBE_PROMPT = puzzlePrompt(
  [
    {
      input: [
        [0, 1],
        [2, 3],
      ],
      output: [[4, 5, 6, 7]],
    },
  ],
  [[8, 9]],
);
const MARKER_WORDS = new Set<string>(Object.values(PUZZLE_MARKERS));

/**
 * Whether the model's tokenizer reads a puzzle as the puzzle model does: one token per cell, per
 * row break and per marker. A model that merges digits or blank lines was not made for puzzles.
 */
export function readsGridsByCell(model: Pick<LoadedModel, 'tokenizer'>): boolean {
  const lines = PROBE_PROMPT.split('\n');
  const expected =
    lines.length -
    1 +
    lines.reduce((sum, line) => sum + (MARKER_WORDS.has(line) ? 1 : line.length), 0);
  return model.tokenizer.encode(PROBE_PROMPT, { addSpecialTokens: false }).length === expected;
}

const modelProblemOf = (model: LoadedModel | null): string | null => {
  if (model === null) return 'No model is loaded: a puzzle model is needed.';
  if (!readsGridsByCell(model)) {
    return `${model.id} does not read grids cell by cell: a puzzle model is needed.`;
  }
  return null;
};

export function createPuzzleService(
  store: SealStore,
  jobs: JobRegistry,
  session: ModelSession,
): PuzzleApi {
  const requirePuzzleModel = (): LoadedModel => {
    const model = session.current();
    const problem = modelProblemOf(model);
    if (problem !== null) throw new Error(problem);
    return model!;
  };

  return {
    async listWorldTasks(worldSeed, splits) {
      // Tasks draw from streams forked by split and index, so leaving out the pretraining split
      // (most of the world's generation time) leaves the other splits' tasks as they are.
      const counts = { ...DEFAULT_PUZZLE_WORLD_PARAMS.counts, pretrain: 0 };
      const world = generatePuzzleWorld({ seed: worldSeed, counts });
      const shown = (split: PuzzleSplit): split is BrowsableSplit =>
        (splits as PuzzleSplit[]).includes(split);
      return world.tasks.flatMap(({ id, split, rule, task }) =>
        shown(split) ? [{ id, split, rule: rule.description, task }] : [],
      );
    },

    async importArcFile(fileName, text) {
      return store.importPuzzleTasks(fileName, text);
    },

    async storedTasks() {
      return store.listPuzzleTasks();
    },

    async deleteTask(id) {
      await store.deletePuzzleTask(id);
    },

    async modelProblem() {
      return modelProblemOf(session.current());
    },

    async loadTinyModel(seed) {
      jobs.assertModelFree('Loading the tiny puzzle model');
      const model = tinyPuzzleModel(seed);
      session.replace(model);
      return model.id;
    },

    async answerInContext(jobId, task) {
      return jobs.runOnModel(jobId, 'answering a puzzle', (checkpoint) =>
        answerPuzzle(requirePuzzleModel(), task, tryoutSettings(task), undefined, checkpoint),
      );
    },

    async applyRecipe(jobId, { task, recipe, seed }, onEvent) {
      return jobs.runOnModel(jobId, 'test-time training', (checkpoint) => {
        const model = requirePuzzleModel();
        const { exampleCount, steps, maxSteps } = recipeCost(task, recipe, seed);
        onEvent?.({ type: 'planned', exampleCount, steps, maxSteps });
        const losses: number[] = [];
        const onProgress = (progress: TrainingProgress) => {
          losses.push(progress.loss);
          if (progress.step === progress.totalSteps) onEvent?.({ type: 'trained', losses });
        };
        return applyRecipe(model, task, recipe, tryoutSettings(task), seed, checkpoint, onProgress);
      });
    },
  };
}
