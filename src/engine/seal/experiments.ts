/**
 * The paper's comparisons at small scale, read off a run's episodes: Table 2 (no-context QA
 * accuracy of the base model, training on the passage, passage + the base model's self-edits,
 * and passage + SEAL self-edits after each round), the reward and held-out accuracy per round,
 * and the forgetting experiment (edit passages in sequence, the accuracy matrix of Figure 6).
 * Also the files the official Python code reads, so a run can continue on GPUs.
 */
import type { Checkpoint } from '../jobs';
import type { EpisodeRecord, Passage } from '../store';
import { LoraAdapter } from '../train/lora';
import { tokenizeExamples } from '../train/dataset';
import { DEFAULT_SFT_OPTIONS, trainSft } from '../train/sft';
import type { SealConfig } from './config';
import { probeClosedBook, type SealModel } from './innerLoop';
import { sampleSelfEdits, seedOf, selectForMStep } from './restem';
import { selfEditTrainingTexts } from './selfEdit';

type Episode = Pick<
  EpisodeRecord,
  | 'round'
  | 'contextIndex'
  | 'sampleIndex'
  | 'contextId'
  | 'grades'
  | 'reward'
  | 'prompt'
  | 'selfEdit'
>;

/** 'held-out/<condition>/…' or 'train/…', as the run writes contextId. */
function heldOutCondition(episode: Episode): string | null {
  const match = /^held-out\/([a-z-]+)\//.exec(episode.contextId);
  return match ? match[1]! : null;
}

/** Share of right answers over all questions of the episodes (each question counts once). */
function accuracyOf(episodes: readonly Episode[]): number | null {
  const grades = episodes.flatMap((e) => e.grades);
  return grades.length === 0 ? null : grades.reduce((sum, g) => sum + g, 0) / grades.length;
}

export interface RoundSummary {
  /** 0 = before any RL round (the base generator). */
  round: number;
  /** Held-out accuracy with the self-edits of this round's generator. */
  heldOutAccuracy: number | null;
  /** Mean reward of the round's training self-edits (none after the last round). */
  meanReward: number | null;
  selfEdits: number;
  /** How many self-edits the M-step kept. */
  kept: number;
}

export function roundSummaries(config: SealConfig, episodes: readonly Episode[]): RoundSummary[] {
  const rounds = [...new Set(episodes.map((e) => e.round))].sort((a, b) => a - b);
  return rounds.map((round) => {
    const ofRound = episodes.filter((e) => e.round === round);
    const training = ofRound.filter((e) => e.contextId.startsWith('train/'));
    return {
      round,
      heldOutAccuracy: accuracyOf(ofRound.filter((e) => heldOutCondition(e) === 'self-edit')),
      meanReward:
        training.length === 0
          ? null
          : training.reduce((sum, e) => sum + e.reward, 0) / training.length,
      selfEdits: training.length,
      kept: selectForMStep(training, config.outer.keepOnlyPositive).length,
    };
  });
}

/**
 * Table 2's rows as metrics (0–1): `base`, `passage`, `base_self_edits` (round 0's generator)
 * and `seal_round_<r>` (the generator after round r). A row with no episodes yet is left out.
 */
export function table2Metrics(episodes: readonly Episode[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  const put = (name: string, value: number | null) => {
    if (value !== null) metrics[name] = value;
  };
  const at = (round: number, condition: string) =>
    accuracyOf(episodes.filter((e) => e.round === round && heldOutCondition(e) === condition));
  put('base', at(0, 'base'));
  put('passage', at(0, 'passage'));
  put('base_self_edits', at(0, 'self-edit'));
  const lastRound = Math.max(0, ...episodes.map((e) => e.round));
  for (let round = 1; round <= lastRound; round++)
    put(`seal_round_${round}`, at(round, 'self-edit'));
  return metrics;
}

/** Contexts as the official code's SQuAD-style JSON: `[{ title, context, questions: [{question, answer}] }]`. */
export function squadJson(passages: readonly Passage[]): string {
  return `${JSON.stringify(
    passages.map(({ title, context, questions }) => ({ title, context, questions })),
    null,
    2,
  )}\n`;
}

/** The M-step data of every round as JSONL of `{ prompt, completion }`, one kept self-edit a line. */
export function mStepJsonl(config: SealConfig, episodes: readonly Episode[]): string {
  const rounds = [...new Set(episodes.map((e) => e.round))].sort((a, b) => a - b);
  return rounds
    .flatMap((round) =>
      selectForMStep(
        episodes.filter((e) => e.round === round && e.contextId.startsWith('train/')),
        config.outer.keepOnlyPositive,
      ),
    )
    .map((e) => `${JSON.stringify({ prompt: e.prompt, completion: e.selfEdit })}\n`)
    .join('');
}

export interface ForgettingResult {
  /** accuracy[i][j]: accuracy on passage j after the edits of passages 0…i, in order. */
  accuracy: number[][];
  /** Accuracy on each passage before any edit. */
  before: number[];
  selfEdits: string[];
}

/**
 * The forgetting experiment: one LoRA takes the self-edits of `passages` one after another (each
 * fine-tuned as the inner loop does); after each edit every passage's questions are asked again.
 */
export async function runForgetting(
  model: SealModel,
  passages: readonly Passage[],
  config: SealConfig,
  {
    checkpoint,
    onEdit,
  }: { checkpoint?: Checkpoint; onEdit?: (index: number, row: number[]) => void } = {},
): Promise<ForgettingResult> {
  const probeAll = async (adapter?: LoraAdapter) => {
    const row: number[] = [];
    for (const passage of passages) {
      row.push(
        (await probeClosedBook(model, passage.questions, config, adapter, checkpoint)).accuracy,
      );
    }
    return row;
  };
  const before = await probeAll();
  const seed = seedOf(config.seed, 6);
  const adapter = LoraAdapter.create(model.weights, config.inner.lora, seed);
  const accuracy: number[][] = [];
  const selfEdits: string[] = [];
  try {
    for (const [index, passage] of passages.entries()) {
      const [selfEdit] = await sampleSelfEdits(
        model,
        config,
        passage,
        seedOf(seed, index),
        1,
        checkpoint,
      );
      selfEdits.push(selfEdit!);
      const texts = selfEditTrainingTexts(config.format, passage.title, passage.context, selfEdit!);
      const { sequences } = tokenizeExamples(
        texts.map((text) => ({ text })),
        model.tokenizer,
        { lossOn: 'all', maxLength: config.inner.maxLength, overflow: 'truncate' },
      );
      await trainSft(
        model,
        sequences,
        { kind: 'lora', adapter },
        {
          ...DEFAULT_SFT_OPTIONS,
          epochs: config.inner.epochs,
          batchSize: config.inner.batchSize,
          learningRate: config.inner.learningRate,
          seed: seedOf(seed, index, 1),
          reportEvery: Number.MAX_SAFE_INTEGER,
        },
        { checkpoint },
      );
      const row = await probeAll(adapter);
      accuracy.push(row);
      onEdit?.(index, row);
    }
  } finally {
    adapter.dispose();
  }
  return { accuracy, before, selfEdits };
}
