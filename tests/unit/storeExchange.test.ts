import { strFromU8, strToU8, unzipSync, Zip, ZipDeflate, zipSync, type Unzipped } from 'fflate';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/model/safetensors';
import { parseDataset, type SealStore } from '../../src/engine/store';
import { MAX_EPISODE_LINE_LENGTH, MAX_EPISODE_LINES } from '../../src/engine/store/exchange';
import { MAX_TEXT_LENGTH } from '../../src/engine/store/records';
import { episodeAt, freshStore, nextOf, planPositions } from './storeHelpers';

const opened: SealStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

const SEAL_ITEMS = [
  {
    title: 'Apollo 11',
    context: 'Apollo 11 landed on the Moon in July 1969.',
    questions: [{ question: 'When did Apollo 11 land?', answer: 'July 1969' }],
  },
  {
    id: 'p-2',
    title: 'Nile',
    context: 'The Nile flows north into the Mediterranean.',
    questions: [{ question: 'Where does the Nile flow?', answers: ['north', 'northwards'] }],
  },
];

const ADAPTER_CONFIG = {
  peft_type: 'LORA',
  r: 2,
  lora_alpha: 4,
  target_modules: ['q_proj', 'v_proj'],
  base_model_name_or_path: 'tiny-qwen2',
};

/** A store holding a dataset, a finished run of three episodes and one adapter checkpoint. */
async function storeWithRun() {
  const store = freshStore();
  opened.push(store);
  const dataset = await store.importDataset('passages.json', JSON.stringify(SEAL_ITEMS));
  const run = await store.createRun({
    kind: 'seal',
    config: { samples: 3 },
    seeds: { run: 9 },
    datasetIds: [dataset.id],
  });
  const positions = planPositions(1, 1, 3);
  for (const [i, position] of positions.entries()) {
    await store.appendEpisode(episodeAt(run.id, position, i), nextOf(positions, i));
  }
  const checkpoint = await store.saveCheckpoint({
    id: 'adapter-1',
    kind: 'adapter',
    runId: run.id,
    round: 0,
    config: ADAPTER_CONFIG,
    tensors: [
      {
        name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
        shape: [2, 4],
        data: Float32Array.from({ length: 8 }, (_, i) => i / 8),
      },
      {
        name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
        shape: [4, 2],
        data: Float32Array.from({ length: 8 }, (_, i) => -i),
      },
    ],
  });
  await store.stopRun(run.id, 'done');
  return { store, run: (await store.getRun(run.id))!, checkpoint, dataset };
}

async function snapshot(store: SealStore) {
  return {
    runs: await store.listRuns(),
    checkpoints: await store.listCheckpoints(),
    datasets: await store.listDatasets(),
  };
}

function rezip(files: Unzipped): Uint8Array {
  return zipSync(files);
}

function editJson(files: Unzipped, name: string, edit: (value: Record<string, unknown>) => void) {
  const value = JSON.parse(strFromU8(files[name]!)) as Record<string, unknown>;
  edit(value);
  files[name] = strToU8(JSON.stringify(value));
}

const LOCAL_HEADER = 0x04034b50;
const DIRECTORY_HEADER = 0x02014b50;

/**
 * Rewrites a 32-bit field of entry `name` in both its local header and its directory entry;
 * `field` gives the field's offset from the start of each.
 */
function patchHeaders(
  archive: Uint8Array,
  name: string,
  field: { local: number; directory: number },
  value: (old: number) => number,
): Uint8Array {
  const patched = archive.slice();
  const view = new DataView(patched.buffer);
  const nameBytes = strToU8(name);
  for (let at = 0; at + 46 <= patched.length; at++) {
    const signature = view.getUint32(at, true);
    if (signature !== LOCAL_HEADER && signature !== DIRECTORY_HEADER) continue;
    const local = signature === LOCAL_HEADER;
    const nameStart = at + (local ? 30 : 46);
    const nameLength = view.getUint16(at + (local ? 26 : 28), true);
    const candidate = patched.subarray(nameStart, nameStart + nameLength);
    if (strFromU8(candidate) !== name || nameLength !== nameBytes.length) continue;
    const offset = at + (local ? field.local : field.directory);
    view.setUint32(offset, value(view.getUint32(offset, true)), true);
  }
  return patched;
}

const SIZE_FIELD = { local: 22, directory: 24 };
const CRC_FIELD = { local: 14, directory: 16 };

/** Renames every entry called `from` to `to` (same length) in the archive's headers. */
function renameEntries(archive: Uint8Array, from: string, to: string): Uint8Array {
  const patched = archive.slice();
  const [fromBytes, toBytes] = [strToU8(from), strToU8(to)];
  for (let at = 0; at + fromBytes.length <= patched.length; at++) {
    if (fromBytes.every((byte, i) => patched[at + i] === byte)) patched.set(toBytes, at);
  }
  return patched;
}

function editEpisodes(files: Unzipped, edit: (episodes: Record<string, unknown>[]) => void) {
  const lines = strFromU8(files['episodes.jsonl']!).trim().split('\n');
  const episodes = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  edit(episodes);
  files['episodes.jsonl'] = strToU8(episodes.map((e) => JSON.stringify(e)).join('\n') + '\n');
}

describe('run export', () => {
  it('writes run.json, episodes.jsonl, the dataset and the adapter in PEFT layout', async () => {
    const { store, run, checkpoint, dataset } = await storeWithRun();
    const files = unzipSync(await store.exportRun(run.id));
    expect(Object.keys(files).sort()).toEqual([
      'checkpoints/adapter-1/adapter_config.json',
      'checkpoints/adapter-1/adapter_model.safetensors',
      `datasets/${dataset.id}.json`,
      'episodes.jsonl',
      'run.json',
    ]);
    const runFile = JSON.parse(strFromU8(files['run.json']!));
    expect(runFile).toMatchObject({ format: 'seal-playground-run', schemaVersion: 2, run });
    expect(runFile.checkpoints[0]).toMatchObject({ id: 'adapter-1', kind: 'adapter', round: 0 });
    expect(strFromU8(files['episodes.jsonl']!).trim().split('\n')).toHaveLength(3);
    expect(JSON.parse(strFromU8(files['checkpoints/adapter-1/adapter_config.json']!))).toEqual(
      ADAPTER_CONFIG,
    );
    const weights = parseSafetensors(
      files['checkpoints/adapter-1/adapter_model.safetensors']!,
      'adapter_model.safetensors',
    );
    expect(weights.metadata).toEqual({ format: 'pt' });
    expect([...weights.readFloat32(checkpoint.tensors[1]!.name)]).toEqual([
      -0, -1, -2, -3, -4, -5, -6, -7,
    ]);
  });

  it('imports back exactly what it exported', async () => {
    const { store, run, checkpoint } = await storeWithRun();
    const archive = await store.exportRun(run.id);
    const episodesBefore = await store.listEpisodes(run.id);
    const tensorsBefore = (await store.loadCheckpoint(checkpoint.id)).tensors;
    await store.deleteRun(run.id);
    expect(await store.listRuns()).toEqual([]);

    const imported = await store.importRun(archive);
    expect(imported).toEqual(run);
    expect(await store.listEpisodes(run.id)).toEqual(episodesBefore);
    const reloaded = await store.loadCheckpoint(checkpoint.id);
    expect(reloaded.checkpoint).toEqual(checkpoint);
    expect(reloaded.tensors).toEqual(tensorsBefore);
    await expect(store.importRun(archive)).rejects.toThrow(/already stored; delete it/);
  });
});

describe('run export in pieces', () => {
  it('streams the archive in several pieces, and the Blob holds the same files as the bytes', async () => {
    const { store, run } = await storeWithRun();
    const pieces: Uint8Array[] = [];
    await store.streamRun(run.id, (piece) => pieces.push(piece));
    expect(pieces.length).toBeGreaterThan(1);
    const fromBlob = unzipSync(
      new Uint8Array(await (await store.exportRunBlob(run.id)).arrayBuffer()),
    );
    expect(fromBlob).toEqual(unzipSync(await store.exportRun(run.id)));
  });
});

describe('run export while the run is being written', () => {
  it('is a consistent snapshot that imports cleanly', async () => {
    const store = freshStore();
    const other = freshStore();
    opened.push(store, other);
    const run = await store.createRun({ kind: 'seal', config: {}, seeds: {}, datasetIds: [] });
    const positions = planPositions(1, 4, 4);
    const writing = (async () => {
      for (const [i, position] of positions.entries()) {
        await store.appendEpisode(episodeAt(run.id, position), nextOf(positions, i));
      }
    })();
    const archives: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) archives.push(await store.exportRun(run.id));
    await writing;
    archives.push(await store.exportRun(run.id));
    // Run ids are locked per origin; the other database shares this process's locks.
    await store.stopRun(run.id, 'paused');
    const counts = [];
    for (const archive of archives) {
      const imported = await other.importRun(archive);
      expect(await other.listEpisodes(run.id)).toHaveLength(imported.episodeCount);
      counts.push(imported.episodeCount);
      await other.deleteRun(run.id);
    }
    expect(counts.at(-1)).toBe(positions.length);
  });
});

describe('PEFT layout', () => {
  it('exports an adapter saved by PEFT as the same adapter_config.json and safetensors bytes', async () => {
    const folder = 'tests/fixtures/peft/tiny-qwen2-lora';
    const config = JSON.parse(await readFile(`${folder}/adapter_config.json`, 'utf8'));
    const weightBytes = new Uint8Array(await readFile(`${folder}/adapter_model.safetensors`));
    const weights = parseSafetensors(weightBytes, 'adapter_model.safetensors');
    const store = freshStore();
    opened.push(store);
    const run = await store.createRun({ kind: 'finetune', config: {}, seeds: {}, datasetIds: [] });
    await store.saveCheckpoint({
      id: 'peft-adapter',
      kind: 'adapter',
      runId: run.id,
      config,
      tensors: [...weights.entries.values()].map((entry) => ({
        name: entry.name,
        shape: entry.shape,
        data: weights.readFloat32(entry.name),
      })),
    });
    const files = unzipSync(await store.exportRun(run.id));
    expect(JSON.parse(strFromU8(files['checkpoints/peft-adapter/adapter_config.json']!))).toEqual(
      config,
    );
    expect(files['checkpoints/peft-adapter/adapter_model.safetensors']).toEqual(weightBytes);
  });
});

describe('run import refuses hostile files and changes nothing', () => {
  const cases: {
    name: string;
    tamper: (files: Unzipped, ids: { runId: string }) => Uint8Array;
    error: RegExp;
  }[] = [
    {
      name: 'not a zip at all',
      tamper: () => strToU8('definitely not a zip file'),
      error: /Not a readable zip file/,
    },
    {
      name: 'a path-like entry name',
      tamper: (files) => rezip({ ...files, '../x': strToU8('hi') }),
      error: /unexpected file: "\.\.\/x"/,
    },
    {
      name: 'a checkpoint folder outside the layout',
      tamper: (files) => rezip({ ...files, 'checkpoints/a/../../evil.json': strToU8('{}') }),
      error: /unexpected file/,
    },
    {
      name: 'a wrong type in run.json',
      tamper: (files) => {
        editJson(files, 'run.json', (value) => {
          (value.run as { seeds: Record<string, unknown> }).seeds.run = 'nine';
        });
        return rezip(files);
      },
      error: /^run\.json: run\.seeds\.run: expected number, got "nine"/,
    },
    {
      name: 'a path-like run id',
      tamper: (files) => {
        editJson(files, 'run.json', (value) => {
          (value.run as { id: string }).id = '../x';
        });
        return rezip(files);
      },
      error: /^run\.json: run\.id: must be 1–128 letters/,
    },
    {
      name: 'a path-like checkpoint id',
      tamper: (files) => {
        editJson(files, 'run.json', (value) => {
          (value.checkpoints as { id: string }[])[0]!.id = '..';
        });
        return rezip(files);
      },
      error: /^run\.json: checkpoints\.0\.id: /,
    },
    {
      name: 'a huge string in an episode',
      tamper: (files) => {
        const lines = strFromU8(files['episodes.jsonl']!).trim().split('\n');
        const second = JSON.parse(lines[1]!);
        second.selfEdit = 'x'.repeat(MAX_TEXT_LENGTH + 1);
        lines[1] = JSON.stringify(second);
        files['episodes.jsonl'] = strToU8(lines.join('\n'));
        return rezip(files);
      },
      error: /^episodes\.jsonl: line 2: selfEdit: must be at most 1000000 characters/,
    },
    {
      name: 'a broken line in episodes.jsonl',
      tamper: (files) => {
        files['episodes.jsonl'] = strToU8(strFromU8(files['episodes.jsonl']!) + '{"runId": \n');
        return rezip(files);
      },
      error: /^episodes\.jsonl: line 4: not valid JSON/,
    },
    {
      name: 'a repeated episode',
      tamper: (files) => {
        const lines = strFromU8(files['episodes.jsonl']!).trim().split('\n');
        files['episodes.jsonl'] = strToU8([lines[0], lines[0], lines[2]].join('\n'));
        return rezip(files);
      },
      error: /^episodes\.jsonl: line 2: episodes must be in run order without repeats/,
    },
    {
      name: 'a missing tensor',
      tamper: (files) => {
        const name = 'checkpoints/adapter-1/adapter_model.safetensors';
        const file = parseSafetensors(files[name]!, name);
        const [first] = [...file.entries.values()];
        files[name] = new Uint8Array(
          serializeSafetensors([
            { name: first!.name, shape: first!.shape, data: file.readFloat32(first!.name) },
          ]),
        );
        return rezip(files);
      },
      error:
        /adapter_model\.safetensors: missing tensor base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_B\.weight/,
    },
    {
      name: 'a missing weights file',
      tamper: (files) => {
        delete files['checkpoints/adapter-1/adapter_model.safetensors'];
        return rezip(files);
      },
      error: /no checkpoints\/adapter-1\/adapter_model\.safetensors/,
    },
    {
      name: 'a tensor whose shape differs from the manifest',
      tamper: (files) => {
        editJson(files, 'run.json', (value) => {
          (value.checkpoints as { tensors: { shape: number[] }[] }[])[0]!.tensors[0]!.shape = [
            4, 2,
          ];
        });
        return rezip(files);
      },
      error:
        /tensor base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has shape \[2, 4\] but the manifest says \[4, 2\]/,
    },
    {
      name: 'a truncated safetensors file',
      tamper: (files) => {
        const name = 'checkpoints/adapter-1/adapter_model.safetensors';
        files[name] = files[name]!.subarray(0, files[name]!.length - 4);
        return rezip(files);
      },
      error: /adapter_model\.safetensors: /,
    },
    {
      name: 'two entries of one name',
      tamper: (files) => {
        const decoy = strToU8(strFromU8(files['episodes.jsonl']!).split('\n')[0]! + '\n');
        return renameEntries(
          rezip({ ...files, 'episodes.jsonX': decoy }),
          'episodes.jsonX',
          'episodes.jsonl',
        );
      },
      error: /^The archive holds "episodes\.jsonl" twice\./,
    },
    {
      name: 'an entry whose CRC-32 differs from the declared one',
      tamper: (files) => patchHeaders(rezip(files), 'run.json', CRC_FIELD, (crc) => crc ^ 1),
      error: /^run\.json: its CRC-32 does not match the one the archive declares/,
    },
    {
      name: 'an entry shorter than it declares',
      tamper: (files) =>
        patchHeaders(rezip(files), 'episodes.jsonl', SIZE_FIELD, (size) => size + 1),
      error: /^episodes\.jsonl: inflates to \d+ bytes but declares \d+/,
    },
    {
      name: 'an entry longer than it declares',
      tamper: (files) =>
        patchHeaders(rezip(files), 'episodes.jsonl', SIZE_FIELD, (size) => size - 1),
      error: /^episodes\.jsonl: inflates to more than the \d+ bytes it declares/,
    },
    {
      name: 'more lines in episodes.jsonl than any run has',
      tamper: (files) => {
        const blank = '\n'.repeat(MAX_EPISODE_LINES);
        files['episodes.jsonl'] = strToU8(strFromU8(files['episodes.jsonl']!) + blank);
        return rezip(files);
      },
      error: new RegExp(`^episodes\\.jsonl: more than ${MAX_EPISODE_LINES} lines`),
    },
    {
      name: 'a line of episodes.jsonl longer than any episode',
      tamper: (files) => {
        const long = ' '.repeat(MAX_EPISODE_LINE_LENGTH + 1);
        files['episodes.jsonl'] = strToU8(strFromU8(files['episodes.jsonl']!) + long + '\n');
        return rezip(files);
      },
      error: new RegExp(
        `^episodes\\.jsonl: line 4 is longer than ${MAX_EPISODE_LINE_LENGTH} characters`,
      ),
    },
    {
      name: 'a bundled dataset with two passages of one id',
      tamper: (files) => {
        const name = Object.keys(files).find((n) => n.startsWith('datasets/'))!;
        editJson(files, name, (value) => {
          const passages = value.passages as { id: string }[];
          passages[1]!.id = passages[0]!.id;
        });
        return rezip(files);
      },
      error: /^datasets\/.*\.json: passage id 0 appears twice/,
    },
    {
      name: 'a run dated after tomorrow',
      tamper: (files) => {
        editJson(files, 'run.json', (value) => {
          (value.run as { updatedAt: number }).updatedAt = Date.now() + 2 * 24 * 60 * 60 * 1000;
        });
        return rezip(files);
      },
      error: /^run\.json: run\.updatedAt: \d+ is not a time between the year 2000 and tomorrow/,
    },
    {
      name: 'an episode dated before 2000',
      tamper: (files) => {
        editEpisodes(files, (episodes) => {
          episodes[2]!.createdAt = Date.UTC(1999, 11, 31);
        });
        return rezip(files);
      },
      error: /^episodes\.jsonl: line 3: createdAt: \d+ is not a time between the year 2000/,
    },
    {
      name: 'a dataset file whose name does not match its id',
      tamper: (files) => {
        const name = Object.keys(files).find((n) => n.startsWith('datasets/'))!;
        files['datasets/other.json'] = files[name]!;
        delete files[name];
        return rezip(files);
      },
      error: /^datasets\/other\.json: holds dataset .*; the file name must match its id/,
    },
  ];

  for (const { name, tamper, error } of cases) {
    it(name, async () => {
      const { store, run } = await storeWithRun();
      const files = unzipSync(await store.exportRun(run.id));
      await store.deleteRun(run.id);
      const before = await snapshot(store);
      await expect(store.importRun(tamper(files, { runId: run.id }))).rejects.toThrow(error);
      expect(await snapshot(store)).toEqual(before);
    });
  }
});

describe('run import of a zip bomb', () => {
  it('refuses 200 MiB of newlines packed into a small episodes.jsonl, storing nothing', async () => {
    const { store, run } = await storeWithRun();
    const files = unzipSync(await store.exportRun(run.id));
    const parts: Uint8Array[] = [];
    const archive = new Zip((error, chunk) => {
      if (error) throw error;
      parts.push(chunk);
    });
    for (const [name, bytes] of Object.entries(files)) {
      const entry = new ZipDeflate(name);
      archive.add(entry);
      if (name !== 'episodes.jsonl') {
        entry.push(bytes, true);
        continue;
      }
      // Streamed in, so that this process never holds the 200 MiB either.
      entry.push(bytes);
      const newlines = new Uint8Array(1024 ** 2).fill(0x0a);
      for (let mebibyte = 0; mebibyte < 200; mebibyte++) entry.push(newlines, mebibyte === 199);
    }
    archive.end();
    const bomb = new Uint8Array(Buffer.concat(parts));
    expect(bomb.byteLength).toBeLessThan(1024 ** 2);

    const folder = await mkdtemp(join(os.tmpdir(), 'zip-bomb-'));
    try {
      const bombPath = join(folder, 'run.zip');
      await writeFile(bombPath, bomb);
      // A separate process with a small heap: the import must not need memory in proportion
      // to what the archive inflates to, and a failure must not take the test runner down.
      const { stdout } = await promisify(execFile)(process.execPath, [
        '--max-old-space-size=256',
        '--import',
        'tsx',
        'tests/unit/importRunChild.ts',
        bombPath,
      ]);
      expect(JSON.parse(stdout)).toEqual({
        error: `episodes.jsonl: more than ${MAX_EPISODE_LINES} lines`,
        runs: 0,
        datasets: 0,
      });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe('dataset import', () => {
  it("reads the SEAL repository's JSON, naming passages by id or position", () => {
    const { source, passages } = parseDataset(JSON.stringify(SEAL_ITEMS), 'squad_val.json');
    expect(source).toBe('seal-json');
    expect(passages.map((p) => [p.id, p.title, p.questions[0]!.answer])).toEqual([
      ['0', 'Apollo 11', 'July 1969'],
      ['p-2', 'Nile', 'north'],
    ]);
  });

  it('reads the same items as JSONL, and SQuAD v1.1', () => {
    const jsonl = SEAL_ITEMS.map((item) => JSON.stringify(item)).join('\n') + '\n';
    expect(parseDataset(jsonl, 'd.jsonl').passages).toEqual(
      parseDataset(JSON.stringify(SEAL_ITEMS), 'd.json').passages,
    );
    const squad = {
      version: '1.1',
      data: [
        {
          title: 'Apollo 11',
          paragraphs: [
            {
              context: 'Apollo 11 landed in 1969.',
              qas: [{ id: 'q1', question: 'When?', answers: [{ text: '1969', answer_start: 21 }] }],
            },
          ],
        },
      ],
    };
    expect(parseDataset(JSON.stringify(squad), 'dev-v1.1.json')).toEqual({
      source: 'squad-v1',
      passages: [
        {
          id: '0.0',
          title: 'Apollo 11',
          context: 'Apollo 11 landed in 1969.',
          questions: [{ question: 'When?', answer: '1969' }],
        },
      ],
    });
  });

  it('names the file, line or item and field of a problem', () => {
    expect(() => parseDataset(`${JSON.stringify(SEAL_ITEMS[0])}\n{oops}\n`, 'x.jsonl')).toThrow(
      /^x\.jsonl: line 2: not JSON/,
    );
    expect(() =>
      parseDataset(JSON.stringify([{ title: 'a', context: 5, questions: [] }]), 'x.json'),
    ).toThrow(/^x\.json: item 0: context: expected string, got 5/);
    expect(() =>
      parseDataset(
        JSON.stringify([{ title: 'a', context: 'b', questions: [{ question: 'q' }] }]),
        'x.json',
      ),
    ).toThrow(/^x\.json: item 0: questions\.0: has no answer/);
    expect(() => parseDataset(JSON.stringify([{ title: 'a', questions: [] }]), 'x.json')).toThrow(
      /^x\.json: item 0: context: missing/,
    );
    expect(() => parseDataset('[]', 'x.json')).toThrow(/has no passages/);
    expect(() => parseDataset('{"a": 1}', 'x.json')).toThrow(/expected a list of passages/);
  });

  it('stores a dataset and refuses to delete one a run uses', async () => {
    const { store, dataset, run } = await storeWithRun();
    expect(dataset).toMatchObject({
      name: 'passages',
      source: 'seal-json',
      passageCount: 2,
      questionCount: 2,
    });
    expect((await store.getDataset(dataset.id))!.passages[1]!.context).toMatch(/Nile/);
    await expect(store.deleteDataset(dataset.id)).rejects.toThrow(`used by run ${run.id}`);
    await store.deleteRun(run.id);
    await store.deleteDataset(dataset.id);
    expect(await store.listDatasets()).toEqual([]);
  });
});
