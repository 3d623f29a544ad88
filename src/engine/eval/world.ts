/**
 * What a model can do in the synthetic world, measured the same way every time:
 * - reading: questions about a held-out passage with the passage in the prompt (exact match);
 * - closed book on held-out entities: the same questions without the passage, which a model that
 *   never saw these entities should mostly fail (only guessable answers remain);
 * - closed book on pretraining entities whose QA the corpus practised;
 * - self-edits: implications sampled at temperature 1 for held-out passages, split into lines as
 *   the method applies them, each line checked against the world's facts.
 * Answers are greedy and end at the answer end mark; grading is SQuAD exact match.
 */
import type { Checkpoint } from '../jobs';
import { generateText, type TextGenerationModel } from '../model/generateText';
import { GREEDY } from '../model/sampling';
import { exactMatch } from '../seal/grade';
import {
  ANSWER_END,
  closedBookPrompt,
  readingPrompt,
  selfEditPrompt,
  selfEditStopStrings,
  type SelfEditFormat,
} from '../prompts';
import { selfEditLines } from '../seal/selfEdit';
import { mean } from '../seal/statistics';
import { checkSelfEditLine } from '../world/consistency';
import { contextOf, type WorldContext } from '../world/contexts';
import type { World } from '../world/types';

export interface WorldEvalOptions {
  /** Contexts of each split evaluated (the first ones, in split order); null for all. */
  limit: number | null;
  /**
   * Where the "held-out" metrics come from: the evaluation contexts (what gets reported), or the
   * RL-training contexts, equally unseen in pretraining, to compare checkpoints without looking
   * at the evaluation contexts.
   */
  unseenSplit: 'eval' | 'rl';
  /** Seeds the sampled self-edits. */
  seed: number;
  selfEditFormat: SelfEditFormat;
  selfEditsPerContext: number;
  maxAnswerTokens: number;
  maxSelfEditTokens: number;
  /** Prompts generated together in one batch. */
  batchSize: number;
}

export const DEFAULT_WORLD_EVAL_OPTIONS: WorldEvalOptions = {
  limit: null,
  unseenSplit: 'eval',
  seed: 0,
  selfEditFormat: 'implications',
  selfEditsPerContext: 2,
  maxAnswerTokens: 16,
  maxSelfEditTokens: 160,
  batchSize: 16,
};

export interface WorldEvalMetrics {
  in_context_em: number;
  closed_book_heldout_em: number;
  closed_book_pretrain_em: number;
  self_edit_lines_mean: number;
  self_edit_consistent_fraction: number;
  /** Share of contexts whose sampled self-edits are not all the same text. */
  self_edit_varied_fraction: number;
  contexts_heldout: number;
  contexts_pretrain: number;
  questions_heldout: number;
  questions_pretrain: number;
}

export interface SelfEditSample {
  entityId: string;
  text: string;
  lines: { line: string; verdict: ReturnType<typeof checkSelfEditLine> }[];
}

export interface WorldEvalReport {
  metrics: WorldEvalMetrics;
  /** A few answers and self-edits, to read what the numbers mean. */
  examples: {
    reading: { question: string; gold: string; answer: string }[];
    selfEdits: SelfEditSample[];
  };
}

export interface WorldEvalHooks {
  checkpoint?: Checkpoint;
  onProgress?: (message: string) => void;
}

interface Question {
  prompt: string;
  gold: string;
}

function questionsOf(contexts: WorldContext[], withPassage: boolean): Question[] {
  return contexts.flatMap((c) =>
    c.questions.map((q, i) => ({
      prompt: withPassage
        ? readingPrompt(c.title, c.context, c.asked[i]!)
        : closedBookPrompt(c.asked[i]!),
      gold: q.answer,
    })),
  );
}

/** Greedy answers to `questions`, batch by batch, ending at the answer end mark. */
async function answer(
  model: TextGenerationModel,
  questions: Question[],
  options: WorldEvalOptions,
  hooks: WorldEvalHooks,
  label: string,
): Promise<string[]> {
  const answers: string[] = [];
  for (let start = 0; start < questions.length; start += options.batchSize) {
    await hooks.checkpoint?.();
    const batch = questions.slice(start, start + options.batchSize);
    const result = await generateText(
      model,
      {
        prompts: batch.map((q) => ({ kind: 'completion' as const, text: q.prompt })),
        samplesPerPrompt: 1,
        maxNewTokens: options.maxAnswerTokens,
        sampling: GREEDY,
        stopStrings: [ANSWER_END],
      },
      { checkpoint: hooks.checkpoint },
    );
    answers.push(...result.sequences.map((s) => s.text.trim()));
    hooks.onProgress?.(`${label}: ${answers.length}/${questions.length}`);
  }
  return answers;
}

async function sampleSelfEdits(
  model: TextGenerationModel,
  world: World,
  contexts: WorldContext[],
  options: WorldEvalOptions,
  hooks: WorldEvalHooks,
): Promise<SelfEditSample[][]> {
  const perBatch = Math.max(1, Math.floor(options.batchSize / options.selfEditsPerContext));
  const samples: SelfEditSample[][] = [];
  for (let start = 0; start < contexts.length; start += perBatch) {
    await hooks.checkpoint?.();
    const batch = contexts.slice(start, start + perBatch);
    const result = await generateText(
      model,
      {
        prompts: batch.map((c) => ({
          kind: 'completion' as const,
          text: selfEditPrompt(options.selfEditFormat, c.title, c.context),
        })),
        samplesPerPrompt: options.selfEditsPerContext,
        maxNewTokens: options.maxSelfEditTokens,
        sampling: { temperature: 1, topK: 0, topP: 1, seed: options.seed + start },
        stopStrings: selfEditStopStrings('completion'),
      },
      { checkpoint: hooks.checkpoint },
    );
    batch.forEach((context, i) => {
      const sequences = result.sequences.filter((s) => s.promptIndex === i);
      samples.push(
        sequences.map((s) => {
          const lines = selfEditLines(options.selfEditFormat, s.text);
          // A line cut off by the token limit is unfinished, not a statement.
          if (s.finishReason === 'length') lines.pop();
          return {
            entityId: context.entityId,
            text: s.text,
            lines: lines.map((line) => ({
              line,
              verdict: checkSelfEditLine(world, context.entityId, line),
            })),
          };
        }),
      );
    });
    hooks.onProgress?.(`self-edits: ${samples.length}/${contexts.length}`);
  }
  return samples;
}

export async function evaluateWorld(
  model: TextGenerationModel,
  world: World,
  options: WorldEvalOptions = DEFAULT_WORLD_EVAL_OPTIONS,
  hooks: WorldEvalHooks = {},
): Promise<WorldEvalReport> {
  if (options.limit !== null && !(Number.isInteger(options.limit) && options.limit > 0)) {
    throw new Error(`limit must be a positive whole number, got ${options.limit}`);
  }
  const pick = (ids: string[]) => ids.slice(0, options.limit ?? ids.length);
  const heldout = pick(world.splits[options.unseenSplit]).map((id) => contextOf(world, id));
  const pretrain = pick(world.splits.pretrainQa).map((id) => contextOf(world, id));

  const reading = questionsOf(heldout, true);
  const readingAnswers = await answer(model, reading, options, hooks, 'in-context');
  const closedHeldout = questionsOf(heldout, false);
  const closedHeldoutAnswers = await answer(model, closedHeldout, options, hooks, 'closed-book');
  const closedPretrain = questionsOf(pretrain, false);
  const closedPretrainAnswers = await answer(model, closedPretrain, options, hooks, 'pretrain');
  const selfEdits = await sampleSelfEdits(model, world, heldout, options, hooks);

  const em = (questions: Question[], answers: string[]) =>
    mean(questions.map((q, i) => exactMatch(answers[i]!, q.gold)));
  const allSamples = selfEdits.flat();
  const allLines = allSamples.flatMap((s) => s.lines);
  return {
    metrics: {
      in_context_em: em(reading, readingAnswers),
      closed_book_heldout_em: em(closedHeldout, closedHeldoutAnswers),
      closed_book_pretrain_em: em(closedPretrain, closedPretrainAnswers),
      self_edit_lines_mean: mean(allSamples.map((s) => s.lines.length)),
      self_edit_consistent_fraction: mean(
        allLines.map((l) => (l.verdict === 'consistent' ? 1 : 0)),
      ),
      self_edit_varied_fraction: mean(
        selfEdits.map((samples) => (new Set(samples.map((s) => s.text)).size > 1 ? 1 : 0)),
      ),
      contexts_heldout: heldout.length,
      contexts_pretrain: pretrain.length,
      questions_heldout: reading.length,
      questions_pretrain: closedPretrain.length,
    },
    examples: {
      reading: reading.slice(0, 10).map((q, i) => ({
        question: q.prompt.slice(q.prompt.lastIndexOf('Question: ')),
        gold: q.gold,
        answer: readingAnswers[i]!,
      })),
      selfEdits: allSamples.slice(0, 4),
    },
  };
}
