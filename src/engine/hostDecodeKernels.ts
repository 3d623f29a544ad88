/**
 * Our inference kernels (the ops of decodeOps.ts) on tfjs's cpu and wasm backends, as JavaScript
 * loops over the tensors' values (on wasm, views of its heap). Decoding a token of a small model
 * is a few hundred tiny ops, each costing tfjs several microseconds of bookkeeping whatever its
 * size: as stock ops a layer's RMSNorm is five kernels, RoPE nine per rotated tensor, attention
 * six, a KV-cache write two and SwiGLU three. Here each is one kernel.
 *
 * Sums and exponentials are taken in double precision and rounded once, where the stock ops round
 * after each step: results agree with them to float32 rounding, not bit for bit. Attention skips
 * the slots a query may not see, whose weight the stock softmax rounds to exactly zero (their
 * score is −1e9), so its cost grows with the tokens seen rather than with the cache's capacity.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ATTENTION_KERNEL,
  countInferenceKernelRun,
  HEADS_KERNEL,
  RMS_NORM_KERNEL,
  SWIGLU_KERNEL,
  WRITE_SLOTS_KERNEL,
} from './decodeOps';
import { computed, type HostKernelArgs, type Values } from './hostBackend';

/** x / sqrt(mean(x²) + eps) · weight for each row of x [..., width]. */
function rmsNorm({ inputs, backend, attrs }: HostKernelArgs<{ epsilon: number }>) {
  const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
  const width = x.shape[x.shape.length - 1]!;
  return computed(backend, x.shape, [x, weight], (out, xs: Values, ws: Values) => {
    for (let base = 0; base < out.length; base += width) {
      let squares = 0;
      for (let i = 0; i < width; i++) squares += xs[base + i]! * xs[base + i]!;
      const scale = 1 / Math.sqrt(squares / width + attrs.epsilon);
      for (let i = 0; i < width; i++) out[base + i] = xs[base + i]! * scale * ws[i]!;
    }
  });
}

/** gate · sigmoid(gate) · up. */
function swiGlu({ inputs, backend }: HostKernelArgs<unknown>) {
  const { gate, up } = inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
  return computed(backend, gate.shape, [gate, up], (out, gates: Values, ups: Values) => {
    for (let i = 0; i < out.length; i++) {
      const g = gates[i]!;
      out[i] = (g / (1 + Math.exp(-g))) * ups[i]!;
    }
  });
}

/**
 * Split: x [B, T, heads·d] into heads [B, heads, T, d], rotated by RoPE (the rotate_half layout
 * of rope.ts) at positions [B, T] of the table cos/sin [positions, d/2] when given them. Merge:
 * the inverse, heads [B, heads, T, d] back into [B, T, heads·d], rotated by −θ (the split's
 * gradient, and attention's output heads without a table).
 */
export function headsKernel(direction: 'split' | 'merge') {
  return ({ inputs, backend, attrs }: HostKernelArgs<{ heads: number }>) => {
    const { x, cos, sin, positions } = inputs;
    const { heads } = attrs;
    const batch = x!.shape[0]!;
    const length = direction === 'split' ? x!.shape[1]! : x!.shape[2]!;
    const d = tf.util.sizeFromShape(x!.shape) / (batch * length * heads);
    const width = heads * d;
    const half = d / 2;
    const sign = direction === 'split' ? 1 : -1;
    const outShape = direction === 'split' ? [batch, heads, length, d] : [batch, length, width];
    const rotary = cos && sin && positions ? [cos, sin, positions] : [];
    return computed(backend, outShape, [x!, ...rotary], (out, xs, cs, ss, ps) => {
      // `row` walks the [B, T, heads·d] layout, `headed` the [B, heads, T, d] one.
      let headed = 0;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          for (let t = 0; t < length; t++, headed += d) {
            const row = (b * length + t) * width + h * d;
            const [from, to] = direction === 'split' ? [row, headed] : [headed, row];
            if (!ps) {
              for (let i = 0; i < d; i++) out[to + i] = xs![from + i]!;
              continue;
            }
            const table = ps[b * length + t]! * half;
            for (let i = 0; i < half; i++) {
              const x1 = xs![from + i]!;
              const x2 = xs![from + half + i]!;
              const c = cs![table + i]!;
              const s = sign * ss![table + i]!;
              out[to + i] = x1 * c - x2 * s;
              out[to + half + i] = x2 * c + x1 * s;
            }
          }
        }
      }
    });
  };
}

/** cache [outer, slots, inner] (as seen along `axis`) with entries [outer, count, inner] from slot `start` on. */
function writeSlots({ inputs, backend, attrs }: HostKernelArgs<{ start: number; axis: number }>) {
  const { cache, entries } = inputs as { cache: tf.TensorInfo; entries: tf.TensorInfo };
  const { start, axis } = attrs;
  const slots = cache.shape[axis]!;
  const count = entries.shape[axis]!;
  const inner = tf.util.sizeFromShape(cache.shape.slice(axis + 1));
  const outer = tf.util.sizeFromShape(cache.shape.slice(0, axis));
  return computed(backend, cache.shape, [cache, entries], (out, cached, written) => {
    out.set(cached!);
    for (let o = 0; o < outer; o++) {
      const from = o * count * inner;
      out.set(written!.subarray(from, from + count * inner), (o * slots + start) * inner);
    }
  });
}

/**
 * softmax(q·kᵀ/√d + bias)·v as llama.ts's grouped-query attention computes it: queries
 * [B, heads, T, d], keys and values [B, kvHeads, slots, d], slotMask [B, slots]; query t (in
 * slot `queryStart + t`) sees slot s when s holds a real token and s ≤ its own slot. A query
 * that sees nothing (a padding token's) averages every slot evenly, as the stock ops do when all
 * its scores are −1e9. Output [B, T, heads·d].
 */
function attention({ inputs, backend, attrs }: HostKernelArgs<{ queryStart: number }>) {
  const { queries, keys, values, slotMask } = inputs as Record<string, tf.TensorInfo>;
  const [batch, heads, length, d] = queries!.shape as [number, number, number, number];
  const [, kvHeads, slots] = keys!.shape as [number, number, number, number];
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(d);
  const weights = new Float64Array(slots);
  const sum = new Float64Array(d);
  return computed(
    backend,
    [batch, length, heads * d],
    [queries!, keys!, values!, slotMask!],
    (out, qs, ks, vs, mask) => {
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const kvBase = (b * kvHeads + Math.floor(h / group)) * slots * d;
          for (let t = 0; t < length; t++) {
            const qBase = ((b * heads + h) * length + t) * d;
            const visible = Math.min(slots, attrs.queryStart + t + 1);
            let max = -Infinity;
            for (let s = 0; s < visible; s++) {
              if (mask![b * slots + s] === 0) {
                weights[s] = -Infinity;
                continue;
              }
              let dot = 0;
              for (let i = 0; i < d; i++) dot += qs![qBase + i]! * ks![kvBase + s * d + i]!;
              weights[s] = dot * scale;
              max = Math.max(max, weights[s]!);
            }
            // Nothing visible: every slot weighs the same.
            const seen = max === -Infinity ? slots : visible;
            let total = 0;
            for (let s = 0; s < seen; s++) {
              weights[s] = max === -Infinity ? 1 : Math.exp(weights[s]! - max);
              total += weights[s]!;
            }
            sum.fill(0);
            for (let s = 0; s < seen; s++) {
              const weight = weights[s]! / total;
              if (weight === 0) continue;
              const vBase = kvBase + s * d;
              for (let i = 0; i < d; i++) sum[i] = sum[i]! + weight * vs![vBase + i]!;
            }
            out.set(sum, ((b * length + t) * heads + h) * d);
          }
        }
      }
    },
  );
}

/** The kernel `run`, counted (tests check that ours really ran). */
function counting<Attrs>(name: string, run: (args: HostKernelArgs<Attrs>) => tf.TensorInfo) {
  return ((args: HostKernelArgs<Attrs>) => {
    countInferenceKernelRun(name);
    return run(args);
  }) as unknown as tf.KernelFunc;
}

/** Registers the kernels for cpu and wasm, once. */
export function registerHostInferenceKernels(): void {
  for (const backendName of ['cpu', 'wasm']) {
    if (tf.getKernel(ATTENTION_KERNEL, backendName)) continue;
    const kernels: [string, tf.KernelFunc][] = [
      [RMS_NORM_KERNEL, counting(RMS_NORM_KERNEL, rmsNorm)],
      [SWIGLU_KERNEL, counting(SWIGLU_KERNEL, swiGlu)],
      [HEADS_KERNEL, counting(HEADS_KERNEL, headsKernel('split'))],
      [WRITE_SLOTS_KERNEL, counting(WRITE_SLOTS_KERNEL, writeSlots)],
      [ATTENTION_KERNEL, counting(ATTENTION_KERNEL, attention)],
    ];
    for (const [kernelName, kernelFunc] of kernels) {
      tf.registerKernel({ kernelName, backendName, kernelFunc });
    }
  }
}
