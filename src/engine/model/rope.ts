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

/** The rows of `positions` [B, T] (int32, within the table), as [B, 1, T, headDim/2]. */
export function rotaryAt(table: RotaryTable, positions: tf.Tensor2D): RotaryTable4D {
  return tf.tidy(() => {
    const [batch, length] = positions.shape;
    const rows = positions.reshape([-1]);
    const shape: [number, number, number, number] = [batch, 1, length, table.cos.shape[1]];
    return {
      cos: tf.gather(table.cos, rows).reshape(shape) as tf.Tensor4D,
      sin: tf.gather(table.sin, rows).reshape(shape) as tf.Tensor4D,
    };
  });
}

export interface RotaryTable4D {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

/** Rotates x [B, heads, T, headDim] by the angles (broadcast over heads). */
export function applyRotary(x: tf.Tensor4D, { cos, sin }: RotaryTable4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    const first: tf.Tensor4D = x1.mul(cos).sub(x2.mul(sin));
    const second: tf.Tensor4D = x2.mul(cos).add(x1.mul(sin));
    return tf.concat([first, second], 3);
  });
}
