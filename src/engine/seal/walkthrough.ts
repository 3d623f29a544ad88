/**
 * One SEAL episode, step by step, for the guided walkthrough: read a validation passage of the
 * synthetic world, write one self-edit (each line checked against the world's facts), fine-tune a
 * fresh LoRA on it, ask the passage's questions closed book before and after the update, and
 * reward the self-edit as a run would. Each step is real computation with the run's settings;
 * every random choice derives from the walkthrough's seed.
 */
import type { Checkpoint } from '../jobs';
import { createRandom } from '../random';
import type { Passage } from '../store';
import { withFreshLora, type LoraSettings } from '../train/lora';
import type { LineVerdict } from '../world';
import { selfEditPromptOf, type RewardMode, type SealConfig } from './config';
import type { SealContexts } from './contexts';
import { goldAnswerProbabilities } from './goldAnswer';
import {
  probeClosedBook,
  promptText,
  rewardOf,
  trainOnTexts,
  type Probe,
  type ProbeScore,
  type SealModel,
} from './innerLoop';
import { seedOf, STREAM } from './plan';
import { sampleSelfEdits } from './sampleSelfEdits';
import { selfEditLines, selfEditTrainingTexts } from './selfEdit';

export interface WalkthroughRequest {
  /** Seed of the synthetic world whose validation contexts the passage comes from. */
  worldSeed: number;
  /** Picks the passage and seeds the self-edit's sampling and the LoRA's initial weights. */
  seed: number;
  /**
   * Overrides of the SEAL settings (`engine.seal.defaults()`); the episode uses their self-edit,
   * inner-loop, grading and reward settings.
   */
  config?: unknown;
}

/** The passage read: a validation context, never one of the evaluation contexts results report. */
export interface WalkthroughPassage extends Passage {
  split: 'validation';
  /** Its place among the world's validation contexts (0-based), and how many there are. */
  index: number;
  count: number;
  worldSeed: number;
}

/** A self-edit line and what the world's fact checker says of it. */
export interface MarkedLine {
  text: string;
  verdict: LineVerdict;
}

export interface WalkthroughSelfEdit {
  /** The prompt the model continued. */
  prompt: string;
  text: string;
  /** Whether the token limit cut it short (its unfinished last line is dropped). */
  truncated: boolean;
  lines: MarkedLine[];
  /** What the LoRA is fine-tuned on: each line under the passage's title, then the passage. */
  trainingTexts: string[];
}

/** One closed-book answer, its grade, and the gold answer's probability (0–1). */
export interface AnswerSide {
  answer: string;
  grade: number;
  goldProbability: number;
}

export interface QuestionOutcome {
  question: string;
  gold: string;
  before: AnswerSide;
  after: AnswerSide;
}

export interface WalkthroughUpdate {
  /** Training loss of every optimizer step. */
  losses: number[];
  finetune: {
    lora: LoraSettings;
    epochs: number;
    learningRate: number;
    examples: number;
    trainMs: number;
  };
  questions: QuestionOutcome[];
  /** The model's scores without the update and with it. */
  before: ProbeScore;
  after: ProbeScore;
  reward: { mode: RewardMode; value: number; metric: SealConfig['grading']['metric'] };
}

export type WalkthroughEvent =
  /** The self-edit as written so far. */
  | { type: 'self-edit-text'; text: string }
  | { type: 'loss'; step: number; totalSteps: number; loss: number }
  /** Fine-tuning is done; the model answers before and after the update. */
  | { type: 'answering' };

export interface WalkthroughHooks {
  checkpoint?: Checkpoint;
  onEvent?: (event: WalkthroughEvent) => void;
}

/** The world's validation passage the seed picks. */
export function walkthroughPassage(
  validation: SealContexts,
  request: Pick<WalkthroughRequest, 'seed' | 'worldSeed'>,
): WalkthroughPassage {
  const count = validation.heldOut.length;
  if (count === 0) throw new Error(`world ${request.worldSeed} has no validation contexts`);
  const random = createRandom(seedOf(request.seed, STREAM.walkthroughPassage));
  const index = Math.floor(random() * count);
  return {
    ...validation.heldOut[index]!,
    split: 'validation',
    index,
    count,
    worldSeed: request.worldSeed,
  };
}

/** The model writes one self-edit of the passage; the world's fact checker marks its lines. */
export async function writeWalkthroughSelfEdit(
  model: SealModel,
  config: SealConfig,
  passage: WalkthroughPassage,
  validation: SealContexts,
  seed: number,
  { checkpoint, onEvent }: WalkthroughHooks = {},
): Promise<WalkthroughSelfEdit> {
  const [sampled] = await sampleSelfEdits(
    model,
    config,
    passage,
    seedOf(seed, STREAM.walkthroughSelfEdit),
    1,
    checkpoint,
    (step) => onEvent?.({ type: 'self-edit-text', text: step.texts[0] ?? '' }),
  );
  const { text, truncated } = sampled!;
  const world = validation.world;
  return {
    prompt: promptText(
      model,
      config.promptStyle,
      selfEditPromptOf(config, passage.title, passage.context),
    ),
    text,
    truncated,
    lines: selfEditLines(config.format, text).map((line) => ({
      text: line,
      verdict: world ? world.checkLine(passage, line) : 'unverifiable',
    })),
    trainingTexts: selfEditTrainingTexts(config.format, passage.title, passage.context, text),
  };
}

function sides(probe: Probe, probabilities: number[]): AnswerSide[] {
  return probe.answers.map((answer, i) => ({
    answer,
    grade: probe.grades[i]!,
    goldProbability: probabilities[i]!,
  }));
}

/**
 * Fine-tunes a fresh LoRA on the self-edit as the inner loop does (one seed), then asks the
 * passage's questions closed book without and with it, and rewards the self-edit.
 */
export async function applyWalkthroughSelfEdit(
  model: SealModel,
  config: SealConfig,
  passage: WalkthroughPassage,
  selfEdit: string,
  seed: number,
  { checkpoint, onEvent }: WalkthroughHooks = {},
): Promise<WalkthroughUpdate> {
  const { inner } = config;
  const texts = selfEditTrainingTexts(config.format, passage.title, passage.context, selfEdit);
  const questions = passage.questions.slice(0, config.grading.maxQuestions ?? undefined);
  const loraSeed = seedOf(seed, STREAM.walkthroughLora);
  return withFreshLora(model.weights, inner.lora, loraSeed, async (adapter) => {
    const trained = await trainOnTexts(
      model,
      adapter,
      texts,
      inner,
      // Every step's loss, for the live chart.
      { seed: loraSeed, reportEvery: 1 },
      {
        checkpoint,
        onProgress: ({ step, totalSteps, loss }) =>
          onEvent?.({ type: 'loss', step, totalSteps, loss }),
      },
    );
    onEvent?.({ type: 'answering' });
    const before = await probeClosedBook(model, questions, config, undefined, checkpoint);
    const after = await probeClosedBook(model, questions, config, adapter, checkpoint);
    const beforeProbabilities = await goldAnswerProbabilities(model, questions, config);
    const afterProbabilities = await goldAnswerProbabilities(model, questions, config, adapter);
    const [beforeSides, afterSides] = [
      sides(before, beforeProbabilities),
      sides(after, afterProbabilities),
    ];
    const score = ({ accuracy, goldLogLikelihood }: Probe): ProbeScore => ({
      accuracy,
      goldLogLikelihood,
    });
    return {
      losses: trained.losses,
      finetune: {
        lora: inner.lora,
        epochs: inner.epochs,
        learningRate: inner.learningRate,
        examples: trained.examples,
        trainMs: trained.elapsedMs,
      },
      questions: questions.map((q, i) => ({
        question: q.question,
        gold: q.answer,
        before: beforeSides[i]!,
        after: afterSides[i]!,
      })),
      before: score(before),
      after: score(after),
      reward: {
        mode: config.reward,
        value: rewardOf(config.reward, after, before),
        metric: config.grading.metric,
      },
    };
  });
}
