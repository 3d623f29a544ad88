/**
 * A speed probe of the loaded model on the active backend, a few seconds long: short self-edit
 * samplings of one and of several sequences, one closed-book probe of a passage's questions, and a
 * few LoRA steps, each with the default settings' shapes. Its timings price a run (estimate.ts).
 */
import type { Checkpoint } from '../jobs';
import { withFreshLora } from '../train/lora';
import { DEFAULT_SEAL_CONFIG } from './config';
import { worldSealContexts } from './contexts';
import type { SpeedTimings } from './estimate';
import { probeClosedBook, trainOnTexts, type SealModel } from './innerLoop';
import { sampleSelfEdits } from './sampleSelfEdits';
import { selfEditTrainingTexts } from './selfEdit';

const WORLD_SEED = 1;
const PROBE_SEED = 1;
const PROBE_TOKENS = 12;
/** The larger of the two sampled batches; with the single sequence it gives the cost per sequence. */
const PROBE_BATCH = 4;
/** Epochs of the timed fine-tune on a self-edit of one line (two examples): six steps. */
const PROBE_EPOCHS = 3;

/** Milliseconds per decoding step of a batch of `count` self-edits. */
async function decodeStepMs(
  model: SealModel,
  passage: { title: string; context: string },
  count: number,
  checkpoint: Checkpoint,
): Promise<number> {
  // Lines never end these samples early: only the token limit or the model does.
  const config = {
    ...DEFAULT_SEAL_CONFIG,
    selfEdit: { ...DEFAULT_SEAL_CONFIG.selfEdit, maxNewTokens: PROBE_TOKENS, maxLines: 1000 },
  };
  let steps = 0;
  const start = performance.now();
  await sampleSelfEdits(model, config, passage, PROBE_SEED, count, checkpoint, () => {
    steps += 1;
  });
  return (performance.now() - start) / Math.max(steps, 1);
}

/** Milliseconds per LoRA step, after the first (which allocates and, on WebGPU, compiles). */
async function trainStepMs(
  model: SealModel,
  texts: string[],
  checkpoint: Checkpoint,
): Promise<number> {
  const { inner } = DEFAULT_SEAL_CONFIG;
  const elapsed: number[] = [];
  await withFreshLora(model.weights, inner.lora, PROBE_SEED, (adapter) =>
    trainOnTexts(
      model,
      adapter,
      texts,
      inner,
      { epochs: PROBE_EPOCHS, batchSize: 1, seed: PROBE_SEED, reportEvery: 1 },
      { checkpoint, onProgress: (progress) => elapsed.push(progress.elapsedMs) },
    ),
  );
  return (elapsed.at(-1)! - elapsed[0]!) / (elapsed.length - 1);
}

export async function probeSpeed(model: SealModel, checkpoint: Checkpoint): Promise<SpeedTimings> {
  const passage = worldSealContexts(WORLD_SEED).train[0]!;
  const config = DEFAULT_SEAL_CONFIG;
  // Untimed: the first pass compiles shaders (WebGPU) and warms caches.
  await probeClosedBook(model, passage.questions, config, undefined, checkpoint);

  const single = await decodeStepMs(model, passage, 1, checkpoint);
  const batch = await decodeStepMs(model, passage, PROBE_BATCH, checkpoint);
  // Timing noise can make the larger batch look cheaper per step; a sequence never costs less than nothing.
  const perSequenceMs = Math.max(0, (batch - single) / (PROBE_BATCH - 1));

  const start = performance.now();
  await probeClosedBook(model, passage.questions, config, undefined, checkpoint);
  const probeMs = performance.now() - start;

  const [question] = passage.questions;
  const selfEdit = `${question!.question} ${question!.answer}\n`;
  const texts = selfEditTrainingTexts('implications', passage.title, passage.context, selfEdit);
  return {
    decodeStep: { fixedMs: Math.max(0, single - perSequenceMs), perSequenceMs },
    trainStepMs: await trainStepMs(model, texts, checkpoint),
    probeMs,
  };
}
