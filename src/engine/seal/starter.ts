/**
 * What the Generate and Fine-tune panels start from when the loaded model was trained on the
 * synthetic world: a passage about an entity it has never read and a closed-book question about
 * it, so that the first fine-tune visibly teaches it something. The entity is the first of the
 * validation contexts (the second half of the RL split, as `worldSealContexts(seed, 'validation')`
 * holds it out), never an evaluation context, so nothing is tuned on what results report.
 */
import { LORA_TARGETS } from '../train/targets';
import { closedBookPrompt } from '../prompts';
import { worldSealContexts } from './contexts';

/** Models trained on the synthetic world, by the name they ship under, and the world's seed. */
const WORLD_MODEL_SEEDS: Readonly<Record<string, number>> = { 'seal-world-1m': 1 };

export function worldSeedOfModel(modelId: string): number | null {
  return WORLD_MODEL_SEEDS[modelId] ?? null;
}

/**
 * Fine-tune settings for the world model on one passage. Chosen on the first six validation
 * passages: the panel's generic defaults (q/v LoRA r8, lr 1e-3, 3 epochs) lower the loss on the
 * passage a little and change no closed-book answer; these turn most of them right.
 */
export const WORLD_STARTER_FINETUNE = {
  targets: [...LORA_TARGETS],
  rank: 16,
  alpha: 32,
  learningRate: 1e-2,
  epochs: 10,
} as const;

export interface WorldStarter {
  entityId: string;
  title: string;
  /** The fine-tune text: the passage as the inner loop trains on it ("{title}\n{context}"). */
  passage: string;
  question: string;
  answer: string;
  /** The question as the closed-book prompt the model was trained to answer. */
  prompt: string;
  finetune: typeof WORLD_STARTER_FINETUNE;
}

export function worldStarter(worldSeed: number): WorldStarter {
  const passage = worldSealContexts(worldSeed, 'validation').heldOut[0]!;
  const { question, answer } = passage.questions[0]!;
  return {
    entityId: passage.id,
    title: passage.title,
    passage: `${passage.title}\n${passage.context}`,
    question,
    answer,
    prompt: closedBookPrompt(question),
    finetune: WORLD_STARTER_FINETUNE,
  };
}
