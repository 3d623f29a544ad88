/**
 * Seeded random mutations of valid inputs, fed to the loaders: a model from the Hub, a run zip
 * and a passage dataset. Each case either loads or is refused with a clear error (an Error the
 * code raised on purpose, not a TypeError or RangeError from deep inside), and a refused input
 * leaves nothing stored and no tensor behind. The number of cases is fixed; nothing depends on
 * the clock.
 */
import * as tf from '@tensorflow/tfjs';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';
import { setLoadedModel } from '../../src/engine/model/session';
import { createRandom, type Random } from '../../src/engine/random';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { squadJson } from '../../src/engine/seal/experiments';
import { episodeAt, freshStore, planPositions } from './storeHelpers';
import { fixtureFile, startFakeHub, type FakeHub } from './sourcesServer';

const CASES = 24;

let hub: FakeHub;
beforeAll(async () => {
  await selectBackend('wasm');
  hub = await startFakeHub();
});
afterAll(() => hub.close());

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

/** One of a few damaging edits of some bytes, chosen and placed by `random`. */
function mutateBytes(bytes: Uint8Array, random: Random): Uint8Array {
  const at = Math.floor(random() * bytes.length);
  const span = 1 + Math.floor(random() * 16);
  switch (pick(random, ['flip', 'truncate', 'insert', 'repeat', 'zero'] as const)) {
    case 'flip': {
      const out = bytes.slice();
      for (let i = 0; i < span; i++) out[Math.floor(random() * out.length)]! ^= 1 << (i % 8);
      return out;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert': {
      const noise = Uint8Array.from({ length: span }, () => Math.floor(random() * 256));
      return Uint8Array.from([...bytes.subarray(0, at), ...noise, ...bytes.subarray(at)]);
    }
    case 'repeat':
      return Uint8Array.from([
        ...bytes.subarray(0, at),
        ...bytes.subarray(at, at + span * 8),
        ...bytes.subarray(at),
      ]);
    case 'zero': {
      const out = bytes.slice();
      out.fill(0, at, at + span);
      return out;
    }
  }
}

/** Edits of JSON text that keep it JSON-looking: other numbers, other keys, dropped characters. */
function mutateText(text: string, random: Random): string {
  const at = Math.floor(random() * text.length);
  switch (pick(random, ['number', 'character', 'cut', 'null'] as const)) {
    case 'number': {
      const numbers = [...text.matchAll(/-?\d+(\.\d+)?/g)];
      if (numbers.length === 0) return text.slice(0, at);
      const match = pick(random, numbers);
      const replacement = pick(random, ['-1', '0', '1e308', '2147483648', '0.5', 'NaN', '""']);
      return text.slice(0, match.index) + replacement + text.slice(match.index + match[0].length);
    }
    case 'character':
      return text.slice(0, at) + pick(random, ['"', '{', ']', ',', 'x', '\\']) + text.slice(at + 1);
    case 'cut':
      return text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 20));
    case 'null': {
      const keys = [...text.matchAll(/"(\w+)":\s*/g)];
      if (keys.length === 0) return text;
      const match = pick(random, keys);
      const end = match.index + match[0].length;
      return `${text.slice(0, end)}null${text.slice(end).replace(/^("[^"]*"|[^,}\]]*)/, '')}`;
    }
  }
}

/** A refusal the code made on purpose: a plain Error with something to say. */
function expectClearRefusal(error: unknown, what: string): void {
  expect(error, what).toBeInstanceOf(Error);
  const { name, message } = error as Error;
  expect(
    ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'],
    `${what}: ${name}: ${message}`,
  ).not.toContain(name);
  expect(message.length, what).toBeGreaterThan(10);
}

const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'model.safetensors',
];

/** One of the tiny Llama's files, damaged by `random`. */
function damagedModelFile(random: Random): { file: string; bytes: Uint8Array } {
  const file = pick(random, MODEL_FILES);
  const original = fixtureFile('tiny-llama', file);
  const bytes = file.endsWith('.json')
    ? strToU8(mutateText(strFromU8(original), random))
    : mutateBytes(original, random);
  return { file, bytes };
}

describe('fuzzed model files', () => {
  it('from a folder: load or are refused clearly, leaking no tensor', async () => {
    const random = createRandom(101);
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      const { file, bytes } = damagedModelFile(random);
      const files = MODEL_FILES.map(
        (name) =>
          new File([(name === file ? bytes : fixtureFile('tiny-llama', name)).slice()], name),
      );
      const tensors = tf.memory().numTensors;
      const what = `case ${i}: ${file}`;
      try {
        await loadModel({ kind: 'files', files });
        setLoadedModel(null);
      } catch (error) {
        refused += 1;
        expectClearRefusal(error, what);
      }
      expect(tf.memory().numTensors, what).toBe(tensors);
    }
    // Most damage is caught; a changed weight value or an unused setting still loads.
    expect(refused).toBeGreaterThan(CASES / 3);
  });

  it('from the Hub: are refused before anything is cached', async () => {
    const random = createRandom(102);
    for (let i = 0; i < CASES / 2; i++) {
      const { file, bytes } = damagedModelFile(random);
      hub.overrides.clear();
      hub.overrides.set(`tiny-llama/${file}`, { kind: 'bytes', bytes });
      const store = freshStore();
      const what = `case ${i}: ${file}`;
      try {
        await loadModel(
          { kind: 'hub', repo: 'test/tiny-llama' },
          { hubEndpoint: hub.url, cache: store },
        );
        setLoadedModel(null);
      } catch (error) {
        expectClearRefusal(error, what);
        expect(await store.listModelFiles(), what).toEqual([]);
      }
      await store.close();
    }
    hub.overrides.clear();
  });
});

async function validRunArchive(): Promise<Uint8Array> {
  const store = freshStore();
  const dataset = await store.importDataset(
    'passages.json',
    squadJson(worldSealContexts(1).heldOut.slice(0, 2)),
  );
  const run = await store.createRun({
    kind: 'seal',
    config: { samples: 2 },
    seeds: { run: 1 },
    datasetIds: [dataset.id],
  });
  const positions = planPositions(1, 2, 2);
  for (const [i, position] of positions.entries()) {
    await store.appendEpisode(
      episodeAt(run.id, position, i),
      positions[i + 1] ?? { round: 1, contextIndex: 0, sampleIndex: 0 },
    );
  }
  await store.saveCheckpoint({
    kind: 'full',
    runId: run.id,
    round: 0,
    config: { model_type: 'llama' },
    tensors: [{ name: 'w', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
  });
  await store.stopRun(run.id, 'done');
  const archive = await store.exportRun(run.id);
  await store.close();
  return archive;
}

describe('fuzzed run zips', () => {
  it('import or are refused clearly, storing nothing', async () => {
    const archive = await validRunArchive();
    const entries = unzipSync(archive);
    const names = Object.keys(entries);
    const random = createRandom(202);
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      let damaged: Uint8Array;
      let what: string;
      if (random() < 0.5) {
        damaged = mutateBytes(archive, random);
        what = `case ${i}: the archive's bytes`;
      } else {
        const name = pick(random, names);
        const content = entries[name]!;
        const mutated = name.endsWith('.safetensors')
          ? mutateBytes(content, random)
          : strToU8(mutateText(strFromU8(content), random));
        damaged = zipSync({ ...entries, [name]: mutated });
        what = `case ${i}: ${name}`;
      }
      const store = freshStore();
      try {
        await store.importRun(damaged);
      } catch (error) {
        refused += 1;
        expectClearRefusal(error, what);
        expect(await store.listRuns(), what).toEqual([]);
        expect(await store.listCheckpoints(), what).toEqual([]);
        expect(await store.listDatasets(), what).toEqual([]);
      }
      await store.close();
    }
    expect(refused).toBeGreaterThan(CASES / 2);
  });
});

describe('fuzzed passage datasets', () => {
  it('import or are refused clearly, storing nothing', async () => {
    const text = squadJson(worldSealContexts(1).heldOut.slice(0, 3));
    const random = createRandom(303);
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      const store = freshStore();
      const what = `case ${i}`;
      try {
        await store.importDataset('passages.json', mutateText(text, random));
      } catch (error) {
        refused += 1;
        expectClearRefusal(error, what);
        expect(await store.listDatasets(), what).toEqual([]);
      }
      await store.close();
    }
    // A changed number or letter inside a passage is still a valid dataset.
    expect(refused).toBeGreaterThan(0);
  });
});
