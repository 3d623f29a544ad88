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

export interface RotaryTables {
  /** [B, 1, T, headDim/2], broadcast over heads. */
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

/** cos and sin of every (position, frequency) angle; `positions` is [B, T]. */
export function rotaryTables(config: ModelConfig, positions: tf.Tensor2D): RotaryTables {
  return tf.tidy(() => {
    const [batch, length] = positions.shape;
    const frequencies = tf.tensor1d(inverseFrequencies(config));
    const angles = positions
      .toFloat()
      .reshape([batch, 1, length, 1])
      .mul(frequencies.reshape([1, 1, 1, -1])) as tf.Tensor4D;
    return { cos: tf.cos(angles), sin: tf.sin(angles) };
  });
}

/** Rotates x [B, heads, T, headDim] by the tables' angles. */
export function applyRotary(x: tf.Tensor4D, { cos, sin }: RotaryTables): tf.Tensor4D {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    const first: tf.Tensor4D = x1.mul(cos).sub(x2.mul(sin));
    const second: tf.Tensor4D = x2.mul(cos).add(x1.mul(sin));
    return tf.concat([first, second], 3);
  });
}
