import type { ModelConfig } from '../../src/engine/model/config';
import { SMALL_LLAMA_CONFIG } from '../../src/engine/train/randomModel';
import { makeBatch } from '../../src/engine/train/sft';

/** Grouped queries, q/k/v biases and tied embeddings: every path of the forward pass. */
export const EVERY_PATH_CONFIG: ModelConfig = {
  ...SMALL_LLAMA_CONFIG,
  architecture: 'Qwen2ForCausalLM',
  vocabSize: 64,
  hiddenSize: 32,
  intermediateSize: 48,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  tieWordEmbeddings: true,
  attentionBias: true,
};

/** `rows` sequences of that model's tokens, `length` long less one per row, targets from t = 2. */
export function batchOf(rows: number, length: number) {
  const sequences = Array.from({ length: rows }, (_, row) => {
    const ids = Array.from({ length: length - row }, (_, t) => (row * 29 + t * 11) % 64);
    return { ids, isTarget: ids.map((_, t) => t > 1) };
  });
  const targets = sequences.reduce((n, s) => n + s.isTarget.filter(Boolean).length, 0);
  return makeBatch(sequences, targets, EVERY_PATH_CONFIG.vocabSize);
}
