/**
 * The `walkthrough` benchmark: one guided walkthrough with the default settings on the loaded
 * model (the default model, in `npm run bench`), timed step by step, as a newcomer would wait for it.
 */
import type { Checkpoint } from '../jobs';
import { DEFAULT_SEAL_CONFIG } from './config';
import { worldSealContexts } from './contexts';
import type { SealModel } from './innerLoop';
import {
  applyWalkthroughSelfEdit,
  walkthroughPassage,
  writeWalkthroughSelfEdit,
} from './walkthrough';

/** The default model's world. */
const WORLD_SEED = 1;
const WALKTHROUGH_SEED = 1;

export async function runWalkthroughBenchmark(
  checkpoint: Checkpoint,
  model: SealModel,
): Promise<Record<string, number>> {
  const config = DEFAULT_SEAL_CONFIG;
  const started = performance.now();
  const validation = worldSealContexts(WORLD_SEED, 'validation');
  const passage = walkthroughPassage(validation, { seed: WALKTHROUGH_SEED, worldSeed: WORLD_SEED });
  const passageMs = performance.now() - started;
  const selfEdit = await writeWalkthroughSelfEdit(
    model,
    config,
    passage,
    validation,
    WALKTHROUGH_SEED,
    { checkpoint },
  );
  const written = performance.now();
  const update = await applyWalkthroughSelfEdit(
    model,
    config,
    passage,
    selfEdit.text,
    WALKTHROUGH_SEED,
    { checkpoint },
  );
  const done = performance.now();
  return {
    total_s: (done - started) / 1000,
    passage_s: passageMs / 1000,
    self_edit_s: (written - started - passageMs) / 1000,
    finetune_s: update.finetune.trainMs / 1000,
    answers_s: (done - written - update.finetune.trainMs) / 1000,
    finetune_steps: update.losses.length,
    self_edit_lines: selfEdit.lines.length,
    questions: update.questions.length,
    reward: update.reward.value,
  };
}
