import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import {
  float16Bits,
  isPackedHalves,
  logicalShape,
  packFloat16,
  packHalves,
  unpackFloat16,
  unpackHalves,
} from '../../src/engine/model/float16';
import { forward } from '../../src/engine/model/llama';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/model/safetensors';
import {
  assignFloat32Weight,
  disposeModelWeights,
  estimateModelMemory,
  loadModelWeights,
  readFloat32Weight,
  storedCopy,
  weightBytes,
  weightStorageOf,
  type ModelWeights,
} from '../../src/engine/model/weights';
import { readWeightValues, variablesOf } from '../../src/engine/pool/protocol';
import { variableGrads } from '../../src/engine/train/gradients';
import { LoraAdapter, setBaseTrainable } from '../../src/engine/train/lora';
import { randomModelWeights } from '../../src/engine/train/randomModel';
import { weightedTokenLoss } from '../../src/engine/train/sft';
import { batchOf, EVERY_PATH_CONFIG } from './smallModel';

const config = EVERY_PATH_CONFIG;

describe('float16 bits', () => {
  it('rounds to the nearest float16, ties to even, with subnormals, saturating beyond ±65504', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [-0, 0x8000],
      [65504, 0x7bff],
      // Halfway between 65504 and 65536 (beyond float16) would round up: saturates instead.
      [65520, 0x7bff],
      [65519, 0x7bff],
      [-1e6, 0xfbff],
      [Infinity, 0x7bff],
      [-Infinity, 0xfbff],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      // Halfway between 0 and the smallest subnormal: ties to even (zero).
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [1023 * 2 ** -24, 0x03ff],
      // Halfway between the largest subnormal and the smallest normal: to the even one (normal).
      [1023.5 * 2 ** -24, 0x0400],
      // Halfway between 1 and the next float16: ties to even (1); just above it rounds up.
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [1 + 2 ** -11 + 2 ** -20, 0x3c01],
      // 2047.5 · 2^-10 lies halfway and carries into the exponent.
      [2 - 2 ** -11, 0x4000],
    ];
    for (const [value, bits] of cases) expect([value, float16Bits(value)]).toEqual([value, bits]);
    expect(float16Bits(NaN)).toBe(0x7e00);
  });

  it('gives every finite float16 back from its own value, and the nearest for values between', () => {
    const all = new Int32Array(0x8000);
    for (let i = 0; i < all.length; i++) all[i] = 2 * i + ((2 * i + 1) << 16);
    const values = unpackFloat16(all);
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = values[bits]!;
      if (!Number.isFinite(value)) continue;
      expect(float16Bits(value)).toBe(Object.is(value, -0) ? 0x8000 : bits);
    }
    // Between two neighbouring positive halves the nearer one wins, whichever side it is on.
    for (let bits = 1; bits < 0x7bff; bits += 97) {
      const [low, high] = [values[bits]!, values[bits + 1]!];
      expect(float16Bits(low + (high - low) * 0.49)).toBe(bits);
      expect(float16Bits(low + (high - low) * 0.51)).toBe(bits + 1);
    }
  });

  it('packs pairs with the first value in the low 16 bits, as WGSL does', () => {
    const packed = packFloat16([1, -2, 0.5, 65504]);
    expect([...packed].map((p) => [p & 0xffff, p >>> 16])).toEqual([
      [0x3c00, 0xc000],
      [0x3800, 0x7bff],
    ]);
    expect([...unpackFloat16(packed)]).toEqual([1, -2, 0.5, 65504]);
    expect(() => packFloat16([1, 2, 3])).toThrow(/pairs/);
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`float16 weight storage on ${backend}`, () => {
    let rounded: ModelWeights;
    let packed: ModelWeights;

    beforeAll(async () => {
      await selectBackend(backend);
      const original = randomModelWeights(config, 5, 0.1);
      packed = await storedCopy(original, 'float16');
      disposeModelWeights(original);
      rounded = await storedCopy(packed, 'float32');
    });

    afterAll(() => {
      disposeModelWeights(rounded);
      disposeModelWeights(packed);
    });

    it('packs the matrices only, in half their bytes', () => {
      const embedding = packed.get('model.embed_tokens.weight')!;
      expect(embedding.dtype).toBe('int32');
      expect(embedding.shape).toEqual([64, 16]);
      expect(logicalShape(embedding)).toEqual([64, 32]);
      expect(packed.get('model.norm.weight')!.dtype).toBe('float32');
      expect(packed.get('model.layers.0.self_attn.q_proj.bias')!.dtype).toBe('float32');
      expect(weightStorageOf(packed)).toBe('float16');
      expect(weightStorageOf(rounded)).toBe('float32');
      const estimate = estimateModelMemory(config, 16, 1, 'float16');
      expect(weightBytes(packed)).toBe(estimate.parameterBytes);
      expect(weightBytes(rounded)).toBe(estimateModelMemory(config, 16).parameterBytes);
      expect(weightBytes(packed) / weightBytes(rounded)).toBeLessThan(0.52);
    });

    it('gives the logits of the same model with float32 weights rounded to float16', async () => {
      const logits = async (weights: ModelWeights, ids: number[][]) => {
        const input = tf.tensor2d(ids, undefined, 'int32');
        const result = forward(config, weights, input);
        const values = (await result.data()) as Float32Array;
        tf.dispose([input, result]);
        return values;
      };
      const before = tf.memory().numTensors;
      // 16 rows: each product widens its weight for the backend's matmul, so the same sums.
      const many = [
        [1, 5, 9, 13, 2, 40, 63, 7],
        [3, 8, 21, 34, 55, 6, 0, 12],
      ];
      expect(await logits(packed, many)).toEqual(await logits(rounded, many));
      // 4 rows: the products read the halves in place: on cpu summing in another order; on wasm
      // in SIMD, widening them exactly and summing as the float32 product does.
      const few = [[1, 5, 9, 13]];
      const direct = await logits(packed, few);
      const reference = await logits(rounded, few);
      if (backend === 'wasm') expect(direct).toEqual(reference);
      const scale = Math.max(...reference.map(Math.abs));
      const difference = Math.max(...direct.map((x, i) => Math.abs(x - reference[i]!)));
      expect(difference / scale).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('multiplies by halves in place as by the widened weight, transposed or not', async () => {
      // up_proj's weight is [48, 32]: x·Wᵀ takes 32 features, dy·W 48. A [7, 32] weight gives
      // an output width that is not a multiple of the four rows read at a time.
      const upProj = packed.get('model.layers.0.mlp.up_proj.weight')!;
      const odd = tf.tidy(() => packHalves(tf.randomUniform([7, 32], -1, 1, 'float32', 9)));
      // 38 features: the last six halves of a row after four groups of eight. Values below
      // 6.1e-5 are float16 subnormals, and 65504 the largest half.
      const scales = Array.from({ length: 5 * 38 }, (_, i) => [1e-5, 1, 65504][i % 3]!);
      const ragged = tf.tidy(() =>
        packHalves(
          tf.randomUniform([5, 38], -1, 1, 'float32', 10).mul(tf.tensor2d(scales, [5, 38])),
        ),
      );
      for (const [weight, rows, transposeB] of [
        [upProj, 3, true],
        [upProj, 3, false],
        [upProj, 20, true],
        [upProj, 20, false],
        [odd, 3, true],
        [ragged, 2, true],
      ] as const) {
        const features = logicalShape(weight)[transposeB ? 1 : 0]!;
        const input = tf.randomUniform([rows, features], -1, 1, 'float32', 4);
        const result = tf
          .engine()
          .runKernel('SealFloat16MatMul', { a: input, b: weight }, { transposeB }) as tf.Tensor;
        const expected = tf.matMul(input, unpackHalves(weight), false, transposeB);
        const [ours, theirs] = [await result.data(), await expected.data()];
        expect(ours.length).toBe(theirs.length);
        const difference = Math.max(...ours.map((v, i) => Math.abs(v - theirs[i]!)));
        const label = `${weight.shape.join('×')} packed, ${rows} rows, transposeB ${transposeB}`;
        const scale = Math.max(...theirs.map(Math.abs));
        expect(difference / scale, label).toBeLessThan(1e-6);
        // wasm's SIMD products widen the halves exactly and sum as the float32 product does.
        if (backend === 'wasm' && transposeB && rows <= 8) expect(ours, label).toEqual(theirs);
        tf.dispose([input, result, expected]);
      }
      tf.dispose([odd, ragged]);
    });

    it("trains a LoRA adapter with the rounded model's gradients, exactly, and merges into halves", async () => {
      const settings = {
        targets: ['q_proj', 'v_proj', 'down_proj'],
        rank: 4,
        alpha: 8,
        dropout: 0,
      };
      const onPacked = LoraAdapter.create(packed, settings, 2);
      const onRounded = LoraAdapter.create(rounded, settings, 2);
      const batch = batchOf(3, 12);
      try {
        onPacked.variables().forEach((variable, i) => {
          const moved = tf.randomNormal(variable.shape, 0, 0.1, 'float32', i);
          variable.assign(moved);
          onRounded.variables()[i]!.assign(moved);
          moved.dispose();
        });
        const gradients = async (weights: ModelWeights, adapter: LoraAdapter) => {
          const model = { config, weights };
          const { value, grads } = variableGrads(
            () => weightedTokenLoss(model, batch, adapter),
            adapter.variables(),
          );
          const read = await Promise.all(Object.values(grads).map((g) => g.data()));
          const loss = (await value.data())[0];
          tf.dispose([value, ...Object.values(grads)]);
          return { loss, read };
        };
        const before = tf.memory().numTensors;
        const packedGradients = await gradients(packed, onPacked);
        expect(tf.memory().numTensors).toBe(before);
        expect(packedGradients).toEqual(await gradients(rounded, onRounded));

        const path = 'model.layers.1.self_attn.q_proj';
        const merged = onRounded.mergedWeight(path, rounded.get(`${path}.weight`)!)!;
        const expected = unpackFloat16(packFloat16((await merged.data()) as Float32Array));
        merged.dispose();
        const kept = await readFloat32Weight(packed.get(`${path}.weight`)!);
        onPacked.mergeInto(packed);
        const weight = packed.get(`${path}.weight`)!;
        expect(isPackedHalves(weight)).toBe(true);
        const after = await readFloat32Weight(weight);
        expect(after).toEqual(expected);
        expect(after).not.toEqual(kept);
        assignFloat32Weight(weight, kept, logicalShape(weight));
        expect(await readFloat32Weight(weight)).toEqual(kept);
      } finally {
        onPacked.dispose();
        onRounded.dispose();
        tf.dispose(Object.values(batch));
      }
    });

    it('refuses full fine-tuning with a clear message, changing nothing', () => {
      expect(() => setBaseTrainable(packed, true)).toThrow(/full fine-tuning needs float32/);
      expect([...packed.values()].some((v) => v.trainable)).toBe(false);
    });

    it('hands pool workers the same halves', async () => {
      const values = await readWeightValues(packed);
      const copy = variablesOf(values);
      try {
        const embedding = copy.get('model.embed_tokens.weight')!;
        expect(embedding.dtype).toBe('int32');
        expect(await embedding.data()).toEqual(
          await packed.get('model.embed_tokens.weight')!.data(),
        );
        expect(weightStorageOf(copy)).toBe('float16');
      } finally {
        disposeModelWeights(copy);
      }
    });

    it('loads safetensors into halves, checking shapes as for float32', async () => {
      const tensors = await Promise.all(
        [...rounded].map(async ([name, v]) => ({
          name,
          shape: v.shape,
          data: (await v.data()) as Float32Array,
        })),
      );
      const file = parseSafetensors(serializeSafetensors(tensors), 'model.safetensors');
      const { weights } = await loadModelWeights(config, [file], undefined, 'float16');
      try {
        for (const { name, shape, data } of tensors) {
          const variable = weights.get(name)!;
          const stored = shape.length === 2 ? packFloat16(data) : data;
          expect([name, variable.shape, await variable.data()]).toEqual([
            name,
            shape.length === 2 ? [shape[0], shape[1]! / 2] : shape,
            stored,
          ]);
        }
      } finally {
        disposeModelWeights(weights);
      }
    });
  });
}

describe('packing kernels (cpu)', () => {
  it('pack and unpack tensors as the JavaScript functions do, and pass float32 through', async () => {
    await selectBackend('cpu');
    const x = tf.tensor2d([1, -2, 0.1, 3e-6, 70000, 0.333], [3, 2]);
    const packed = packHalves(x);
    expect(packed.shape).toEqual([3, 1]);
    expect(await packed.data()).toEqual(packFloat16(await x.data()));
    const wide = unpackHalves(packed);
    expect(wide.shape).toEqual([3, 2]);
    expect(await wide.data()).toEqual(unpackFloat16((await packed.data()) as Int32Array));
    expect(unpackHalves(x)).toBe(x);
    tf.dispose([x, packed, wide]);
  });
});
