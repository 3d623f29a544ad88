/**
 * The independent units of a Table 1 round as plain data, so that a pool worker can run them as
 * well as this thread: sampling a puzzle's recipes, applying one recipe (test-time training and
 * the voted answer), and answering a puzzle in context.
 */
import type { Checkpoint } from '../../jobs';
import { generate } from '../../model/generate';
import { stopTokenIds, type TextGenerationModel } from '../../model/generateText';
import type { SealModel } from '../../seal/innerLoop';
import type { PuzzleTask } from '../grid';
import type { Recipe } from '../recipe';
import {
  answerPuzzle,
  applyRecipe,
  type PuzzleAnswer,
  type RecipeOutcome,
  type TestTimeTrainingSettings,
} from '../testTimeTraining';
import { PUZZLE_MARKERS } from '../text';
import type { Table1Config } from './config';

/** `count` recipe texts written after `prompt`, row i from its own stream of `seed`. */
export interface RecipeSampleTask {
  kind: 'recipe-sample';
  prompt: string;
  sampling: Table1Config['recipes'];
  seed: number;
  count: number;
}

export interface RecipeApplyTask {
  kind: 'recipe-apply';
  task: PuzzleTask;
  recipe: Recipe;
  settings: TestTimeTrainingSettings;
  seed: number;
}

/** The model answers the puzzle in context, with the same voting as after training. */
export interface PuzzleAnswerTask {
  kind: 'puzzle-answer';
  task: PuzzleTask;
  settings: Pick<TestTimeTrainingSettings, 'maxSide' | 'attempts'>;
}

export type PuzzleTaskSpec = RecipeSampleTask | RecipeApplyTask | PuzzleAnswerTask;

export interface PuzzleTaskResults {
  'recipe-sample': string[];
  'recipe-apply': RecipeOutcome;
  'puzzle-answer': PuzzleAnswer;
}

/**
 * The model as text generation sees it. Only the model's own end ids stop generation (not a
 * generation config's), so a pool worker, which has no generation config, gets the same text.
 */
function textModel(model: SealModel): TextGenerationModel {
  return { ...model, generationConfig: null, chatTemplate: model.chatTemplate ?? null };
}

async function sampleRecipeTexts(
  model: TextGenerationModel,
  task: RecipeSampleTask,
  checkpoint: Checkpoint | undefined,
): Promise<string[]> {
  const prompt = model.tokenizer.encode(task.prompt);
  const result = await generate(
    model,
    Array.from({ length: task.count }, () => prompt),
    {
      maxNewTokens: task.sampling.maxNewTokens,
      sampling: {
        temperature: task.sampling.temperature,
        topK: 0,
        topP: task.sampling.topP,
        seed: task.seed,
      },
      stopTokenIds: stopTokenIds(model, { atDocumentStart: true }),
      stopStrings: [PUZZLE_MARKERS.end],
      decode: (ids) => model.tokenizer.decode(ids),
      checkpoint,
    },
  );
  return result.sequences.map((sequence) => sequence.text);
}

export function runPuzzleTask(
  model: SealModel,
  task: PuzzleTaskSpec,
  checkpoint: Checkpoint | undefined,
): Promise<PuzzleTaskResults[PuzzleTaskSpec['kind']]> {
  const text = textModel(model);
  switch (task.kind) {
    case 'recipe-sample':
      return sampleRecipeTexts(text, task, checkpoint);
    case 'recipe-apply':
      return applyRecipe(text, task.task, task.recipe, task.settings, task.seed, checkpoint);
    case 'puzzle-answer':
      return answerPuzzle(text, task.task, task.settings, undefined, checkpoint);
  }
}
