/**
 * How long a SEAL run will take: its work (work.ts) priced with a speed probe's timings on the
 * loaded model (speedProbe.ts). A range, because how long the model's self-edits are is only known
 * once it writes them: the short end takes every self-edit at half its token and line limits, the
 * long end at the limits.
 */
import { DEFAULT_SFT_OPTIONS, planSteps } from '../train/sft';
import type { SealConfig } from './config';
import type { RunWork } from './work';

/** What one speed probe measured on the loaded model and backend. */
export interface SpeedTimings {
  /** One decoding step of a batch of n sequences takes `fixedMs + perSequenceMs · n`. */
  decodeStep: { fixedMs: number; perSequenceMs: number };
  /** One LoRA optimizer step on one training example. */
  trainStepMs: number;
  /** Asking one passage's questions closed book, answered and graded. */
  probeMs: number;
}

export interface RunEstimate {
  lowSeconds: number;
  highSeconds: number;
}

/**
 * A pool of n wasm workers evaluates self-edits about 0.83·n times as fast as one thread
 * (`npm run bench pool`: 1.66× on 2 workers); the M-step runs on one thread either way.
 */
export const POOL_EFFICIENCY = 0.83;

/** The share of each limit a self-edit uses at the short and the long end of the range. */
const SELF_EDIT_SHARES = { low: 0.5, high: 1 } as const;

function stepsOf(examples: number, epochs: number, batchSize: number): number {
  return planSteps(examples, { ...DEFAULT_SFT_OPTIONS, epochs, batchSize }).length;
}

/** Milliseconds of a run's work with self-edits using `share` of their token and line limits. */
function runMs(config: SealConfig, work: RunWork, timings: SpeedTimings, share: number) {
  const tokens = Math.ceil(config.selfEdit.maxNewTokens * share);
  const lines = Math.ceil(config.selfEdit.maxLines * share);
  const { fixedMs, perSequenceMs } = timings.decodeStep;
  let parallelMs = work.probedPassages * timings.probeMs;
  for (const { sequences, count } of work.samplings) {
    parallelMs += count * tokens * (fixedMs + perSequenceMs * sequences);
  }
  for (const { selfEdits, passages, count } of work.fineTunes) {
    // A self-edit trains as its lines and its passage (selfEditTrainingTexts).
    const examples = selfEdits * (lines + 1) + passages;
    parallelMs +=
      count * stepsOf(examples, config.inner.epochs, config.inner.batchSize) * timings.trainStepMs;
  }
  const { epochs, batchSize } = config.outer.mStep;
  const serialMs = work.mSteps.reduce(
    (sum, examples) => sum + stepsOf(examples, epochs, batchSize) * timings.trainStepMs,
    0,
  );
  return { parallelMs, serialMs };
}

/** The run's duration on `workers` workers (1: in the engine itself). */
export function estimateRun(
  config: SealConfig,
  work: RunWork,
  timings: SpeedTimings,
  workers: number,
): RunEstimate {
  const speedup = workers > 1 ? workers * POOL_EFFICIENCY : 1;
  const seconds = (share: number) => {
    const { parallelMs, serialMs } = runMs(config, work, timings, share);
    return (parallelMs / speedup + serialMs) / 1000;
  };
  return { lowSeconds: seconds(SELF_EDIT_SHARES.low), highSeconds: seconds(SELF_EDIT_SHARES.high) };
}
