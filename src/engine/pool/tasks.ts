/**
 * The independent units of a SEAL round as plain data (JSON values only), so they can be handed
 * to another thread: sampling a context's self-edits, probing the unadapted model, and applying
 * one self-edit; and those of the puzzle experiment (puzzles/experiment/tasks.ts).
 * `runSealTask` runs one on a model in this thread.
 */
import type { Checkpoint } from '../jobs';
import type { Passage } from '../store';
import type { SealConfig } from '../seal/config';
import {
  applyTrainingTexts,
  probeClosedBook,
  type AppliedSelfEdit,
  type Probe,
  type QuestionAnswer,
  type SealModel,
} from '../seal/innerLoop';
import { sampleSelfEdits, type SampledSelfEdit } from '../seal/sampleSelfEdits';
import {
  runPuzzleTask,
  type PuzzleTaskResults,
  type PuzzleTaskSpec,
} from '../puzzles/experiment/tasks';

/** `count` self-edits of one passage, drawn from the model with `seed`. */
export interface SampleTask {
  kind: 'sample';
  config: Pick<SealConfig, 'selfEdit' | 'format' | 'customPrompt' | 'promptStyle'>;
  passage: Pick<Passage, 'title' | 'context'>;
  seed: number;
  count: number;
}

/** The unadapted model's closed-book answers to `questions`. */
export interface ProbeTask {
  kind: 'probe';
  questions: QuestionAnswer[];
  config: Pick<SealConfig, 'grading' | 'promptStyle'>;
}

/** A fresh LoRA per seed fine-tuned on `texts`, probed on `questions` and rewarded against `before`. */
export interface ApplyTask {
  kind: 'apply';
  texts: string[];
  questions: QuestionAnswer[];
  config: Pick<SealConfig, 'inner' | 'grading' | 'reward' | 'promptStyle'>;
  before: Probe | null;
  loraSeeds: number[];
}

export type SealTask = SampleTask | ProbeTask | ApplyTask | PuzzleTaskSpec;

interface ResultOfKind extends PuzzleTaskResults {
  sample: SampledSelfEdit[];
  probe: Probe;
  apply: AppliedSelfEdit;
}

export type SealTaskResult<T extends SealTask> = ResultOfKind[T['kind']];

export async function runSealTask<T extends SealTask>(
  model: SealModel,
  task: T,
  checkpoint?: Checkpoint,
): Promise<SealTaskResult<T>> {
  return (await runAnyTask(model, task, checkpoint)) as SealTaskResult<T>;
}

function runAnyTask(
  model: SealModel,
  task: SealTask,
  checkpoint: Checkpoint | undefined,
): Promise<SealTaskResult<SealTask>> {
  switch (task.kind) {
    case 'sample':
      return sampleSelfEdits(model, task.config, task.passage, task.seed, task.count, checkpoint);
    case 'probe':
      return probeClosedBook(model, task.questions, task.config, undefined, checkpoint);
    case 'apply':
      return applyTrainingTexts(
        model,
        task.texts,
        task.questions,
        task.config,
        task.before,
        task.loraSeeds,
        { checkpoint },
      );
    case 'recipe-sample':
    case 'recipe-apply':
    case 'puzzle-answer':
      return runPuzzleTask(model, task, checkpoint);
    default:
      throw new Error(`unknown task kind '${String((task as { kind: unknown }).kind)}'`);
  }
}
