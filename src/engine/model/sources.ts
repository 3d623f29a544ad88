/**
 * Where a model's files come from, and getting all of them checked into memory: the models that
 * ship with the app, a Hugging Face Hub repo, any URL with the Hub's file layout, or files the
 * user picked. Downloads report progress in bytes, stop at the job's checkpoints, and land in
 * the file cache only after each file has been validated; a cached model loads with no network.
 */
import type { Checkpoint, ProgressListener } from '../jobs';
import { parseModelConfig, type ModelConfig } from './config';
import { announcedLength, checkSha256, openUrl, readBody } from './download';
import { parseSafetensors, type SafetensorsFile } from './safetensors';
import type { WeightStorage } from './float16';
import { estimateModelMemory } from './weights';

export type ModelSource =
  /** A folder under the app's `models/` (see the build's models/index.json). */
  | { kind: 'shipped'; name: string }
  | { kind: 'hub'; repo: string; revision?: string }
  /** A base URL under which config.json, model.safetensors, … sit as on the Hub. */
  | { kind: 'url'; baseUrl: string }
  /** Files picked or dropped by the user (a model folder's contents). */
  | { kind: 'files'; files: File[] };

/** The part of the app's store that caches model files. */
export interface ModelFileCache {
  getModelFile(repo: string, revision: string, path: string): Promise<ArrayBuffer | undefined>;
  putModelFile(
    repo: string,
    revision: string,
    path: string,
    bytes: ArrayBuffer,
    etag?: string | null,
  ): Promise<unknown>;
}

/** WebGPU adapter limits a model's tensors must fit. */
export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface LoadFilesOptions {
  cache?: ModelFileCache | null;
  /** Where shipped models live: the app's base URL (the build serves `models/` under it). */
  appBaseUrl?: string | null;
  hubEndpoint?: string;
  /** When given, a model whose largest tensor exceeds them is refused before its weights load. */
  limits?: DeviceLimits | null;
  /** How the weights will be kept (the limits are checked for it); default float32. */
  weightStorage?: WeightStorage;
  checkpoint?: Checkpoint;
  /** Aborts downloads at once (a checkpoint only stops the job between reads). */
  signal?: AbortSignal;
  /** Bytes read so far of all the model's files; `message` names the current file. */
  onProgress?: ProgressListener;
  /**
   * Checks the whole model (how tokenizer, config and weights fit together) once every file has
   * arrived; it runs before any file is cached, so a model it refuses leaves nothing behind.
   */
  validate?: (files: ModelFiles) => void;
}

export interface ModelFiles {
  /** How the model is named to the user, e.g. `Qwen/Qwen2.5-0.5B@main`. */
  id: string;
  config: ModelConfig;
  weightFiles: SafetensorsFile[];
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown> | null;
  generationConfig: Record<string, unknown> | null;
  /** From tokenizer_config.json's `chat_template`, or chat_template.jinja. */
  chatTemplate: string | null;
  /** Size of all files read. */
  totalBytes: number;
  /** Whether every file came from the cache (no network). */
  fromCache: boolean;
  warnings: string[];
}

const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
const DEFAULT_REVISION = 'main';
/** Written to the cache after all of a model's files: lists them, so a later load needs no probing. */
const CACHE_MANIFEST = '.seal-model-files.json';

interface CacheManifest {
  id: string;
  files: { name: string; size: number }[];
}

const INDEX_FILE = 'model.safetensors.index.json';
const SINGLE_WEIGHTS_FILE = 'model.safetensors';
const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json', 'chat_template.jinja'];

interface ListedFile {
  size: number | null;
  sha256: string | null;
}

interface OpenedFile {
  size: number | null;
  read(checkpoint: Checkpoint, onBytes: (received: number) => void): Promise<Uint8Array>;
}

/** One place that holds a model's files. */
interface FileLocation {
  id: string;
  /** Where to cache its files; null for locations that are not downloads. */
  cacheKey: { repo: string; revision: string } | null;
  /** The files it holds, when it can say without probing. */
  listing: Map<string, ListedFile> | null;
  /** `null` when the file is not there. */
  open(name: string, signal: AbortSignal): Promise<OpenedFile | null>;
}

export async function loadModelFiles(
  source: ModelSource,
  options: LoadFilesOptions = {},
): Promise<ModelFiles> {
  const cache = options.cache ?? null;
  const cacheKey = cacheKeyOf(source);
  if (cache && cacheKey) {
    const cached = await readFromCache(cache, cacheKey, options);
    if (cached) {
      options.validate?.(cached);
      return cached;
    }
  }
  const abort = new AbortController();
  const stop = () => abort.abort();
  options.signal?.addEventListener('abort', stop);
  try {
    const location = await resolveLocation(source, options, abort.signal);
    return await download(location, cache, options, abort.signal);
  } catch (error) {
    // A download aborted by the job's cancel surfaces as the job's own cancellation.
    if (options.signal?.aborted) await options.checkpoint?.();
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', stop);
    abort.abort(); // closes the bodies of files opened but not read when something failed
  }
}

/** The cache identity of a source; null for sources that are not downloads. */
function cacheKeyOf(source: ModelSource): { repo: string; revision: string } | null {
  switch (source.kind) {
    case 'hub':
      return { repo: checkRepoId(source.repo), revision: source.revision || DEFAULT_REVISION };
    case 'url':
      // The cache is keyed like the Hub (owner/name); a URL becomes a stable name under 'url/'.
      return { repo: `url/${stableHash(normalizedBaseUrl(source.baseUrl))}`, revision: 'url' };
    default:
      return null;
  }
}

async function download(
  location: FileLocation,
  cache: ModelFileCache | null,
  options: LoadFilesOptions,
  signal: AbortSignal,
): Promise<ModelFiles> {
  const checkpoint = options.checkpoint ?? (async () => {});
  const warnings: string[] = [];
  let doneBytes = 0;
  let totalBytes = 0;
  const report = (fileName: string, current: number) =>
    options.onProgress?.({ done: doneBytes + current, total: totalBytes, message: fileName });

  const readOpened = async (name: string, opened: OpenedFile): Promise<Uint8Array> => {
    const bytes = await opened.read(checkpoint, (received) => report(name, received));
    const listed = location.listing?.get(name);
    if (typeof listed?.size === 'number' && bytes.byteLength !== listed.size) {
      throw new Error(
        `${name} from ${location.id} has ${bytes.byteLength} bytes, but the file list says ${listed.size}`,
      );
    }
    if (listed?.sha256) await checkSha256(bytes, listed.sha256, name);
    doneBytes += bytes.byteLength;
    return bytes;
  };
  const openRequired = async (name: string): Promise<OpenedFile> => {
    const opened = await location.open(name, signal);
    if (!opened) throw new Error(`${name} was not found in ${location.id}`);
    return opened;
  };
  const store = async (name: string, bytes: Uint8Array): Promise<boolean> => {
    if (!cache || !location.cacheKey) return false;
    const { repo, revision } = location.cacheKey;
    const sha256 = location.listing?.get(name)?.sha256 ?? null;
    try {
      await cache.putModelFile(repo, revision, name, ownBuffer(bytes), sha256);
      return true;
    } catch (error) {
      warnings.push(
        `${name} was not cached, so the next load downloads it again: ${(error as Error).message}`,
      );
      return false;
    }
  };

  // config.json first: a model that cannot run here is refused before any weights download.
  const configOpened = await openRequired('config.json');
  totalBytes = configOpened.size ?? 0;
  const configBytes = await readOpened('config.json', configOpened);
  const config = parseModelConfig(parseJson(configBytes, 'config.json'), 'config.json');
  if (options.limits) checkFitsDevice(config, options.limits, location.id, options.weightStorage);
  const files = new Map<string, Uint8Array>([['config.json', configBytes]]);

  const weightNames = await findWeightFiles(location, signal, async (name, opened) => {
    totalBytes += opened.size ?? 0;
    const bytes = await readOpened(name, opened);
    files.set(name, bytes);
    return bytes;
  });

  // The rest are opened together so the total is known before the long reads start.
  const rest = [...weightNames, 'tokenizer.json', ...OPTIONAL_FILES];
  const opened = await Promise.all(
    rest.map(async (name) => {
      const required = weightNames.includes(name) || name === 'tokenizer.json';
      return [
        name,
        required ? await openRequired(name) : await location.open(name, signal),
      ] as const;
    }),
  );
  for (const [, file] of opened) totalBytes += file?.size ?? 0;
  for (const [name, file] of opened) {
    if (!file) continue;
    const bytes = await readOpened(name, file);
    validateFile(name, bytes, weightNames);
    files.set(name, bytes);
  }
  const model = assemble(location.id, config, files, weightNames, false, warnings);
  options.validate?.(model);

  let cachedAll = cache !== null && location.cacheKey !== null;
  for (const [name, bytes] of files) {
    await checkpoint();
    cachedAll = (await store(name, bytes)) && cachedAll;
  }
  if (cachedAll) {
    const manifest: CacheManifest = {
      id: location.id,
      files: [...files].map(([name, bytes]) => ({ name, size: bytes.byteLength })),
    };
    await store(CACHE_MANIFEST, new TextEncoder().encode(JSON.stringify(manifest)));
  }
  return model;
}

/** Reads (through `read`) the index of a sharded checkpoint and names the weight files. */
async function findWeightFiles(
  location: FileLocation,
  signal: AbortSignal,
  read: (name: string, opened: OpenedFile) => Promise<Uint8Array>,
): Promise<string[]> {
  const listed = (name: string) => location.listing === null || location.listing.has(name);
  const index = listed(INDEX_FILE) ? await location.open(INDEX_FILE, signal) : null;
  if (index) return shardNames(parseJson(await read(INDEX_FILE, index), INDEX_FILE));
  if (!listed(SINGLE_WEIGHTS_FILE)) {
    throw new Error(
      `${location.id} has neither ${SINGLE_WEIGHTS_FILE} nor ${INDEX_FILE} (only safetensors checkpoints load)`,
    );
  }
  return [SINGLE_WEIGHTS_FILE];
}

function shardNames(index: unknown): string[] {
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(weightMap) || Object.keys(weightMap).length === 0) {
    throw new Error(`${INDEX_FILE}: weight_map must be an object of tensor name → file name`);
  }
  const names = new Set<string>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || !/^[\w.-]+\.safetensors$/.test(file) || file.startsWith('.')) {
      throw new Error(
        `${INDEX_FILE}: tensor '${tensor}' maps to ${JSON.stringify(file)}, which is not a .safetensors file next to the index`,
      );
    }
    names.add(file);
  }
  return [...names].sort();
}

/** Checks one file as soon as it has arrived, so a broken one is never cached. */
function validateFile(name: string, bytes: Uint8Array, weightNames: string[]): void {
  if (weightNames.includes(name)) parseSafetensors(bytes, name);
  else if (name.endsWith('.json')) parseJson(bytes, name);
  else decodeText(bytes, name);
}

/** Turns validated file bytes into the model's parts, checking how they fit together. */
function assemble(
  id: string,
  config: ModelConfig,
  files: Map<string, Uint8Array>,
  weightNames: string[],
  fromCache: boolean,
  warnings: string[],
): ModelFiles {
  const bytesOf = (name: string) => files.get(name) ?? null;
  const json = (name: string) => {
    const bytes = bytesOf(name);
    if (bytes === null) return null;
    const value = parseJson(bytes, name);
    if (!isObject(value)) throw new Error(`${name} must hold a JSON object`);
    return value;
  };
  const weightFiles = weightNames.map((name) => parseSafetensors(bytesOf(name)!, name));
  const index = json(INDEX_FILE);
  if (index) checkIndexMatchesShards(index, weightFiles);
  const tokenizerConfig = json('tokenizer_config.json');
  const templateFile = bytesOf('chat_template.jinja');
  const configTemplate = tokenizerConfig?.chat_template;
  return {
    id,
    config,
    weightFiles,
    tokenizerJson: json('tokenizer.json')!,
    tokenizerConfig,
    generationConfig: json('generation_config.json'),
    chatTemplate:
      templateFile !== null
        ? decodeText(templateFile, 'chat_template.jinja')
        : typeof configTemplate === 'string'
          ? configTemplate
          : null,
    totalBytes: [...files.values()].reduce((total, bytes) => total + bytes.byteLength, 0),
    fromCache,
    warnings,
  };
}

function checkIndexMatchesShards(index: Record<string, unknown>, shards: SafetensorsFile[]) {
  const byName = new Map(shards.map((shard) => [shard.fileName, shard]));
  for (const [tensor, file] of Object.entries(index.weight_map as Record<string, string>)) {
    if (!byName.get(file)?.entries.has(tensor)) {
      throw new Error(`${INDEX_FILE} puts tensor '${tensor}' in ${file}, which does not hold it`);
    }
  }
}

function checkFitsDevice(
  config: ModelConfig,
  limits: DeviceLimits,
  id: string,
  storage: WeightStorage = 'float32',
): void {
  const estimate = estimateModelMemory(config, undefined, 1, storage);
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  if (estimate.largestTensorBytes > limit) {
    throw new Error(
      `${id} cannot run on this GPU: its largest tensor '${estimate.largestTensorName}' needs ${formatSize(estimate.largestTensorBytes)} as ${storage}, but the adapter allows buffers of at most ${formatSize(limits.maxBufferSize)} and storage bindings of at most ${formatSize(limits.maxStorageBufferBindingSize)} (whole model: ${formatSize(estimate.parameterBytes)})`,
    );
  }
}

async function readFromCache(
  cache: ModelFileCache,
  key: { repo: string; revision: string },
  options: LoadFilesOptions,
): Promise<ModelFiles | null> {
  const manifestBuffer = await cache.getModelFile(key.repo, key.revision, CACHE_MANIFEST);
  if (!manifestBuffer) return null;
  const manifest = parseJson(new Uint8Array(manifestBuffer), CACHE_MANIFEST);
  if (!isCacheManifest(manifest)) return null;
  const total = manifest.files.reduce((sum, file) => sum + file.size, 0);
  let done = 0;
  const files = new Map<string, Uint8Array>();
  let config: ModelConfig | null = null;
  // config.json is listed first: a model that cannot fit is refused before its weights are read.
  for (const { name } of manifest.files) {
    await options.checkpoint?.();
    const buffer = await cache.getModelFile(key.repo, key.revision, name);
    if (!buffer) return null; // evicted or cleared: download again
    const bytes = new Uint8Array(buffer);
    files.set(name, bytes);
    done += bytes.byteLength;
    options.onProgress?.({ done, total, message: `${name} (from this browser’s cache)` });
    if (name === 'config.json') {
      config = parseModelConfig(parseJson(bytes, name), name);
      if (options.limits)
        checkFitsDevice(config, options.limits, manifest.id, options.weightStorage);
    }
  }
  if (!config) return null;
  const index = files.get(INDEX_FILE);
  const weightNames = index ? shardNames(parseJson(index, INDEX_FILE)) : [SINGLE_WEIGHTS_FILE];
  return assemble(manifest.id, config, files, weightNames, true, []);
}

function isCacheManifest(value: unknown): value is CacheManifest {
  return (
    isObject(value) &&
    typeof value.id === 'string' &&
    Array.isArray(value.files) &&
    value.files.every(
      (file) => isObject(file) && typeof file.name === 'string' && Number.isSafeInteger(file.size),
    )
  );
}

async function resolveLocation(
  source: ModelSource,
  options: LoadFilesOptions,
  signal: AbortSignal,
): Promise<FileLocation> {
  switch (source.kind) {
    case 'hub':
      return hubLocation(source.repo, source.revision || DEFAULT_REVISION, options, signal);
    case 'url':
      return urlLocation(normalizedBaseUrl(source.baseUrl), null, cacheKeyOf(source), null);
    case 'shipped':
      return shippedLocation(source.name, options, signal);
    case 'files':
      return localLocation(source.files);
  }
}

/** The Hub's model API lists the files with sizes and LFS hashes, and pins the commit. */
async function hubLocation(
  repo: string,
  revision: string,
  options: LoadFilesOptions,
  signal: AbortSignal,
): Promise<FileLocation> {
  const endpoint = (options.hubEndpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const id = `${checkRepoId(repo)}@${revision}`;
  const apiUrl = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const response = await openUrl(apiUrl, `the file list of ${id}`, signal);
  if (!response) {
    throw new Error(
      `${repo} has no revision '${revision}' on the Hub, or the repository does not exist`,
    );
  }
  const info = parseJson(
    await readBody(
      response,
      'file list',
      async () => {},
      () => {},
    ),
    `the file list of ${id}`,
  );
  if (!isObject(info) || !Array.isArray(info.siblings)) {
    throw new Error(`the Hub's answer for ${id} has no file list`);
  }
  const listing = new Map<string, ListedFile>();
  for (const sibling of info.siblings as Record<string, unknown>[]) {
    if (typeof sibling?.rfilename !== 'string') continue;
    const lfs = isObject(sibling.lfs) ? sibling.lfs : null;
    const size =
      typeof sibling.size === 'number' ? sibling.size : (lfs?.size as number | undefined);
    const sha256 = lfs?.sha256 ?? lfs?.oid;
    listing.set(sibling.rfilename, {
      size: typeof size === 'number' ? size : null,
      sha256: typeof sha256 === 'string' && /^[0-9a-f]{64}$/i.test(sha256) ? sha256 : null,
    });
  }
  // Resolve every file at the listed commit, so a push during the download cannot mix versions.
  const commit =
    typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : revision;
  const base = `${endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/`;
  return urlLocation(base, listing, { repo, revision }, id);
}

function urlLocation(
  baseUrl: string,
  listing: Map<string, ListedFile> | null,
  cacheKey: { repo: string; revision: string } | null,
  id: string | null,
): FileLocation {
  return {
    id: id ?? baseUrl,
    cacheKey,
    listing,
    async open(name, signal) {
      if (listing && !listing.has(name)) return null;
      const response = await openUrl(new URL(name, baseUrl).href, name, signal);
      if (!response) return null;
      return {
        // The listed size is the file's own; Content-Length may be that of a compressed body.
        size: listing?.get(name)?.size ?? announcedLength(response),
        read: (checkpoint, onBytes) => readBody(response, name, checkpoint, onBytes),
      };
    },
  };
}

export interface ShippedModel {
  name: string;
  files: { path: string; size: number }[];
}

/** The model the app opens with; the others (the puzzle model) are offered beside it. */
export const DEFAULT_SHIPPED_MODEL = 'seal-world-1m';

/**
 * The default model first, the others in the listing's order: opening the app loads the first
 * shipped model and the Model panel offers it first, whatever the folders' alphabetical order.
 */
export function defaultModelFirst(models: readonly ShippedModel[]): ShippedModel[] {
  const isDefault = (model: ShippedModel) => model.name === DEFAULT_SHIPPED_MODEL;
  return [...models.filter(isDefault), ...models.filter((model) => !isDefault(model))];
}

/** The build writes models/index.json listing every folder of the repo's `models/`. */
export async function listShippedModels(
  appBaseUrl: string,
  signal?: AbortSignal,
): Promise<ShippedModel[]> {
  const url = new URL('models/index.json', appBaseUrl).href;
  const response = await openUrl(url, 'models/index.json', signal ?? new AbortController().signal);
  if (!response) return [];
  const manifest = parseJson(
    await readBody(
      response,
      'models/index.json',
      async () => {},
      () => {},
    ),
    'models/index.json',
  );
  if (!isObject(manifest) || !Array.isArray(manifest.models)) {
    throw new Error('models/index.json must hold {"models": [...]}');
  }
  return defaultModelFirst(manifest.models as ShippedModel[]);
}

async function shippedLocation(
  name: string,
  options: LoadFilesOptions,
  signal: AbortSignal,
): Promise<FileLocation> {
  if (!options.appBaseUrl) throw new Error('shipped models need the app’s base URL');
  const models = await listShippedModels(options.appBaseUrl, signal);
  const model = models.find((candidate) => candidate.name === name);
  if (!model) {
    const known = models.map((candidate) => candidate.name).join(', ') || 'none';
    throw new Error(`no model named '${name}' ships with this app (shipped: ${known})`);
  }
  const listing = new Map(
    model.files.map((file) => [file.path, { size: file.size, sha256: null }]),
  );
  const base = new URL(`models/${encodeURIComponent(name)}/`, options.appBaseUrl).href;
  return urlLocation(base, listing, null, name);
}

function localLocation(files: File[]): FileLocation {
  const byName = new Map<string, File>();
  for (const file of files) {
    const other = byName.get(file.name);
    if (other) {
      throw new Error(
        `the picked files hold two ${file.name} (${relativePath(other)} and ${relativePath(file)}): pick one model's folder`,
      );
    }
    byName.set(file.name, file);
  }
  const listing = new Map(
    [...byName].map(([name, file]) => [name, { size: file.size, sha256: null }] as const),
  );
  return {
    id: localFolderName(files),
    cacheKey: null,
    listing,
    async open(name) {
      const file = byName.get(name);
      if (!file) return null;
      return {
        size: file.size,
        async read(checkpoint, onBytes) {
          await checkpoint();
          const bytes = new Uint8Array(await file.arrayBuffer());
          onBytes(bytes.byteLength);
          return bytes;
        },
      };
    },
  };
}

function localFolderName(files: File[]): string {
  const folder = files.map(relativePath).find((path) => path.includes('/'));
  return folder ? `local folder ${folder.split('/')[0]}` : 'picked files';
}

function relativePath(file: File): string {
  return (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
}

function checkRepoId(repo: string): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.split('/').some((part) => /^\.+$/.test(part))) {
    throw new Error(
      `'${repo}' is not a Hub model id (expected owner/name, e.g. Qwen/Qwen2.5-0.5B)`,
    );
  }
  return repo;
}

function normalizedBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new Error(`'${baseUrl}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`'${baseUrl}' must be an http(s) URL`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** FNV-1a, 64 bits as hex: names a URL's cache entry; not a security boundary. */
function stableHash(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

function parseJson(bytes: Uint8Array, fileName: string): unknown {
  const text = decodeText(bytes, fileName);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${fileName} is not valid JSON: ${(error as Error).message}`);
  }
}

function decodeText(bytes: Uint8Array, fileName: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${fileName} is not UTF-8 text`);
  }
}

/** IndexedDB stores whole ArrayBuffers: hand it one that holds exactly these bytes. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return bytes.buffer as ArrayBuffer;
  }
  return bytes.slice().buffer;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function formatSize(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
