/**
 * The inner loop: applying a self-edit. A fresh LoRA (from a seed) is fine-tuned on the
 * self-edit's examples, then the adapted model answers the context's questions with the passage
 * hidden, greedily, in the closed-book QA prompt shape; the answers are graded and the grades,
 * set against the same model's answers before the update, give the self-edit's reward. Several
 * LoRA seeds per self-edit are averaged, as the paper does.
 */
import type { Checkpoint } from '../jobs';
import type { ModelConfig } from '../model/config';
import { renderChat } from '../model/chat';
import { generate } from '../model/generate';
import { stopTokenIds } from '../model/generateText';
import { GREEDY } from '../model/sampling';
import type { Tokenizer } from '../model/tokenizer';
import type { ModelWeights } from '../model/weights';
import { tokenizeExamples } from '../train/dataset';
import { withFreshLora, type LoraAdapter } from '../train/lora';
import {
  DEFAULT_SFT_OPTIONS,
  evaluateLoss,
  trainSft,
  type SftOptions,
  type SftResult,
  type TrainingHooks,
} from '../train/sft';
import type { RewardMode, SealConfig } from './config';
import { exactMatch, gradeAnswer } from './grade';
import { mean } from './statistics';
import { ANSWER_END, answerCompletion, closedBookPrompt, judgePrompt } from '../prompts';

export interface SealModel {
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer;
  chatTemplate?: string | null;
}

/**
 * The text the model is given for `prompt`: as is, or as the user's turn of its chat template.
 * The template's leading BOS text is dropped because encoding adds the BOS token again.
 */
export function promptText(
  model: SealModel,
  style: SealConfig['promptStyle'],
  prompt: string,
): string {
  if (style === 'completion') return prompt;
  if (!model.chatTemplate) {
    throw new Error('This model has no chat template: set Prompts to plain text (base model).');
  }
  const rendered = renderChat(
    model.chatTemplate,
    [{ role: 'user', content: prompt }],
    model.tokenizer,
  );
  const bos = model.tokenizer.bosToken;
  return bos && rendered.startsWith(bos) ? rendered.slice(bos.length) : rendered;
}

export interface QuestionAnswer {
  question: string;
  answer: string;
}

/** How a model does on questions asked closed book. */
export interface Probe {
  answers: string[];
  /** 0 (wrong) to 1 (right), one per question. */
  grades: number[];
  /** Mean grade. */
  accuracy: number;
  /** Mean log-likelihood per token of the gold answers (higher is better). */
  goldLogLikelihood: number;
}

/**
 * The model without any update judges each answer yes (1) or no (0) against the gold answer; an
 * exact match needs no judge.
 */
async function judgeAnswers(
  model: SealModel,
  config: Pick<SealConfig, 'promptStyle'>,
  questions: readonly QuestionAnswer[],
  answers: readonly string[],
  checkpoint?: Checkpoint,
): Promise<number[]> {
  const grades = answers.map((answer, i) => exactMatch(answer, questions[i]!.answer));
  const judged = grades.flatMap((grade, i) => (grade === 1 ? [] : [i]));
  if (judged.length === 0) return grades;
  const replies = await generate(
    model,
    judged.map((i) =>
      model.tokenizer.encode(
        promptText(
          model,
          config.promptStyle,
          judgePrompt(questions[i]!.question, questions[i]!.answer, answers[i]!),
        ),
      ),
    ),
    {
      maxNewTokens: 3,
      sampling: GREEDY,
      stopTokenIds: stopTokenIds(model, { atDocumentStart: true }),
      decode: (ids) => model.tokenizer.decode(ids),
      checkpoint,
    },
  );
  replies.sequences.forEach((reply, k) => {
    grades[judged[k]!] = /^\s*yes\b/i.test(reply.text) ? 1 : 0;
  });
  return grades;
}

/** Greedy closed-book answers to every question (one batch), graded, and the gold answers' likelihood. */
export async function probeClosedBook(
  model: SealModel,
  questions: readonly QuestionAnswer[],
  config: Pick<SealConfig, 'grading' | 'promptStyle'>,
  adapter?: LoraAdapter,
  checkpoint?: Checkpoint,
): Promise<Probe> {
  if (questions.length === 0) throw new Error('a context needs at least one question to grade');
  const { grading } = config;
  const asked = questions.map((q) =>
    promptText(model, config.promptStyle, closedBookPrompt(q.question)),
  );
  const prompts = asked.map((text) => model.tokenizer.encode(text));
  const generated = await generate(model, prompts, {
    maxNewTokens: grading.maxAnswerTokens,
    sampling: GREEDY,
    stopTokenIds: stopTokenIds(model, { atDocumentStart: true }),
    stopStrings: [ANSWER_END],
    decode: (ids) => model.tokenizer.decode(ids),
    adapter,
    checkpoint,
  });
  const answers = generated.sequences.map((s) => s.text.trim());
  const { metric } = grading;
  const grades =
    metric === 'judge'
      ? await judgeAnswers(model, config, questions, answers, checkpoint)
      : answers.map((answer, i) => gradeAnswer(metric, answer, questions[i]!.answer));
  const { sequences } = tokenizeExamples(
    questions.map((q, i) => ({ prompt: asked[i]!, completion: answerCompletion(q.answer) })),
    model.tokenizer,
    { lossOn: 'completion', maxLength: model.config.maxPositionEmbeddings, overflow: 'truncate' },
  );
  const loss = await evaluateLoss(model, sequences, adapter);
  return { answers, grades, accuracy: mean(grades), goldLogLikelihood: -loss };
}

/** The numbers of a probe that rewards are made of. */
export type ProbeScore = Pick<Probe, 'accuracy' | 'goldLogLikelihood'>;

/**
 * A self-edit's reward from the adapted model's probe and the unadapted model's (which the
 * 'accuracy' reward does without).
 */
export function rewardOf(mode: RewardMode, adapted: ProbeScore, before: ProbeScore | null): number {
  if (mode === 'accuracy') return adapted.accuracy;
  if (!before) throw new Error(`the '${mode}' reward needs the model's answers before the update`);
  switch (mode) {
    case 'improvement':
      return adapted.accuracy > before.accuracy ? 1 : 0;
    case 'likelihood-gain':
      return adapted.goldLogLikelihood - before.goldLogLikelihood;
    default:
      throw new Error(`unknown reward mode '${String(mode)}'`);
  }
}

export interface AppliedSelfEdit {
  /** Answers of the first seed's adapted model. */
  answers: string[];
  /** Each question's grade, averaged over the seeds. */
  grades: number[];
  accuracy: number;
  goldLogLikelihood: number;
  /** Each seed's adapted model's scores, and its reward. */
  seedScores: ProbeScore[];
  seedRewards: number[];
  reward: number;
  /** Training loss per step, averaged over the seeds. */
  lossCurve: number[];
  trainMs: number;
  gradeMs: number;
}

export interface ApplyHooks {
  checkpoint?: Checkpoint;
  /** Called when the adapted model starts answering (for a live view of the loop). */
  onAnswering?: () => void;
}

/**
 * The inner loop's update: `adapter` trained on `texts`, every token learned, with the inner
 * loop's settings (`overrides` replace any of them, e.g. a probe's epochs).
 */
export async function trainOnTexts(
  model: SealModel,
  adapter: LoraAdapter,
  texts: readonly string[],
  inner: SealConfig['inner'],
  options: Pick<SftOptions, 'seed' | 'reportEvery'> & Partial<SftOptions>,
  hooks: TrainingHooks = {},
): Promise<SftResult & { examples: number }> {
  const { sequences } = tokenizeExamples(
    texts.map((text) => ({ text })),
    model.tokenizer,
    { lossOn: 'all', maxLength: inner.maxLength, overflow: 'truncate' },
  );
  const trained = await trainSft(
    model,
    sequences,
    { kind: 'lora', adapter },
    {
      ...DEFAULT_SFT_OPTIONS,
      epochs: inner.epochs,
      batchSize: inner.batchSize,
      learningRate: inner.learningRate,
      ...options,
    },
    hooks,
  );
  // An example with no token left to learn from is skipped.
  return { ...trained, examples: sequences.length };
}

/**
 * Fine-tunes a fresh LoRA per seed on `texts` (every token learned), probes each adapted model on
 * `questions`, and rewards it against `before`, the model's probe without the update (null when
 * the reward does not need it).
 */
export async function applyTrainingTexts(
  model: SealModel,
  texts: readonly string[],
  questions: readonly QuestionAnswer[],
  config: Pick<SealConfig, 'inner' | 'grading' | 'reward' | 'promptStyle'>,
  before: Probe | null,
  loraSeeds: readonly number[],
  { checkpoint, onAnswering }: ApplyHooks = {},
): Promise<AppliedSelfEdit> {
  if (loraSeeds.length === 0) throw new Error('applying a self-edit needs at least one seed');
  const probes: Probe[] = [];
  const curves: number[][] = [];
  let trainMs = 0;
  let gradeMs = 0;
  for (const seed of loraSeeds) {
    await withFreshLora(model.weights, config.inner.lora, seed, async (adapter) => {
      const trainStart = performance.now();
      const trained = await trainOnTexts(
        model,
        adapter,
        texts,
        config.inner,
        // Losses are only needed at the end: one readback per fine-tune.
        { seed, reportEvery: Number.MAX_SAFE_INTEGER },
        { checkpoint },
      );
      curves.push(trained.losses);
      const gradeStart = performance.now();
      trainMs += gradeStart - trainStart;
      onAnswering?.();
      probes.push(await probeClosedBook(model, questions, config, adapter, checkpoint));
      gradeMs += performance.now() - gradeStart;
    });
  }
  const seedRewards = probes.map((probe) => rewardOf(config.reward, probe, before));
  return {
    answers: probes[0]!.answers,
    grades: questions.map((_, i) => mean(probes.map((p) => p.grades[i]!))),
    accuracy: mean(probes.map((p) => p.accuracy)),
    goldLogLikelihood: mean(probes.map((p) => p.goldLogLikelihood)),
    seedScores: probes.map(({ accuracy, goldLogLikelihood }) => ({ accuracy, goldLogLikelihood })),
    seedRewards,
    reward: mean(seedRewards),
    lossCurve: curves[0]!.map((_, step) => mean(curves.map((curve) => curve[step]!))),
    trainMs,
    gradeMs,
  };
}
