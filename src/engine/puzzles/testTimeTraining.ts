/**
 * Applying a recipe: test-time training on one puzzle. The demonstrations are turned into the
 * leave-one-out tasks the recipe asks for, a fresh LoRA is fine-tuned on them with a cosine
 * schedule, and the adapted model answers the test input under the square's eight symmetries; the
 * answers, undone, vote for two attempts. Without a recipe the same voting on the model as it is
 * measures in-context learning, so the two differ only by the update.
 */
import type { Checkpoint } from '../jobs';
import { generate } from '../model/generate';
import { GREEDY } from '../model/sampling';
import { stopTokenIds, type TextGenerationModel } from '../model/generateText';
import { tokenizeExamples } from '../train/dataset';
import { withFreshLora, type LoraAdapter, type LoraSettings } from '../train/lora';
import { DEFAULT_SFT_OPTIONS, trainSft, type TrainingProgress } from '../train/sft';
import { augmentPair, augmentationsForTask, type GridAugmentation } from './augment';
import type { Grid, PuzzleTask } from './grid';
import type { Recipe } from './recipe';
import {
  PUZZLE_EXAMPLES_LOSS_ON,
  PUZZLE_MARKERS,
  parseGridAnswer,
  puzzlePrompt,
  puzzleTrainingExample,
} from './text';
import { recipeCostUnder, tttExamples, tttOptions } from './ttt';
import { solved, voteOnAnswer, type Vote } from './vote';

export interface TestTimeTrainingSettings {
  lora: LoraSettings;
  batchSize: number;
  /** Recipes that would take more optimizer steps are discarded, as the paper's 375-step cap. */
  maxSteps: number;
  /** Largest grid side an augmentation may produce. */
  maxSide: number;
  leaveTwoOut: boolean;
  /** Extra colour-permuted copies of each training example. */
  colourPermutations: number;
  /** Answers graded: the most-voted this many. */
  attempts: number;
}

/** How a model answers a puzzle's test input: the vote and whether an attempt is right. */
export interface PuzzleAnswer {
  vote: Vote;
  solved: boolean;
  answerMs: number;
}

export type RecipeOutcome =
  | { status: 'over-budget'; exampleCount: number; steps: number }
  | ({
      status: 'applied';
      exampleCount: number;
      steps: number;
      /** Training loss of every optimizer step. */
      losses: number[];
      trainMs: number;
    } & PuzzleAnswer);

/** The voting set at inference: the square's symmetries that keep the task's grids in bounds. */
function votingAugmentations(task: PuzzleTask, maxSide: number): GridAugmentation[] {
  return augmentationsForTask(
    { basic: true, size: false, chain: false, repeat: false },
    task,
    maxSide,
  );
}

/** Enough new tokens for the largest grid the task allows, its row breaks and the end marker. */
function answerTokenBudget(maxSide: number): number {
  return maxSide * (maxSide + 1) + PUZZLE_MARKERS.end.length + 2;
}

/**
 * The model (with `adapter` when given) answers the task's first test input under every voting
 * augmentation, all in one batch; the undone answers vote.
 */
export async function answerPuzzle(
  model: TextGenerationModel,
  task: PuzzleTask,
  settings: Pick<TestTimeTrainingSettings, 'maxSide' | 'attempts'>,
  adapter?: LoraAdapter,
  checkpoint?: Checkpoint,
): Promise<PuzzleAnswer> {
  const test = task.test[0];
  if (!test) throw new Error('a puzzle needs a test input to answer');
  const start = performance.now();
  const augmentations = votingAugmentations(task, settings.maxSide);
  const prompts = augmentations.map((augmentation) =>
    model.tokenizer.encode(
      puzzlePrompt(
        task.train.map((pair) => augmentPair(pair, augmentation)),
        augmentation.apply(test.input),
      ),
    ),
  );
  const generated = await generate(model, prompts, {
    maxNewTokens: answerTokenBudget(settings.maxSide),
    sampling: GREEDY,
    stopTokenIds: stopTokenIds(model, { atDocumentStart: true }),
    stopStrings: [PUZZLE_MARKERS.end],
    decode: (ids) => model.tokenizer.decode(ids),
    adapter,
    checkpoint,
  });
  const predictions = new Map<string, Grid | null>(
    augmentations.map((augmentation, i) => [
      augmentation.name,
      parseGridAnswer(generated.sequences[i]!.text),
    ]),
  );
  const vote = await voteOnAnswer(
    test.input,
    augmentations,
    (_, name) => Promise.resolve(predictions.get(name) ?? null),
    settings.attempts,
  );
  return { vote, solved: solved(vote.attempts, test.output), answerMs: performance.now() - start };
}

/**
 * Test-time training as `recipe` says, from `seed` (examples, their order and the LoRA's
 * initialisation), then the voted answer. Only the demonstrations are trained on. `onProgress`
 * hears every step's loss once training is done (losses are read back once, at the end).
 */
export async function applyRecipe(
  model: TextGenerationModel,
  task: PuzzleTask,
  recipe: Recipe,
  settings: TestTimeTrainingSettings,
  seed: number,
  checkpoint?: Checkpoint,
  onProgress?: (progress: TrainingProgress) => void,
): Promise<RecipeOutcome> {
  const cost = recipeCostUnder(settings, task, recipe, seed);
  const { exampleCount, steps } = cost;
  if (!cost.withinBudget) return { status: 'over-budget', exampleCount, steps };
  const examples = tttExamples({ train: task.train, test: [] }, recipe, tttOptions(settings, seed));
  const { sequences } = tokenizeExamples(
    examples.map((example) =>
      puzzleTrainingExample(example.demonstrations, example.query, recipe.loss),
    ),
    model.tokenizer,
    {
      lossOn: PUZZLE_EXAMPLES_LOSS_ON,
      maxLength: model.config.maxPositionEmbeddings,
      overflow: 'truncate',
    },
  );
  return withFreshLora(model.weights, settings.lora, seed, async (adapter) => {
    const trainStart = performance.now();
    const trained = await trainSft(
      model,
      sequences,
      { kind: 'lora', adapter },
      {
        ...DEFAULT_SFT_OPTIONS,
        epochs: recipe.epochs,
        batchSize: settings.batchSize,
        learningRate: recipe.learningRate,
        schedule: 'cosine',
        seed,
        reportEvery: Number.MAX_SAFE_INTEGER,
      },
      { checkpoint, onProgress },
    );
    const trainMs = performance.now() - trainStart;
    const answer = await answerPuzzle(model, task, settings, adapter, checkpoint);
    return {
      status: 'applied',
      exampleCount,
      steps: trained.steps,
      losses: trained.losses,
      trainMs,
      ...answer,
    };
  });
}
