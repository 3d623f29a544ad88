/**
 * A run as one zip file: `run.json`, `episodes.jsonl`, the datasets it used, and its checkpoints
 * as safetensors (adapters in PEFT's layout, so PEFT's `PeftModel.from_pretrained` loads them).
 * Import checks every file against the record schemas and every tensor against its manifest
 * before it writes anything, then writes it all in one transaction. The zip is read entry by entry
 * with its sizes and CRCs checked (zipReader.ts), and episodes.jsonl line by line as it inflates,
 * so a small archive that inflates to gigabytes is refused without holding them.
 */
import { strFromU8, strToU8, Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import * as v from 'valibot';
import { parseSafetensors, serializeSafetensors } from '../model/safetensors';
import { checkTensors, putCheckpoint, readTensors, type TensorData } from './checkpoints';
import { checkRoom } from './capacity';
import type { StoreContext } from './context';
import { prefixRange, request, SCHEMA_VERSION } from './db';
import {
  CheckpointSchema,
  DatasetSchema,
  EpisodeSchema,
  IdSchema,
  JsonSchema,
  RunSchema,
  validate,
  type CheckpointRecord,
  type DatasetRecord,
  type EpisodeRecord,
  type RunRecord,
} from './records';
import { checkUniquePassageIds } from './datasets';
import { comparePositions, episodeKey } from './runs';
import { readEntry, readZipDirectory, streamEntry, type ZipEntry } from './zipReader';

export const EXPORT_FORMAT = 'seal-playground-run';
/** Largest archive accepted, and largest single file inside it, uncompressed. */
export const MAX_IMPORT_BYTES = 2 * 1024 ** 3;
export const MAX_JSON_FILE_BYTES = 512 * 1024 ** 2;
/** Longest line of episodes.jsonl, in characters: an episode's texts are each at most 1M. */
export const MAX_EPISODE_LINE_LENGTH = 32 * 1024 ** 2;
/** Most lines episodes.jsonl may have, blank ones included. */
export const MAX_EPISODE_LINES = 1_000_000;

const ExportedCheckpointSchema = v.omit(CheckpointSchema, ['config', 'sizeBytes']);

const RunFileSchema = v.strictObject({
  format: v.literal(EXPORT_FORMAT),
  schemaVersion: v.literal(SCHEMA_VERSION),
  run: RunSchema,
  checkpoints: v.pipe(v.array(ExportedCheckpointSchema), v.maxLength(100_000)),
});
type RunFile = v.InferOutput<typeof RunFileSchema>;

const CHECKPOINT_FILES = {
  adapter: { config: 'adapter_config.json', weights: 'adapter_model.safetensors' },
  full: { config: 'config.json', weights: 'model.safetensors' },
} as const;

const ID = '[A-Za-z0-9][A-Za-z0-9._-]{0,127}';
const ENTRY_PATTERNS = [
  /^run\.json$/,
  /^episodes\.jsonl$/,
  new RegExp(`^datasets/${ID}\\.json$`),
  new RegExp(
    `^checkpoints/${ID}/(adapter_config\\.json|adapter_model\\.safetensors|config\\.json|model\\.safetensors)$`,
  ),
];

function isAllowedEntry(name: string): boolean {
  return !name.includes('..') && ENTRY_PATTERNS.some((pattern) => pattern.test(name));
}

interface ImportPlan {
  run: RunRecord;
  episodes: EpisodeRecord[];
  datasets: DatasetRecord[];
  checkpoints: { checkpoint: CheckpointRecord; tensors: TensorData[] }[];
}

function readJson(archive: Uint8Array, entries: Map<string, ZipEntry>, name: string): unknown {
  const entry = entries.get(name);
  if (!entry) throw new Error(`The archive has no ${name}.`);
  if (entry.size > MAX_JSON_FILE_BYTES) {
    throw new Error(`${name}: larger than ${MAX_JSON_FILE_BYTES} bytes`);
  }
  try {
    return JSON.parse(strFromU8(readEntry(archive, entry)));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new Error(`${name}: not valid JSON (${error.message})`);
  }
}

function readDirectory(archive: Uint8Array): Map<string, ZipEntry> {
  if (!(archive instanceof Uint8Array))
    throw new Error('The import must be the bytes of a zip file.');
  const entries = readZipDirectory(archive);
  let total = 0;
  for (const [name, entry] of entries) {
    if (name.endsWith('/')) {
      entries.delete(name);
      continue;
    }
    if (!isAllowedEntry(name)) {
      throw new Error(
        `The archive holds an unexpected file: ${JSON.stringify(name.slice(0, 200))}.`,
      );
    }
    total += entry.size;
    if (total > MAX_IMPORT_BYTES) {
      throw new Error(`The archive unpacks to more than ${MAX_IMPORT_BYTES} bytes.`);
    }
  }
  return entries;
}

/**
 * Calls `onLine` with each line of the entry as it inflates, so that no more than one line is
 * ever held; refuses a line longer than `maxLength` characters and more than `maxLines` lines.
 */
function forEachLine(
  archive: Uint8Array,
  entry: ZipEntry,
  maxLength: number,
  maxLines: number,
  onLine: (line: string, lineNumber: number) => void,
): void {
  const decoder = new TextDecoder();
  const pending: string[] = [];
  let pendingLength = 0;
  let lineNumber = 0;
  const tooLong = () =>
    new Error(`${entry.name}: line ${lineNumber + 1} is longer than ${maxLength} characters`);
  const emit = (rest: string) => {
    if (pendingLength + rest.length > maxLength) throw tooLong();
    lineNumber += 1;
    if (lineNumber > maxLines) throw new Error(`${entry.name}: more than ${maxLines} lines`);
    pending.push(rest);
    const line = pending.join('');
    pending.length = 0;
    pendingLength = 0;
    onLine(line, lineNumber);
  };
  const take = (text: string) => {
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      emit(text.slice(start, end));
      start = end + 1;
    }
    const rest = text.slice(start);
    pendingLength += rest.length;
    if (pendingLength > maxLength) throw tooLong();
    if (rest !== '') pending.push(rest);
  };
  streamEntry(archive, entry, (chunk) => take(decoder.decode(chunk, { stream: true })));
  take(decoder.decode());
  if (pendingLength > 0) emit('');
}

/** Dates before this one or more than a day in the future are refused as corrupt. */
const EARLIEST_DATE = Date.UTC(2000, 0, 1);
const DATE_SLACK_MS = 24 * 60 * 60 * 1000;

function checkDate(time: number, where: string, now: number): void {
  if (time < EARLIEST_DATE || time > now + DATE_SLACK_MS) {
    throw new Error(`${where}: ${time} is not a time between the year 2000 and tomorrow`);
  }
}

/**
 * Reads and checks a whole export; throws naming the first problem. Writes nothing. `now`
 * bounds the dates it accepts.
 */
export function planImport(archive: Uint8Array, now = Date.now()): ImportPlan {
  const entries = readDirectory(archive);
  const runFile: RunFile = validate(
    RunFileSchema,
    readJson(archive, entries, 'run.json'),
    'run.json',
  );
  const { run } = runFile;
  checkDate(run.createdAt, 'run.json: run.createdAt', now);
  checkDate(run.updatedAt, 'run.json: run.updatedAt', now);

  const episodes: EpisodeRecord[] = [];
  const episodesEntry = entries.get('episodes.jsonl');
  if (!episodesEntry) throw new Error('The archive has no episodes.jsonl.');
  if (episodesEntry.size > MAX_JSON_FILE_BYTES) {
    throw new Error(`episodes.jsonl: larger than ${MAX_JSON_FILE_BYTES} bytes`);
  }
  forEachLine(archive, episodesEntry, MAX_EPISODE_LINE_LENGTH, MAX_EPISODE_LINES, (line, n) => {
    if (line.trim() === '') return;
    const where = `episodes.jsonl: line ${n}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
    }
    const episode = validate(EpisodeSchema, value, where);
    if (episode.runId !== run.id) {
      throw new Error(`${where}: runId is ${episode.runId}, but run.json is run ${run.id}`);
    }
    checkDate(episode.createdAt, `${where}: createdAt`, now);
    const previous = episodes.at(-1);
    if (previous && comparePositions(previous, episode) >= 0) {
      throw new Error(`${where}: episodes must be in run order without repeats`);
    }
    if (comparePositions(episode, run.progress) >= 0) {
      throw new Error(`${where}: episode lies at or after the run's progress in run.json`);
    }
    if (episodes.length === run.episodeCount) {
      throw new Error(
        `episodes.jsonl has more episodes than the ${run.episodeCount} run.json says`,
      );
    }
    episodes.push(episode);
  });
  if (episodes.length !== run.episodeCount) {
    throw new Error(
      `episodes.jsonl has ${episodes.length} episodes but run.json says ${run.episodeCount}`,
    );
  }

  const datasets = [...entries.keys()]
    .filter((name) => name.startsWith('datasets/'))
    .map((name) => {
      const dataset = validate(DatasetSchema, readJson(archive, entries, name), name);
      if (`datasets/${dataset.id}.json` !== name) {
        throw new Error(`${name}: holds dataset ${dataset.id}; the file name must match its id`);
      }
      checkUniquePassageIds(dataset.passages, name);
      checkDate(dataset.createdAt, `${name}: createdAt`, now);
      return dataset;
    });

  const manifests = new Map<string, (typeof runFile.checkpoints)[number]>();
  for (const [i, manifest] of runFile.checkpoints.entries()) {
    const where = `run.json: checkpoints.${i}`;
    if (manifest.runId !== run.id) {
      throw new Error(`${where}: runId must be ${run.id}, got ${manifest.runId}`);
    }
    if (manifests.has(manifest.id)) throw new Error(`${where}: id ${manifest.id} appears twice`);
    checkDate(manifest.createdAt, `${where}.createdAt`, now);
    manifests.set(manifest.id, manifest);
  }
  for (const name of entries.keys()) {
    const folder = name.match(/^checkpoints\/([^/]+)\//)?.[1];
    if (folder !== undefined && !manifests.has(folder)) {
      throw new Error(`${name}: no checkpoint ${folder} is listed in run.json`);
    }
  }
  const checkpoints = [...manifests.values()].map((manifest) => {
    const layout = CHECKPOINT_FILES[manifest.kind];
    const folder = `checkpoints/${manifest.id}/`;
    const config = validate(
      JsonSchema,
      readJson(archive, entries, folder + layout.config),
      folder + layout.config,
    );
    const weightsName = folder + layout.weights;
    const weightsEntry = entries.get(weightsName);
    if (!weightsEntry) throw new Error(`The archive has no ${weightsName}.`);
    const file = parseSafetensors(readEntry(archive, weightsEntry), weightsName);
    const listed = new Set(manifest.tensors.map((t) => t.name));
    for (const name of file.entries.keys()) {
      if (!listed.has(name)) {
        throw new Error(
          `${weightsName}: tensor ${name} is not in checkpoint ${manifest.id}'s manifest`,
        );
      }
    }
    const tensors = manifest.tensors.map((info) => {
      const entry = file.entries.get(info.name);
      if (!entry) throw new Error(`${weightsName}: missing tensor ${info.name}`);
      if (entry.shape.join(',') !== info.shape.join(',')) {
        throw new Error(
          `${weightsName}: tensor ${info.name} has shape [${entry.shape.join(', ')}] but the ` +
            `manifest says [${info.shape.join(', ')}]`,
        );
      }
      return { name: info.name, shape: info.shape, data: file.readFloat32(info.name) };
    });
    checkTensors(tensors, weightsName);
    const checkpoint: CheckpointRecord = {
      ...manifest,
      config,
      sizeBytes: tensors.reduce((sum, t) => sum + t.data.byteLength, 0),
    };
    return { checkpoint, tensors };
  });
  return { run, episodes, datasets, checkpoints };
}

/** What an import stores, at least: its tensors and its records as JSON. */
function plannedBytes(plan: ImportPlan): number {
  const records = [plan.run, ...plan.episodes, ...plan.datasets];
  let bytes = records.reduce((sum, record) => sum + JSON.stringify(record).length, 0);
  for (const { tensors } of plan.checkpoints) {
    bytes += tensors.reduce((sum, tensor) => sum + tensor.data.byteLength, 0);
  }
  return bytes;
}

/** A checkpoint's record without what the export keeps in its own files (config, size). */
function addFile(
  zip: Zip,
  name: string,
  chunks: Uint8Array[],
  { stored = false }: { stored?: boolean } = {},
): void {
  const file = stored ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
  zip.add(file);
  for (const chunk of chunks) file.push(chunk);
  file.push(new Uint8Array(0), true);
}

function manifestOf(checkpoint: CheckpointRecord): v.InferOutput<typeof ExportedCheckpointSchema> {
  const { schemaVersion, id, name, kind, runId, round, parentId, tensors, createdAt } = checkpoint;
  return { schemaVersion, id, name, kind, runId, round, parentId, tensors, createdAt };
}

export function createExchange(ctx: StoreContext) {
  /**
   * Writes the run, its episodes, datasets and checkpoints as one zip file to `onChunk`, piece
   * by piece: one checkpoint's tensors are read and serialised at a time, so the archive is
   * never built whole in memory.
   */
  async function streamRun(runId: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    validate(IdSchema, runId, 'run id');
    let zipError: Error | null = null;
    const zip = new Zip((error, chunk) => {
      if (error) zipError = error;
      else onChunk(chunk);
    });
    // One read transaction: a consistent snapshot even while the run is being written. Zip
    // writes synchronously, so nothing awaits anything but this transaction's requests.
    await ctx.db.transact(
      ['runs', 'episodes', 'checkpoints', 'tensors', 'datasets'],
      'readonly',
      `the export of run ${runId}`,
      async (tx) => {
        const run = (await request(tx.objectStore('runs').get(runId))) as RunRecord | undefined;
        if (!run) throw new Error(`There is no run ${runId} in this browser's store.`);
        const checkpoints = (await request(
          tx.objectStore('checkpoints').index('runId').getAll(runId),
        )) as CheckpointRecord[];
        const runFile: RunFile = {
          format: EXPORT_FORMAT,
          schemaVersion: SCHEMA_VERSION,
          run,
          checkpoints: checkpoints.map(manifestOf).sort((a, b) => a.createdAt - b.createdAt),
        };
        addFile(zip, 'run.json', [strToU8(JSON.stringify(runFile, null, 2))]);
        const episodes = (await request(
          tx.objectStore('episodes').getAll(prefixRange([runId])),
        )) as EpisodeRecord[];
        addFile(
          zip,
          'episodes.jsonl',
          episodes.map((episode) => strToU8(JSON.stringify(episode) + '\n')),
        );
        for (const datasetId of run.datasetIds) {
          const dataset = (await request(tx.objectStore('datasets').get(datasetId))) as
            DatasetRecord | undefined;
          if (dataset)
            addFile(zip, `datasets/${dataset.id}.json`, [strToU8(JSON.stringify(dataset))]);
        }
        for (const checkpoint of checkpoints) {
          const layout = CHECKPOINT_FILES[checkpoint.kind];
          const folder = `checkpoints/${checkpoint.id}/`;
          const config = JSON.stringify(checkpoint.config, null, 2);
          addFile(zip, folder + layout.config, [strToU8(config)]);
          const tensors = await readTensors(tx, checkpoint);
          // Stored, not deflated: float weights barely compress and deflating them is slow.
          const weights = serializeSafetensors(tensors, { format: 'pt' });
          addFile(zip, folder + layout.weights, [weights], { stored: true });
        }
      },
    );
    zip.end();
    if (zipError) throw zipError;
  }

  return {
    streamRun,

    /** The run's export (see streamRun) as the bytes of one zip file. */
    async exportRun(runId: string): Promise<Uint8Array> {
      const chunks: Uint8Array[] = [];
      await streamRun(runId, (chunk) => chunks.push(chunk));
      const archive = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
      let offset = 0;
      for (const chunk of chunks) {
        archive.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return archive;
    },

    /**
     * The run's export (see streamRun) as a Blob made of its pieces, which the browser may keep
     * on disk, for a download that never holds the archive as one buffer.
     */
    async exportRunBlob(runId: string): Promise<Blob> {
      const chunks: Uint8Array<ArrayBuffer>[] = [];
      await streamRun(runId, (chunk) => chunks.push(chunk as Uint8Array<ArrayBuffer>));
      return new Blob(chunks, { type: 'application/zip' });
    },

    /**
     * Checks a whole export, then stores its run (paused, if it was running), episodes,
     * datasets not stored yet, and checkpoints in one transaction. Any problem: an error naming
     * the file and field, and nothing stored changes.
     */
    async importRun(archive: Uint8Array): Promise<RunRecord> {
      const plan = planImport(archive, ctx.now());
      const run: RunRecord =
        plan.run.status === 'running'
          ? { ...plan.run, status: 'paused', statusMessage: 'Imported while it was running.' }
          : plan.run;
      await checkRoom(ctx.estimateStorage, plannedBytes(plan), `the import of run ${run.id}`);
      await ctx.db.transact(
        ['runs', 'episodes', 'datasets', 'checkpoints', 'tensors'],
        'readwrite',
        `the import of run ${run.id}`,
        async (tx) => {
          if ((await request(tx.objectStore('runs').getKey(run.id))) !== undefined) {
            throw new Error(
              `Run ${run.id} is already stored; delete it before importing it again.`,
            );
          }
          const bundled = new Set(plan.datasets.map((d) => d.id));
          for (const dataset of plan.datasets) {
            const stored = await request(tx.objectStore('datasets').getKey(dataset.id));
            if (stored === undefined) tx.objectStore('datasets').add(dataset, dataset.id);
          }
          for (const datasetId of run.datasetIds) {
            if (
              !bundled.has(datasetId) &&
              (await request(tx.objectStore('datasets').getKey(datasetId))) === undefined
            ) {
              throw new Error(
                `run.json: run uses dataset ${datasetId}, which is neither in the archive nor stored`,
              );
            }
          }
          tx.objectStore('runs').add(run, run.id);
          for (const episode of plan.episodes) {
            tx.objectStore('episodes').add(episode, episodeKey(run.id, episode));
          }
          for (const { checkpoint, tensors } of plan.checkpoints) {
            await putCheckpoint(tx, checkpoint, tensors);
          }
        },
      );
      ctx.changes.publish({ kind: 'run', id: run.id });
      return run;
    },
  };
}
