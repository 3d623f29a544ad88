/**
 * The `seal` benchmark: what one self-edit evaluation costs with the default settings, split into
 * sampling the self-edits, fine-tuning on one, and answering and grading the questions, on a
 * seeded random model of the default model's shape (its self-edits are noise; the work is real).
 */
import type { Checkpoint } from '../jobs';
import { disposeModelWeights } from '../model/weights';
import { DEFAULT_SEAL_CONFIG, selfEditPromptOf } from './config';
import { worldSealContexts } from './contexts';
import { applyTrainingTexts, probeClosedBook } from './innerLoop';
import { seedOf } from './plan';
import { updateGenerator } from './restem';
import { sampleSelfEdits } from './sampleSelfEdits';
import { selfEditTrainingTexts } from './selfEdit';
import { tinySealModel } from './tinyModel';

const WORLD_SEED = 1;
/** The shape `npm run pretrain` gives the default model (about 1M parameters). */
export const DEFAULT_MODEL_SHAPE = {
  vocabSize: 2048,
  hiddenSize: 128,
  intermediateSize: 352,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 4,
  headDim: 32,
};

export async function runSealBenchmark(checkpoint: Checkpoint): Promise<Record<string, number>> {
  const config = DEFAULT_SEAL_CONFIG;
  const model = tinySealModel(1, WORLD_SEED, DEFAULT_MODEL_SHAPE);
  const passage = worldSealContexts(WORLD_SEED).train[0]!;
  const samples = config.selfEdit.samples;
  try {
    // Untimed: the first pass compiles shaders (webgpu) and warms caches.
    await probeClosedBook(model, passage.questions, config, undefined, checkpoint);

    let start = performance.now();
    const selfEdits = await sampleSelfEdits(
      model,
      config,
      passage,
      seedOf(config.seed, 1),
      samples,
      checkpoint,
    );
    const generateMs = (performance.now() - start) / samples;

    start = performance.now();
    const before = await probeClosedBook(model, passage.questions, config, undefined, checkpoint);
    const beforeMs = performance.now() - start;

    let finetuneMs = 0;
    let gradeMs = 0;
    for (const selfEdit of selfEdits) {
      const texts = selfEditTrainingTexts(
        config.format,
        passage.title,
        passage.context,
        selfEdit.text,
      );
      const applied = await applyTrainingTexts(
        model,
        texts,
        passage.questions,
        config,
        before,
        [seedOf(config.seed, 2)],
        {
          checkpoint,
        },
      );
      finetuneMs += applied.trainMs / samples;
      gradeMs += applied.gradeMs / samples;
    }

    start = performance.now();
    const prompt = selfEditPromptOf(config, passage.title, passage.context);
    await updateGenerator(
      model,
      Array.from({ length: config.outer.contextsPerRound }, () => ({
        prompt,
        selfEdit: selfEdits[0]!.text,
      })),
      config,
      seedOf(config.seed, 3),
      checkpoint,
    );
    const mStepMs = performance.now() - start;

    // Unadapted answers are shared by the K self-edits of a context.
    const selfEditEvalMs = generateMs + finetuneMs + gradeMs + beforeMs / samples;
    return {
      self_edit_eval_s: selfEditEvalMs / 1000,
      generate_s: generateMs / 1000,
      finetune_s: finetuneMs / 1000,
      grade_s: gradeMs / 1000,
      m_step_s: mStepMs / 1000,
      /** Training self-edits of a default round, plus its M-step (held-out evaluations not included). */
      round_s: (selfEditEvalMs * samples * config.outer.contextsPerRound + mStepMs) / 1000,
      parameters_m: [...model.weights.values()].reduce((sum, weight) => sum + weight.size, 0) / 1e6,
    };
  } finally {
    disposeModelWeights(model.weights);
  }
}
