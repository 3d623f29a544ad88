/**
 * The work a SEAL run does, counted from its plan (plan.ts) in the units a speed probe times:
 * sampling calls, fine-tunes, closed-book probes and M-steps. Mirrors what the round evaluator
 * (evaluate.ts) runs for each planned step, including what it shares: a context's K samples and
 * its unadapted probe are computed once per round.
 */
import type { SealConfig } from './config';
import type { SealContexts } from './contexts';
import { planRound } from './plan';

/** One fine-tune shape: a fresh LoRA trained on self-edits (each its lines and passage) or passages alone. */
export interface FineTuneWork {
  /** Self-edits trained on together (one, or a pool's in pooled held-out mode). */
  selfEdits: number;
  /** Passages trained on alone, without a self-edit. */
  passages: number;
  /** How many fine-tunes of this shape the run does. */
  count: number;
}

export interface RunWork {
  /** Sampling calls by batch size: `count` calls of `sequences` self-edits each. */
  samplings: { sequences: number; count: number }[];
  fineTunes: FineTuneWork[];
  /** Passages whose questions are asked closed book (after each fine-tune, and unadapted). */
  probedPassages: number;
  /** Examples of each M-step, one M-step per entry. */
  mSteps: number[];
}

function addCount<T extends { count: number }>(list: T[], entry: T, same: (a: T) => boolean) {
  const found = list.find(same);
  if (found) found.count += entry.count;
  else list.push(entry);
}

/** Every unit of work of a run of `config` on `contexts`, from start to end. */
export function runWork(config: SealConfig, contexts: SealContexts): RunWork {
  const work: RunWork = { samplings: [], fineTunes: [], probedPassages: 0, mSteps: [] };
  const sample = (sequences: number) =>
    addCount(work.samplings, { sequences, count: 1 }, (s) => s.sequences === sequences);
  const fineTune = (selfEdits: number, passages: number, count: number) =>
    addCount(
      work.fineTunes,
      { selfEdits, passages, count },
      (f) => f.selfEdits === selfEdits && f.passages === passages,
    );
  const rewarded = config.outer.selection === 'reward';
  for (let round = 0; round <= config.outer.rounds; round++) {
    const plan = planRound(config, contexts, round);
    const sampledContexts = new Set<number>();
    const probedContexts = new Set<string>();
    for (const step of plan.steps) {
      if (step.kind === 'held-out') {
        const passages = step.passages.length;
        switch (step.condition) {
          case 'base':
            work.probedPassages += passages;
            continue;
          case 'passage':
            fineTune(0, passages, 1);
            break;
          case 'self-edit':
            for (let i = 0; i < passages; i++) sample(1);
            fineTune(passages, 0, 1);
            break;
          case 'teacher':
          case 'self-edit-on-base':
            fineTune(passages, 0, 1);
            break;
        }
        work.probedPassages += passages;
        continue;
      }
      if (!sampledContexts.has(step.batchIndex)) {
        sampledContexts.add(step.batchIndex);
        sample(config.selfEdit.samples);
      }
      if (!rewarded) continue;
      if (!probedContexts.has(step.passage.id)) {
        probedContexts.add(step.passage.id);
        work.probedPassages += 1;
      }
      fineTune(1, 0, config.inner.seeds);
      work.probedPassages += config.inner.seeds;
    }
    // The M-step trains on one kept self-edit per context of the round (at most).
    if (plan.mStepPosition !== null) work.mSteps.push(sampledContexts.size);
  }
  return work;
}
