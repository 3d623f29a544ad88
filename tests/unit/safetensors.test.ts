import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  parseSafetensors,
  serializeSafetensors,
} from '../../src/engine/model/safetensors';

const FIXTURES = new URL('../fixtures/models/', import.meta.url);

function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, FIXTURES)));
}

/** A file whose header is `header` (JSON-encoded unless already a string) then `dataBytes`. */
function craft(header: unknown, data: Uint8Array | number = 0, claimedLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === 'string' ? header : JSON.stringify(header),
  );
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const f32 = (name: string, shape: number[], begin: number) => ({
  [name]: {
    dtype: 'F32',
    shape,
    data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)],
  },
});

describe('parseSafetensors on files written by Python', () => {
  it('reads a transformers checkpoint: names, dtypes, shapes and metadata', () => {
    const file = parseSafetensors(fixture('tiny-llama/model.safetensors'), 'model.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    const embed = file.entries.get('model.embed_tokens.weight')!;
    expect(embed).toMatchObject({ dtype: 'F32', shape: [400, 32] });
    expect(file.entries.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([16, 32]);
    const values = file.readFloat32('model.embed_tokens.weight');
    expect(values.length).toBe(400 * 32);
    expect(values.every(Number.isFinite)).toBe(true);
  });

  it('widens F16 weights to the float32 values they round from', () => {
    const full = parseSafetensors(fixture('tiny-llama/model.safetensors'), 'f32');
    const half = parseSafetensors(fixture('tiny-llama-f16/model.safetensors'), 'f16');
    expect([...half.entries.keys()].sort()).toEqual([...full.entries.keys()].sort());
    for (const name of full.entries.keys()) {
      expect(half.entries.get(name)!.dtype).toBe('F16');
      const exact = full.readFloat32(name);
      const widened = half.readFloat32(name);
      for (let i = 0; i < exact.length; i++) {
        // F16 keeps 11 significant bits: relative error ≤ 2^-11 (absolute near subnormals).
        expect(Math.abs(widened[i]! - exact[i]!)).toBeLessThanOrEqual(
          Math.abs(exact[i]!) * 2 ** -11 + 2 ** -25,
        );
      }
    }
  });

  it('widens BF16 weights to the float32 values they round from', () => {
    const full = parseSafetensors(fixture('tiny-qwen2/model.safetensors'), 'f32');
    const brain = parseSafetensors(fixture('tiny-qwen2-bf16/model.safetensors'), 'bf16');
    for (const name of full.entries.keys()) {
      expect(brain.entries.get(name)!.dtype).toBe('BF16');
      const exact = full.readFloat32(name);
      const widened = brain.readFloat32(name);
      for (let i = 0; i < exact.length; i++) {
        expect(Math.abs(widened[i]! - exact[i]!)).toBeLessThanOrEqual(
          Math.abs(exact[i]!) * 2 ** -8,
        );
      }
    }
  });

  it('reads the same values from a Node Buffer as from a plain Uint8Array', () => {
    const path = new URL('tiny-llama/model.safetensors', FIXTURES);
    const fromBuffer = parseSafetensors(readFileSync(path), 'model.safetensors');
    const fromArray = parseSafetensors(
      fixture('tiny-llama/model.safetensors'),
      'model.safetensors',
    );
    const name = 'model.embed_tokens.weight';
    expect(fromBuffer.readFloat32(name)).toEqual(fromArray.readFloat32(name));
  });

  it('reads the golden logits', () => {
    const goldens = parseSafetensors(fixture('tiny-qwen2/goldens.safetensors'), 'goldens');
    expect(goldens.entries.get('logits')!.shape).toEqual([2, 7, 448]);
    expect(goldens.readFloat32('logits').length).toBe(2 * 7 * 448);
  });
});

describe('float widening', () => {
  it('decodes F16 bit patterns, subnormals and specials included', () => {
    const bits = new Uint16Array([
      0x3c00, 0xc000, 0x7bff, 0x0400, 0x03ff, 0x0001, 0x8001, 0x0000, 0x8000, 0x7c00, 0xfc00,
      0x7e00, 0x3555,
    ]);
    const values = [...float16BitsToFloat32(bits)];
    expect(values.slice(0, 7)).toEqual([
      1,
      -2,
      65504,
      2 ** -14,
      1023 * 2 ** -24,
      2 ** -24,
      -(2 ** -24),
    ]);
    expect(Object.is(values[7], 0)).toBe(true);
    expect(Object.is(values[8], -0)).toBe(true);
    expect(values.slice(9, 11)).toEqual([Infinity, -Infinity]);
    expect(values[11]).toBeNaN();
    expect(values[12]).toBe(0.333251953125);
  });

  it('decodes BF16 bit patterns, subnormals and specials included', () => {
    const bits = new Uint16Array([
      0x3f80, 0xc000, 0x0001, 0x0080, 0x7f7f, 0x7f80, 0xff80, 0x7fc0, 0x8000,
    ]);
    const values = [...bfloat16BitsToFloat32(bits)];
    expect(values.slice(0, 7)).toEqual([
      1,
      -2,
      2 ** -133,
      2 ** -126,
      (2 - 2 ** -7) * 2 ** 127,
      Infinity,
      -Infinity,
    ]);
    expect(values[7]).toBeNaN();
    expect(Object.is(values[8], -0)).toBe(true);
  });

  it('reads F16 and BF16 tensors through a file', () => {
    const data = new Uint8Array(new Uint16Array([0x3c00, 0x0001, 0x3f80, 0x0001]).buffer);
    const file = parseSafetensors(
      craft(
        {
          h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
        },
        data,
      ),
      'mixed.safetensors',
    );
    expect([...file.readFloat32('h')]).toEqual([1, 2 ** -24]);
    expect([...file.readFloat32('b')]).toEqual([1, 2 ** -133]);
  });

  it('refuses to read integer tensors as floats, naming the tensor', () => {
    const file = parseSafetensors(
      craft({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8),
      'ints.safetensors',
    );
    expect(() => file.readFloat32('ids')).toThrow(/ints\.safetensors: tensor 'ids' has dtype I64/);
    expect(() => file.readFloat32('nope')).toThrow(/ints\.safetensors: has no tensor 'nope'/);
  });
});

describe('parseSafetensors refuses hostile or broken files', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /bad\.st: only 5 bytes/],
    [
      'header length past the end',
      craft(f32('w', [2], 0), 8, 10_000n),
      /bad\.st: header length 10000 runs past the end/,
    ],
    [
      'header length beyond any sane size',
      craft(f32('w', [2], 0), 8, 2n ** 60n),
      /bad\.st: header length \d+ exceeds/,
    ],
    ['bad JSON', craft('{"w": {"dtype": "F32",', 0), /bad\.st: header is not valid JSON/],
    ['JSON that is not an object', craft('{}'.replace('{}', '[1]'), 0), /does not start with/],
    [
      'unknown dtype',
      craft({ w: { dtype: 'F42', shape: [1], data_offsets: [0, 4] } }, 4),
      /bad\.st: tensor 'w': unknown dtype "F42"/,
    ],
    [
      'negative dimension',
      craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4),
      /tensor 'w': shape must be a list of non-negative integers/,
    ],
    [
      'fractional dimension',
      craft({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, 6),
      /tensor 'w': shape must be/,
    ],
    [
      'shape and span disagree',
      craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8),
      /tensor 'w': shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
    ],
    [
      'span beyond the data (truncated file)',
      craft(f32('w', [4], 0), 8),
      /tensor 'w': data_offsets \[0, 16\] run past the 8-byte data section/,
    ],
    [
      'reversed span',
      craft({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4),
      /tensor 'w': data_offsets must be \[begin, end\]/,
    ],
    [
      'overlapping spans',
      craft({ ...f32('a', [2], 0), ...f32('b', [2], 4) }, 12),
      /tensor 'b' \[4, 12\] overlaps tensor 'a' \[0, 8\]/,
    ],
    [
      'a gap between spans',
      craft({ ...f32('a', [1], 0), ...f32('b', [1], 8) }, 12),
      /bytes \[4, 8\) before tensor 'b' belong to no tensor/,
    ],
    [
      'trailing bytes',
      craft(f32('a', [1], 0), 12),
      /tensors cover 4 bytes but the data section has 12/,
    ],
    [
      'metadata with a non-string value',
      craft({ __metadata__: { step: 3 }, ...f32('a', [1], 0) }, 4),
      /'__metadata__' entry 'step' must be a string/,
    ],
    ['entry that is not an object', craft({ a: [1, 2] }, 0), /tensor 'a': entry must be an object/],
  ];
  it.each(cases)('%s', (_label, bytes, message) => {
    expect(() => parseSafetensors(bytes, 'bad.st')).toThrow(message);
  });

  it('detects a real checkpoint cut short', () => {
    const bytes = fixture('tiny-llama/model.safetensors');
    expect(() =>
      parseSafetensors(bytes.subarray(0, bytes.length - 100), 'model.safetensors'),
    ).toThrow(/model\.safetensors: tensor '.+': data_offsets .* run past the/);
  });
});

describe('serializeSafetensors', () => {
  it('round-trips F32 tensors and metadata, with an 8-byte aligned space-padded header', () => {
    const tensors = [
      { name: 'b.weight', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) },
      { name: 'a.bias', shape: [3], data: new Float32Array([0.1, -0, Infinity]) },
      { name: 'scalar', shape: [], data: new Float32Array([42]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    ];
    const bytes = serializeSafetensors(tensors, { format: 'pt', step: '7' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(headerText).toMatch(/^\{.*\} *$/);

    const file = parseSafetensors(bytes, 'round.safetensors');
    expect(file.metadata).toEqual({ format: 'pt', step: '7' });
    for (const tensor of tensors) {
      expect(file.entries.get(tensor.name)!.shape).toEqual(tensor.shape);
      expect(file.readFloat32(tensor.name)).toEqual(tensor.data);
    }
  });

  it('writes the same bytes as the Python safetensors library', () => {
    const written = fixture('tiny-qwen2/model.safetensors');
    const original = parseSafetensors(written, 'qwen');
    const tensors = [...original.entries.values()].map((entry) => ({
      name: entry.name,
      shape: entry.shape,
      data: original.readFloat32(entry.name),
    }));
    expect(serializeSafetensors(tensors, original.metadata)).toEqual(written);
  });

  it('refuses a shape that does not fit the data, and duplicate names', () => {
    expect(() =>
      serializeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }]),
    ).toThrow(/tensor 'w': shape \[2, 2\] does not fit 3 values/);
    const w = { name: 'w', shape: [1], data: new Float32Array(1) };
    expect(() => serializeSafetensors([w, w])).toThrow(/tensor 'w' appears twice/);
  });
});
