/**
 * The forgetting experiment (edit passages in sequence, the accuracy matrix of Figure 6), and the
 * files the official Python code reads, so a run can continue on GPUs. Table 2 and the per-round
 * diagnostics are in results.ts.
 */
import type { Checkpoint } from '../jobs';
import type { EpisodeRecord, Passage } from '../store';
import { withFreshLora, type LoraAdapter } from '../train/lora';
import type { SealConfig } from './config';
import { probeClosedBook, trainOnTexts, type SealModel } from './innerLoop';
import { seedOf, STREAM } from './plan';
import { episodeKind } from './episodes';
import { keptSelfEdits } from './selection';
import { sampleSelfEdits } from './sampleSelfEdits';
import { selfEditTrainingTexts } from './selfEdit';

type Episode = Pick<
  EpisodeRecord,
  'round' | 'contextIndex' | 'sampleIndex' | 'contextId' | 'kind' | 'reward' | 'prompt' | 'selfEdit'
>;

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
      keptSelfEdits(
        config,
        round,
        episodes.filter((e) => e.round === round && episodeKind(e) === 'self-edit'),
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
  const seed = seedOf(config.seed, STREAM.forgetting);
  const accuracy: number[][] = [];
  const selfEdits: string[] = [];
  await withFreshLora(model.weights, config.inner.lora, seed, async (adapter) => {
    for (const [index, passage] of passages.entries()) {
      const [sampled] = await sampleSelfEdits(
        model,
        config,
        passage,
        seedOf(seed, index),
        1,
        checkpoint,
      );
      const selfEdit = sampled!.text;
      selfEdits.push(selfEdit);
      const texts = selfEditTrainingTexts(config.format, passage.title, passage.context, selfEdit);
      await trainOnTexts(
        model,
        adapter,
        texts,
        config.inner,
        { seed: seedOf(seed, index, 1), reportEvery: Number.MAX_SAFE_INTEGER },
        { checkpoint },
      );
      const row = await probeAll(adapter);
      accuracy.push(row);
      onEdit?.(index, row);
    }
  });
  return { accuracy, before, selfEdits };
}
