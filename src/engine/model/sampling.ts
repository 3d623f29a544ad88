/**
 * Picking the next token from the logits: greedy, or sampling with temperature, top-k and top-p
 * (nucleus), in the order transformers applies them. The seeded draws are made on the CPU, one
 * per row per step, whatever the backend. On webgpu one program of ours makes the whole choice
 * and a step reads back one id per row (webgpuSampling.ts). Elsewhere the device does the wide
 * work (softmax over the vocabulary, top candidates per row) and the CPU chooses from a small
 * readback. Both choose as `chooseToken` does, so a seed gives the same tokens on every backend
 * that computes the same probabilities (up to float rounding at the boundary between two tokens).
 */
import * as tf from '@tensorflow/tfjs';
import { createRandom, streamSeed, type Random } from '../random';
import { deviceSamplingActive, sampleOnDevice } from '../webgpuSampling';

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (always the most likely token). */
  temperature: number;
  /** Keep only the k most likely tokens; 0 keeps them all. */
  topK: number;
  /** Keep the fewest most likely tokens whose probability reaches p; 1 keeps them all. */
  topP: number;
  /** Row i draws from its own stream of this seed, whatever the batch holds besides it. */
  seed: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

/**
 * Without top-k, the device still hands back only this many best candidates per row; the rare
 * draw that falls outside them (or a nucleus wider than them) reads that row in full, so the
 * result is exact either way.
 */
export const CANDIDATES_WITHOUT_TOP_K = 256;

export function validateSampling(options: SamplingOptions): void {
  const { temperature, topK, topP, seed } = options;
  if (!(Number.isFinite(temperature) && temperature >= 0)) {
    throw new Error(`temperature must be 0 (greedy) or positive, got ${temperature}`);
  }
  if (!(Number.isInteger(topK) && topK >= 0)) {
    throw new Error(`top-k must be a whole number ≥ 0 (0 = off), got ${topK}`);
  }
  if (!(topP > 0 && topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${topP}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be a whole number, got ${seed}`);
}

/**
 * Chooses a token from candidates sorted by falling probability, given a uniform draw `u`.
 * `complete` says the candidates are the whole distribution (top-k, or a full row); otherwise
 * their probabilities are parts of a distribution of total 1 whose remainder was not read, and
 * the answer is null when the choice depends on that remainder.
 */
export function chooseToken(
  probs: ArrayLike<number>,
  ids: ArrayLike<number>,
  topP: number,
  complete: boolean,
  u: number,
): number | null {
  let candidateMass = 0;
  for (let j = 0; j < probs.length; j++) candidateMass += probs[j]!;
  const total = complete ? candidateMass : 1;

  // Nucleus: a token stays while the tokens more likely than it hold less than topP of the mass.
  let kept = probs.length;
  let keptMass = candidateMass;
  if (topP < 1) {
    keptMass = 0;
    kept = 0;
    while (kept < probs.length && (kept === 0 || keptMass < topP * total)) {
      keptMass += probs[kept]!;
      kept += 1;
    }
    if (keptMass < topP * total && !complete) return null;
  } else if (!complete) {
    keptMass = total;
  }

  const target = u * keptMass;
  let cumulative = 0;
  for (let j = 0; j < kept; j++) {
    cumulative += probs[j]!;
    if (target < cumulative) return ids[j]!;
  }
  // Past the candidates: either the unread remainder was drawn, or float rounding at the end.
  if (!complete && topP >= 1) return null;
  return ids[kept - 1]!;
}

/** Sorts a full row of probabilities (a Float32Array read back from the device) by falling value. */
function sortRow(row: Float32Array): { probs: Float32Array; ids: Int32Array } {
  const ids = Int32Array.from(row.keys());
  ids.sort((a, b) => row[b]! - row[a]! || a - b);
  return { probs: Float32Array.from(ids, (id) => row[id]!), ids };
}

/**
 * The token a full row of probabilities gives for the draw `u`, with top-k (0: off) and top-p:
 * what `TokenSampler` computes, all on the CPU.
 */
export function chooseFromRow(row: Float32Array, topK: number, topP: number, u: number): number {
  const { probs, ids } = sortRow(row);
  const kept = topK > 0 ? topK : probs.length;
  return chooseToken(probs.subarray(0, kept), ids.subarray(0, kept), topP, true, u)!;
}

/** Samples one token per row per step for a batch, with one seeded stream per row. */
export class TokenSampler {
  private readonly streams: Random[];
  private readonly candidates: number;

  constructor(
    private readonly options: SamplingOptions,
    private readonly vocabSize: number,
    rows: number,
  ) {
    validateSampling(options);
    this.streams = Array.from({ length: rows }, (_, row) =>
      createRandom(streamSeed(options.seed, row)),
    );
    const greedy = options.temperature === 0;
    this.candidates = Math.min(
      vocabSize,
      greedy ? 1 : options.topK > 0 ? options.topK : CANDIDATES_WITHOUT_TOP_K,
    );
  }

  /** Next token of every row from last-position logits [rows, vocab]; one small readback. */
  async sample(logits: tf.Tensor2D): Promise<number[]> {
    const { temperature, topK, topP } = this.options;
    const k = this.candidates;
    if (deviceSamplingActive()) {
      const rows = logits.shape[0];
      const draws = new Float32Array(rows);
      if (temperature > 0) for (let row = 0; row < rows; row++) draws[row] = this.streams[row]!();
      const tokens = tf.tidy(() =>
        sampleOnDevice(logits, tf.tensor1d(draws), { temperature, topK, topP }),
      );
      try {
        return Array.from(await tokens.data());
      } finally {
        tokens.dispose();
      }
    }
    if (temperature === 0) {
      const best = tf.tidy(() => tf.topk(logits, 1).indices);
      const ids = await best.data();
      best.dispose();
      return Array.from(ids);
    }
    const probs = tf.tidy(() => tf.softmax(logits.div(temperature)) as tf.Tensor2D);
    const packed = tf.tidy(() => {
      const top = tf.topk(probs, k);
      return tf.concat([top.values, top.indices.toFloat()], 1);
    });
    try {
      const values = await packed.data();
      const rows = logits.shape[0];
      const tokens: number[] = [];
      for (let row = 0; row < rows; row++) {
        const u = this.streams[row]!();
        const base = row * 2 * k;
        const rowProbs = values.subarray(base, base + k);
        const rowIds = values.subarray(base + k, base + 2 * k);
        const complete = topK > 0 || k === this.vocabSize;
        let token = chooseToken(rowProbs, rowIds, topP, complete, u);
        token ??= chooseFromRow(await readRow(probs, row), 0, topP, u);
        tokens.push(token);
      }
      return tokens;
    } finally {
      packed.dispose();
      probs.dispose();
    }
  }
}

async function readRow(probs: tf.Tensor2D, row: number): Promise<Float32Array> {
  const slice = probs.slice([row, 0], [1, probs.shape[1]]);
  try {
    return (await slice.data()) as Float32Array;
  } finally {
    slice.dispose();
  }
}
