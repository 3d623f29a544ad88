/**
 * Rotary position embeddings (RoPE) as transformers applies them to Llama and Qwen2: each head's
 * vector is split into halves (x1, x2) that are rotated as pairs (x1[i], x2[i]) by the angle
 * position · inv_freq[i] — the "rotate_half" layout, not the interleaved one of the original paper.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';

/**
 * inv_freq[i] = theta^(-2i/headDim), with Llama 3's long-context adjustment when the config asks
 * for it: wavelengths longer than the original context are stretched by `factor`, short ones
 * are kept, and those in between are blended smoothly.
 */
export function inverseFrequencies(config: ModelConfig): Float32Array {
  const { headDim, ropeTheta, ropeScaling } = config;
  const frequencies = new Float32Array(headDim / 2);
  for (let i = 0; i < frequencies.length; i++) {
    let frequency = 1 / ropeTheta ** ((2 * i) / headDim);
    if (ropeScaling) {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings } = ropeScaling;
      const wavelength = (2 * Math.PI) / frequency;
      const longestKept = originalMaxPositionEmbeddings / highFreqFactor;
      const shortestStretched = originalMaxPositionEmbeddings / lowFreqFactor;
      if (wavelength > shortestStretched) {
        frequency /= factor;
      } else if (wavelength >= longestKept) {
        const smooth =
          (originalMaxPositionEmbeddings / wavelength - lowFreqFactor) /
          (highFreqFactor - lowFreqFactor);
        frequency = (1 - smooth) * (frequency / factor) + smooth * frequency;
      }
    }
    frequencies[i] = frequency;
  }
  return frequencies;
}

/** cos and sin of the angle position · inv_freq[i], one row per position: [positions, headDim/2]. */
export interface RotaryTable {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/**
 * The table for positions 0 … count-1, computed on the CPU: WGSL allows sin and cos to be off by
 * 2^-11, which on WebGPU moved logits by ~2e-3. Like transformers, the angle is rounded to
 * float32 before taking its cosine and sine.
 */
export function rotaryTable(config: ModelConfig, count: number): RotaryTable {
  const frequencies = inverseFrequencies(config);
  const half = frequencies.length;
  const cos = new Float32Array(count * half);
  const sin = new Float32Array(count * half);
  for (let position = 0; position < count; position++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(position * frequencies[i]!);
      cos[position * half + i] = Math.cos(angle);
      sin[position * half + i] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [count, half]), sin: tf.tensor2d(sin, [count, half]) };
}

/**
 * The rows of `positions` [B, T] (int32, within the table), each repeated for both halves of a
 * head, as [B, 1, T, headDim], and the matrix that turns a head into rotate_half of it.
 */
export function rotaryAt(table: RotaryTable, positions: tf.Tensor2D): RotaryTable4D {
  return tf.tidy(() => {
    const [batch, length] = positions.shape;
    const rows = positions.reshape([-1]);
    const headDim = 2 * table.cos.shape[1];
    const shape: [number, number, number, number] = [batch, 1, length, headDim];
    // Gathered first: a decode step repeats only its own rows, not the whole table.
    const bothHalves = (half: tf.Tensor2D) => {
      const atPositions = tf.gather(half, rows);
      return tf.concat([atPositions, atPositions], 1).reshape(shape) as tf.Tensor4D;
    };
    return {
      cos: bothHalves(table.cos),
      sin: bothHalves(table.sin),
      rotateHalf: rotateHalf(headDim),
    };
  });
}

/**
 * M [d, d] with x · M = rotate_half(x) = concat(−x₂, x₁) for a head x = concat(x₁, x₂): a
 * signed permutation, so the product is exact, and one matmul where a split, a negation and a
 * concat would each copy the head (and again in the backward pass).
 */
function rotateHalf(headDim: number): tf.Tensor2D {
  const half = headDim / 2;
  const matrix = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    matrix[(half + i) * headDim + i] = -1;
    matrix[i * headDim + half + i] = 1;
  }
  return tf.tensor2d(matrix, [headDim, headDim]);
}

export interface RotaryTable4D {
  /** cos and sin at each token's position, repeated for both halves: [B, 1, T, headDim]. */
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  /** See `rotateHalf`. */
  rotateHalf: tf.Tensor2D;
}

/**
 * Rotates x [B, heads, T, headDim] by the angles (broadcast over heads):
 * x · cos + rotate_half(x) · sin, as transformers' apply_rotary_pos_emb.
 */
export function applyRotary(x: tf.Tensor4D, { cos, sin, rotateHalf }: RotaryTable4D): tf.Tensor4D {
  return tf.tidy(() => {
    const headDim = x.shape[3];
    const rotated = tf.matMul(x.reshape([-1, headDim]), rotateHalf).reshape(x.shape);
    return x.mul(cos).add(rotated.mul(sin));
  });
}
