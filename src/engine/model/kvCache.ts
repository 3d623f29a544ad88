/**
 * The keys and values of every token seen so far, per layer, so generation feeds the model one
 * new token per step instead of the whole sequence.
 *
 * Why a fixed capacity, written in place: tfjs-webgpu keeps freed GPU buffers in a pool keyed by
 * their exact byte size and never returns them to the device. A cache grown by `concat` makes a
 * tensor of a new size every token, so every step would strand buffers of a size never asked for
 * again. Here each layer's keys and values are a `tf.Variable` of shape
 * [batch, kvHeads, capacity, headDim], allocated once per generation; a step pads the new
 * entries to full capacity and adds them in (slots at or past `length` are still zero, so the
 * sum writes them exactly), and `assign` swaps in a tensor of the same size. Attention runs over
 * all `capacity` slots with the unused ones masked out, so every step has the same shapes and
 * the buffer pool settles after the first one. With our kernels on, one kernel writes the new
 * entries in (decodeOps.ts) instead of a pad and an add.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config';
import { rotaryTable, type RotaryTable } from './rope';
import { fusedWriteSlots, ownInferenceKernelsActive } from '../decodeOps';

export class KvCache {
  readonly keys: tf.Variable<tf.Rank.R4>[];
  readonly values: tf.Variable<tf.Rank.R4>[];
  /** [batch, capacity]: 1 where a slot holds a real token, 0 for padding and unused slots. */
  readonly slotMask: tf.Variable<tf.Rank.R2>;
  /** cos/sin of every position a slot can hold, computed once per cache. */
  readonly rotary: RotaryTable;
  /** Slots used so far; the same for every row (prompts are left-padded to a common length). */
  length = 0;

  constructor(
    config: ModelConfig,
    readonly batchSize: number,
    readonly capacity: number,
  ) {
    if (!(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new Error(`a KV cache needs a positive batch size, got ${batchSize}`);
    }
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new Error(`a KV cache needs a positive capacity, got ${capacity}`);
    }
    const shape: [number, number, number, number] = [
      batchSize,
      config.numKvHeads,
      capacity,
      config.headDim,
    ];
    const zeros = () => tf.tidy(() => tf.variable(tf.zeros<tf.Rank.R4>(shape), false));
    this.keys = Array.from({ length: config.numLayers }, zeros);
    this.values = Array.from({ length: config.numLayers }, zeros);
    this.rotary = rotaryTable(config, capacity);
    this.slotMask = tf.tidy(() => tf.variable(tf.zeros<tf.Rank.R2>([batchSize, capacity]), false));
  }

  /**
   * Takes the next `tokenMask.shape[1]` slots for new tokens (mask [batch, T]: 1 = real token)
   * and returns where they start and their position ids [batch, T]: the count of real tokens
   * before each one, so a left-padded prompt is numbered as if it were alone (padding gets 0).
   */
  append(tokenMask: tf.Tensor2D): { start: number; positions: tf.Tensor2D } {
    const [batch, count] = tokenMask.shape;
    if (batch !== this.batchSize) {
      throw new Error(`the KV cache holds ${this.batchSize} sequences, got a batch of ${batch}`);
    }
    const start = this.length;
    if (start + count > this.capacity) {
      throw new Error(
        `the KV cache is full: ${start} + ${count} tokens exceed its capacity of ${this.capacity}`,
      );
    }
    const positions = tf.tidy(() => {
      this.slotMask.assign(this.written(this.slotMask, tokenMask.toFloat(), start, 1));
      return tf
        .cumsum(this.slotMask, 1)
        .sub(1)
        .maximum(0)
        .slice([0, start], [batch, count])
        .toInt() as tf.Tensor2D;
    });
    this.length = start + count;
    return { start, positions };
  }

  /** Writes a layer's new keys and values ([batch, kvHeads, T, headDim]) at `start`; returns the
   *  layer's whole cache, all `capacity` slots. */
  store(
    layer: number,
    keys: tf.Tensor4D,
    values: tf.Tensor4D,
    start: number,
  ): [tf.Tensor4D, tf.Tensor4D] {
    const cachedKeys = this.keys[layer]!;
    const cachedValues = this.values[layer]!;
    tf.tidy(() => {
      cachedKeys.assign(this.written(cachedKeys, keys, start, 2));
      cachedValues.assign(this.written(cachedValues, values, start, 2));
    });
    return [cachedKeys, cachedValues];
  }

  /** Fills every row with the single row of `source` (a one-row cache of the same capacity). */
  repeatRow(source: KvCache): void {
    if (source.batchSize !== 1 || source.capacity !== this.capacity) {
      throw new Error(
        `can only repeat a one-row cache of capacity ${this.capacity}, got ${source.batchSize} rows of ${source.capacity}`,
      );
    }
    tf.tidy(() => {
      const rows: [number, number, number, number] = [this.batchSize, 1, 1, 1];
      this.keys.forEach((keys, layer) => keys.assign(source.keys[layer]!.tile(rows)));
      this.values.forEach((values, layer) => values.assign(source.values[layer]!.tile(rows)));
      this.slotMask.assign(source.slotMask.tile([this.batchSize, 1]));
    });
    this.length = source.length;
  }

  /** `cached` with `entries` in the slots (along `axis`) from `start` on, which are still zero. */
  private written<T extends tf.Tensor>(cached: T, entries: T, start: number, axis: number): T {
    if (ownInferenceKernelsActive(this.capacity)) {
      return fusedWriteSlots(cached, entries, start, axis);
    }
    return cached.add(this.placeAt(entries, start, axis));
  }

  /** Zero-pads `x` along `axis` so that it covers all slots with its entries at `start`. */
  private placeAt<T extends tf.Tensor>(x: T, start: number, axis: number): T {
    const padding = x.shape.map((): [number, number] => [0, 0]);
    padding[axis] = [start, this.capacity - start - x.shape[axis]!];
    return tf.pad(x, padding);
  }

  dispose(): void {
    tf.dispose([...this.keys, ...this.values, this.slotMask, this.rotary.cos, this.rotary.sin]);
  }
}
