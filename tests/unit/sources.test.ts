import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { createEngine } from '../../src/engine/engine';
import { CancelledError, JobRegistry, type JobProgress } from '../../src/engine/jobs';
import { loadModel } from '../../src/engine/model/loader';
import { createModelService } from '../../src/engine/model/service';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/model/safetensors';
import { createModelSession, getLoadedModel, setLoadedModel } from '../../src/engine/model/session';
import {
  DEFAULT_SHIPPED_MODEL,
  defaultModelFirst,
  listShippedModels,
  loadModelFiles,
  type LoadFilesOptions,
  type ModelSource,
} from '../../src/engine/model/sources';
import { freshStore } from './storeHelpers';
import { COMMIT, fixtureFile, startFakeHub, type FakeHub } from './sourcesServer';

let hub: FakeHub;

beforeAll(async () => {
  await selectBackend('wasm');
  hub = await startFakeHub();
});
afterAll(() => hub.close());
afterEach(() => {
  hub.requests.length = 0;
  hub.overrides.clear();
  hub.unlisted.clear();
  hub.offline = false;
});

const fromHub = (model: string, revision?: string): ModelSource => ({
  kind: 'hub',
  repo: `test/${model}`,
  ...(revision ? { revision } : {}),
});

function options(extra: LoadFilesOptions = {}): LoadFilesOptions {
  return { hubEndpoint: hub.url, ...extra };
}

const modelFileNames = (model: string) =>
  ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']
    .concat(model === 'tiny-qwen2-sharded' ? ['chat_template.jinja'] : [])
    .map((file) => `${model}/${file}`);

describe('loading from the Hub', () => {
  it('downloads a single-file model with byte progress, pinned to the listed commit', async () => {
    const progress: JobProgress[] = [];
    const files = await loadModelFiles(
      fromHub('tiny-llama'),
      options({ onProgress: (p) => progress.push(p) }),
    );
    expect(files.id).toBe('test/tiny-llama@main');
    expect(files.fromCache).toBe(false);
    expect(files.config.architecture).toBe('LlamaForCausalLM');
    expect(files.weightFiles.map((file) => file.fileName)).toEqual(['model.safetensors']);
    expect(files.chatTemplate).toContain('<|im_start|>');
    expect(files.generationConfig).toMatchObject({ bos_token_id: 0, eos_token_id: 1 });
    const expectedBytes = ['model.safetensors', ...modelFileNames('tiny-llama')]
      .map((name) => fixtureFile('tiny-llama', name.replace('tiny-llama/', '')).length)
      .reduce((a, b) => a + b);
    expect(files.totalBytes).toBe(expectedBytes);
    const last = progress.at(-1)!;
    expect(last.done).toBe(expectedBytes);
    expect(last.total).toBe(expectedBytes);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
    }
    expect(hub.requests[0]).toBe('/api/models/test/tiny-llama/revision/main?blobs=true');
    expect(
      hub.requests.filter((url) => url.includes('/resolve/')).every((url) => url.includes(COMMIT)),
    ).toBe(true);
  });

  it('joins a sharded checkpoint and reads the chat template from chat_template.jinja', async () => {
    const files = await loadModelFiles(fromHub('tiny-qwen2-sharded'), options());
    expect(files.weightFiles.map((file) => file.fileName)).toEqual([
      'model-00001-of-00004.safetensors',
      'model-00002-of-00004.safetensors',
      'model-00003-of-00004.safetensors',
      'model-00004-of-00004.safetensors',
    ]);
    expect(files.chatTemplate).toContain('You are a helpful assistant.');
    expect(files.config.architecture).toBe('Qwen2ForCausalLM');
  });

  it('says clearly when a required file is missing', async () => {
    hub.unlisted.add('tiny-llama/tokenizer.json');
    await expect(loadModelFiles(fromHub('tiny-llama'), options())).rejects.toThrow(
      'tokenizer.json was not found in test/tiny-llama@main',
    );
    await expect(loadModelFiles(fromHub('no-such-model'), options())).rejects.toThrow(
      "test/no-such-model has no revision 'main' on the Hub, or the repository does not exist",
    );
    await expect(loadModelFiles({ kind: 'hub', repo: '../etc' }, options())).rejects.toThrow(
      "'../etc' is not a Hub model id",
    );
  });

  it('refuses a model whose largest tensor cannot fit the GPU, before downloading weights', async () => {
    const limits = { maxBufferSize: 32 * 1024, maxStorageBufferBindingSize: 16 * 1024 };
    await expect(loadModelFiles(fromHub('tiny-qwen2'), options({ limits }))).rejects.toThrow(
      "test/tiny-qwen2@main cannot run on this GPU: its largest tensor 'model.embed_tokens.weight' needs 56.0 KiB as float32, but the adapter allows buffers of at most 32.0 KiB and storage bindings of at most 16.0 KiB (whole model: 185.1 KiB)",
    );
    expect(hub.requests.some((url) => url.endsWith('.safetensors'))).toBe(false);
  });
});

describe('broken downloads are detected and never cached', () => {
  it('a connection dropped mid-file', async () => {
    const store = freshStore();
    hub.overrides.set('tiny-llama/model.safetensors', { kind: 'cut', sentBytes: 5000 });
    await expect(loadModelFiles(fromHub('tiny-llama'), options({ cache: store }))).rejects.toThrow(
      /model\.safetensors (broke off after|is incomplete: got) \d+/,
    );
    expect(
      await store.getModelFile('test/tiny-llama', 'main', 'model.safetensors'),
    ).toBeUndefined();
    expect(await store.listModelFiles()).toEqual([]);
    await store.close();
  });

  it('a file shorter than the Hub says', async () => {
    const store = freshStore();
    const full = fixtureFile('tiny-llama', 'model.safetensors');
    hub.overrides.set('tiny-llama/model.safetensors', {
      kind: 'bytes',
      bytes: full.subarray(0, 9000),
    });
    await expect(loadModelFiles(fromHub('tiny-llama'), options({ cache: store }))).rejects.toThrow(
      `model.safetensors from test/tiny-llama@main has 9000 bytes, but the file list says ${full.length}`,
    );
    expect(await store.listModelFiles()).toEqual([]);
    await store.close();
  });

  it('a truncated file from a plain URL (no file list) fails safetensors validation', async () => {
    const store = freshStore();
    const full = fixtureFile('tiny-llama', 'model.safetensors');
    hub.overrides.set('tiny-llama/model.safetensors', {
      kind: 'bytes',
      bytes: full.subarray(0, 9000),
    });
    await expect(
      loadModelFiles(
        { kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama` },
        options({ cache: store }),
      ),
    ).rejects.toThrow(/model\.safetensors: tensor '.+': data_offsets \[\d+, \d+\] run past the/);
    expect(await store.listModelFiles()).toEqual([]);
    await store.close();
  });

  it('a safetensors header that lies about its length', async () => {
    const store = freshStore();
    const lying = fixtureFile('tiny-llama', 'model.safetensors').slice();
    new DataView(lying.buffer).setBigUint64(0, BigInt(lying.length), true);
    hub.overrides.set('tiny-llama/model.safetensors', { kind: 'bytes', bytes: lying });
    await expect(
      loadModelFiles(
        { kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama/` },
        options({ cache: store }),
      ),
    ).rejects.toThrow(/^model\.safetensors: header length \d+ runs past the end/);
    expect(await store.listModelFiles()).toEqual([]);
    await store.close();
  });

  it('a file whose bytes do not match the SHA-256 the Hub lists', async () => {
    const corrupt = fixtureFile('tiny-qwen2', 'model.safetensors').slice();
    corrupt[corrupt.length - 1]! ^= 0xff; // inside the last tensor: the header stays valid
    hub.overrides.set('tiny-qwen2/model.safetensors', { kind: 'bytes', bytes: corrupt });
    // The listed hash is of the real file; the served one differs in one byte.
    await expect(loadModelFiles(fromHub('tiny-qwen2'), options())).rejects.toThrow(
      /^model\.safetensors is corrupt: its SHA-256 is [0-9a-f]{64}, the repository says [0-9a-f]{64}$/,
    );
  });

  it('an index that misplaces a tensor or points outside the folder', async () => {
    const index = JSON.parse(
      new TextDecoder().decode(fixtureFile('tiny-qwen2-sharded', 'model.safetensors.index.json')),
    );
    const serve = (value: unknown) =>
      hub.overrides.set('tiny-qwen2-sharded/model.safetensors.index.json', {
        kind: 'bytes',
        bytes: new TextEncoder().encode(JSON.stringify(value)),
      });
    const source: ModelSource = { kind: 'url', baseUrl: `${hub.url}/plain/tiny-qwen2-sharded/` };
    serve({
      ...index,
      weight_map: { ...index.weight_map, 'model.norm.weight': 'model-00001-of-00004.safetensors' },
    });
    await expect(loadModelFiles(source, options())).rejects.toThrow(
      "model.safetensors.index.json puts tensor 'model.norm.weight' in model-00001-of-00004.safetensors, which does not hold it",
    );
    serve({ weight_map: { 'model.norm.weight': '../secrets.safetensors' } });
    await expect(loadModelFiles(source, options())).rejects.toThrow(
      'model.safetensors.index.json: tensor \'model.norm.weight\' maps to "../secrets.safetensors", which is not a .safetensors file next to the index',
    );
  });

  it('a malformed config.json names the file and the field', async () => {
    const config = JSON.parse(new TextDecoder().decode(fixtureFile('tiny-llama', 'config.json')));
    config.architectures = ['GPT2LMHeadModel'];
    hub.overrides.set('tiny-llama/config.json', {
      kind: 'bytes',
      bytes: new TextEncoder().encode(JSON.stringify(config)),
    });
    await expect(
      loadModelFiles({ kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama/` }, options()),
    ).rejects.toThrow('config.json: architecture "GPT2LMHeadModel" is not supported');
    hub.overrides.set('tiny-llama/config.json', {
      kind: 'bytes',
      bytes: new TextEncoder().encode('{"a": '),
    });
    await expect(
      loadModelFiles({ kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama/` }, options()),
    ).rejects.toThrow(/^config\.json is not valid JSON/);
  });

  it('a cancel stops the download and caches nothing', async () => {
    const store = freshStore();
    let reads = 0;
    const checkpoint = async () => {
      reads += 1;
      if (reads === 4) throw new CancelledError('load-1');
    };
    await expect(
      loadModelFiles(fromHub('tiny-qwen2-sharded'), options({ cache: store, checkpoint })),
    ).rejects.toThrow('Job load-1 was cancelled');
    const cached = await store.listModelFiles();
    expect(cached.some((record) => record.path === '.seal-model-files.json')).toBe(false);
    await store.close();
  });
});

describe('the cache', () => {
  it('serves the second load with no network at all', async () => {
    const store = freshStore();
    const first = await loadModelFiles(fromHub('tiny-qwen2-sharded'), options({ cache: store }));
    expect(first.fromCache).toBe(false);

    hub.offline = true;
    hub.requests.length = 0;
    const progress: JobProgress[] = [];
    const second = await loadModelFiles(
      fromHub('tiny-qwen2-sharded'),
      options({ cache: store, onProgress: (p) => progress.push(p) }),
    );
    expect(hub.requests).toEqual([]);
    expect(progress.length).toBe(10); // config, index, 4 shards, tokenizer and its 3 companions
    expect(progress.at(-1)).toMatchObject({ done: first.totalBytes, total: first.totalBytes });
    expect(second.fromCache).toBe(true);
    expect(second.id).toBe(first.id);
    expect(second.totalBytes).toBe(first.totalBytes);
    expect(second.chatTemplate).toBe(first.chatTemplate);
    for (const [i, shard] of second.weightFiles.entries()) {
      const name = 'model.layers.0.self_attn.q_proj.bias';
      if (shard.entries.has(name)) {
        expect(shard.readFloat32(name)).toEqual(first.weightFiles[i]!.readFloat32(name));
      }
    }
    const limits = { maxBufferSize: 1024, maxStorageBufferBindingSize: 1024 };
    await expect(
      loadModelFiles(fromHub('tiny-qwen2-sharded'), options({ cache: store, limits })),
    ).rejects.toThrow('test/tiny-qwen2-sharded@main cannot run on this GPU');
    // Other revisions and URLs are cached apart.
    await expect(
      loadModelFiles(fromHub('tiny-qwen2-sharded', 'v2'), options({ cache: store })),
    ).rejects.toThrow(/could not download/);
    await store.close();
  });

  it('caches URL sources too, and downloads again once a file was evicted', async () => {
    const store = freshStore();
    const source: ModelSource = { kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama` };
    await loadModelFiles(source, options({ cache: store }));
    const [record] = await store.listModelFiles();
    hub.requests.length = 0;
    expect((await loadModelFiles(source, options({ cache: store }))).fromCache).toBe(true);
    expect(hub.requests).toEqual([]);

    await store.deleteModel(record!.repo);
    const again = await loadModelFiles(source, options({ cache: store }));
    expect(again.fromCache).toBe(false);
    expect(hub.requests.length).toBeGreaterThan(0);
    await store.close();
  });
});

describe('other sources', () => {
  it('loads a URL source, probing the optional files', async () => {
    const files = await loadModelFiles(
      { kind: 'url', baseUrl: `${hub.url}/plain/tiny-qwen2-sharded` },
      options(),
    );
    expect(files.weightFiles.length).toBe(4);
    expect(files.id).toBe(`${hub.url}/plain/tiny-qwen2-sharded/`);
    hub.overrides.set('tiny-llama/model.safetensors', { kind: 'missing' });
    await expect(
      loadModelFiles({ kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama` }, options()),
    ).rejects.toThrow(`model.safetensors was not found in ${hub.url}/plain/tiny-llama/`);
    await expect(loadModelFiles({ kind: 'url', baseUrl: 'ftp://x/' }, options())).rejects.toThrow(
      "'ftp://x/' must be an http(s) URL",
    );
  });

  it('lists and loads the models shipped with the app', async () => {
    const appBaseUrl = `${hub.url}/app/`;
    const shipped = await listShippedModels(appBaseUrl);
    expect(shipped.map((model) => model.name)).toEqual(['tiny-llama', 'tiny-qwen2-sharded']);
    const files = await loadModelFiles(
      { kind: 'shipped', name: 'tiny-llama' },
      options({ appBaseUrl }),
    );
    expect(files.id).toBe('tiny-llama');
    await expect(
      loadModelFiles({ kind: 'shipped', name: 'nope' }, options({ appBaseUrl })),
    ).rejects.toThrow(
      "no model named 'nope' ships with this app (shipped: tiny-llama, tiny-qwen2-sharded)",
    );
  });

  it('lists the default model first, the others in the listing order', () => {
    const listed = (...names: string[]) => names.map((name) => ({ name, files: [] }));
    const names = (models: { name: string }[]) => models.map((model) => model.name);
    expect(
      names(defaultModelFirst(listed('a-model', 'seal-puzzles-1m', DEFAULT_SHIPPED_MODEL, 'z'))),
    ).toEqual([DEFAULT_SHIPPED_MODEL, 'a-model', 'seal-puzzles-1m', 'z']);
    expect(names(defaultModelFirst(listed('b', 'a')))).toEqual(['b', 'a']);
    expect(defaultModelFirst([])).toEqual([]);
  });

  it('loads files the user picked, and refuses two files of one name', async () => {
    const pick = (model: string, names: string[]) =>
      names.map((name) => new File([fixtureFile(model, name) as Uint8Array<ArrayBuffer>], name));
    const names = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
    const files = await loadModelFiles({ kind: 'files', files: pick('tiny-llama3', names) });
    expect(files.id).toBe('picked files');
    expect(files.config.tieWordEmbeddings).toBe(true);
    expect(files.generationConfig).toBeNull();

    const twice = [...pick('tiny-llama3', names), ...pick('tiny-llama', ['config.json'])];
    await expect(loadModelFiles({ kind: 'files', files: twice })).rejects.toThrow(
      'the picked files hold two config.json',
    );
    await expect(
      loadModelFiles({
        kind: 'files',
        files: pick('tiny-llama3', ['config.json', 'tokenizer.json']),
      }),
    ).rejects.toThrow(
      'picked files has neither model.safetensors nor model.safetensors.index.json',
    );
  });
});

describe('loadModel', () => {
  it('makes the model the loaded one, with its tokenizer, and frees the previous model', async () => {
    const before = tf.memory().numTensors;
    const summary = await loadModel(fromHub('tiny-qwen2-bf16'), options());
    expect(summary).toMatchObject({
      id: 'test/tiny-qwen2-bf16@main',
      architecture: 'Qwen2ForCausalLM',
      // embeddings + lm_head, 2 × (q, k, v with biases, o, MLP, norms), final norm
      parameters: 2 * 448 * 32 + 2 * (1056 + 528 + 528 + 1024 + 3 * 32 * 64 + 64) + 32,
      storedDtypes: ['BF16'],
      contextTokens: 256,
      fromCache: false,
      // generation_config.json: do_sample false
      generationDefaults: { temperature: 0 },
      hasChatTemplate: true,
      warnings: [],
    });
    const loaded = getLoadedModel()!;
    expect(loaded.tokenizer.encode('The fox')).toEqual(loaded.tokenizer.encode('The fox'));
    expect(loaded.tokenizer.eosToken).toBe('<|im_end|>');
    expect(loaded.chatTemplate).toContain('<|im_start|>');
    expect(tf.memory().numTensors).toBe(before + loaded.weights.size);

    await loadModel(fromHub('tiny-llama'), options());
    expect(getLoadedModel()!.id).toBe('test/tiny-llama@main');
    expect(tf.memory().numTensors).toBe(before + getLoadedModel()!.weights.size);
    setLoadedModel(null);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a tokenizer with ids beyond the embedding', async () => {
    const config = JSON.parse(new TextDecoder().decode(fixtureFile('tiny-llama', 'config.json')));
    config.vocab_size = 300;
    config.eos_token_id = 1;
    hub.overrides.set('tiny-llama/config.json', {
      kind: 'bytes',
      bytes: new TextEncoder().encode(JSON.stringify(config)),
    });
    await expect(
      loadModel({ kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama` }, options()),
    ).rejects.toThrow(
      /^tokenizer\.json has token ".+" with id 399, but config\.json's vocab_size is 300/,
    );
  });

  it('a cancel at any checkpoint, between files, cache writes or tensors, loads nothing', async () => {
    let checkpoints = 0;
    const counting = async () => {
      checkpoints += 1;
    };
    const complete = freshStore();
    await loadModel(fromHub('tiny-llama'), options({ cache: complete, checkpoint: counting }));
    setLoadedModel(null);
    const completeFiles = (await complete.listModelFiles()).length;
    await complete.close();
    const total = checkpoints;
    expect(total).toBeGreaterThan(10);
    const tensorsBefore = tf.memory().numTensors;
    for (let cancelAt = 1; cancelAt <= total; cancelAt++) {
      const store = freshStore();
      let reached = 0;
      const checkpoint = async () => {
        reached += 1;
        if (reached === cancelAt) throw new CancelledError('load');
      };
      await expect(
        loadModel(fromHub('tiny-llama'), options({ cache: store, checkpoint })),
      ).rejects.toThrow('Job load was cancelled');
      expect(getLoadedModel()).toBeNull();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      // The cache lists a model only once all of its files are in.
      const cached = await store.listModelFiles();
      if (cached.some((record) => record.path === '.seal-model-files.json')) {
        expect(cached).toHaveLength(completeFiles);
      }
      await store.close();
    }
  });

  it('keeps the previous model when a load fails', async () => {
    await loadModel(fromHub('tiny-llama'), options());
    hub.overrides.set('tiny-llama3/tokenizer.json', {
      kind: 'bytes',
      bytes: new TextEncoder().encode('{}'),
    });
    await expect(
      loadModel({ kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama3` }, options()),
    ).rejects.toThrow("tokenizer.json: expected a tokenizer object with a 'model' section");
    expect(getLoadedModel()!.id).toBe('test/tiny-llama@main');
    setLoadedModel(null);
  });
});

describe('a model refused as a whole leaves nothing in the cache', () => {
  const serve = (file: string, bytes: Uint8Array) =>
    hub.overrides.set(`tiny-llama/${file}`, { kind: 'bytes', bytes });
  const serveConfig = (edit: (config: Record<string, unknown>) => void) => {
    const config = JSON.parse(new TextDecoder().decode(fixtureFile('tiny-llama', 'config.json')));
    edit(config);
    serve('config.json', new TextEncoder().encode(JSON.stringify(config)));
  };

  async function expectRefusedAndUncached(error: string | RegExp) {
    const store = freshStore();
    const tensorsBefore = tf.memory().numTensors;
    await expect(
      loadModel(
        { kind: 'url', baseUrl: `${hub.url}/plain/tiny-llama/` },
        options({ cache: store }),
      ),
    ).rejects.toThrow(error);
    expect(await store.listModelFiles()).toEqual([]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    await store.close();
  }

  it('weights without lm_head.weight when the embeddings are not tied', async () => {
    const weights = parseSafetensors(fixtureFile('tiny-llama', 'model.safetensors'), 'weights');
    const withoutHead = [...weights.entries.values()]
      .filter((entry) => entry.name !== 'lm_head.weight')
      .map((entry) => ({ ...entry, data: weights.readFloat32(entry.name) }));
    serve('model.safetensors', serializeSafetensors(withoutHead));
    await expectRefusedAndUncached(
      /^the checkpoint has no tensor 'lm_head\.weight' \(tie_word_embeddings is false, so it is needed\)/,
    );
  });

  it('a tokenizer whose ids exceed vocab_size', async () => {
    serveConfig((config) => {
      config.vocab_size = 300;
    });
    await expectRefusedAndUncached(/^tokenizer\.json has token ".+" with id 399/);
  });

  it('a config.json that declares far more layers than the weights hold, before any tensor', async () => {
    serveConfig((config) => {
      config.num_hidden_layers = 200;
    });
    await expectRefusedAndUncached(
      'config.json declares 200 layers (num_hidden_layers), but the weight files hold tensors of 2',
    );
  });
});

describe('the engine model calls', () => {
  it('load, describe, refuse a second load at once, and unload', async () => {
    const session = createModelSession();
    const engine = createEngine({ hubEndpoint: hub.url, session });
    const other = createEngine({ hubEndpoint: hub.url });
    const first = engine.model.load('load-a', fromHub('tiny-llama3'));
    await expect(engine.model.load('load-b', fromHub('tiny-llama'))).rejects.toThrow(
      'A model load cannot start: the model is busy with a model load.',
    );
    const summary = await first;
    expect(summary.id).toBe('test/tiny-llama3@main');
    expect(await engine.model.current()).toEqual(summary);
    expect(session.current()!.id).toBe(summary.id);
    // Each engine holds its own model.
    expect(await other.model.current()).toBeNull();
    await expect(other.logits([[1]])).rejects.toThrow('no model is loaded');
    expect(await engine.model.listShipped()).toEqual([]);
    await engine.model.unload();
    expect(await engine.model.current()).toBeNull();
    expect(session.current()).toBeNull();
  });

  it('measures a model against the active WebGPU adapter, and not against wasm', async () => {
    const adapter = {
      vendor: 'test',
      architecture: 'small',
      device: '',
      description: '',
      isFallbackAdapter: false,
      maxBufferSize: 1 << 20,
      maxStorageBufferBindingSize: 32 * 1024,
      shaderF16: false,
    };
    const backend = { requested: 'auto' as const, adapter, fallbackReasons: [], wasmSimd: null };
    const session = createModelSession();
    const service = (active: 'webgpu' | 'wasm') =>
      createModelService({
        jobs: new JobRegistry(),
        cache: null,
        backend: () => ({ ...backend, active }),
        log: () => {},
        appBaseUrl: null,
        hubEndpoint: hub.url,
        session,
      });
    await expect(service('webgpu').load('gpu', fromHub('tiny-llama'))).rejects.toThrow(
      /storage bindings of at most 32\.0 KiB/,
    );
    expect((await service('wasm').load('cpu', fromHub('tiny-llama'))).id).toBe(
      'test/tiny-llama@main',
    );
    session.replace(null);
  });

  it('does not replace the model under a running job', async () => {
    const jobs = new JobRegistry();
    const session = createModelSession();
    const service = createModelService({
      jobs,
      cache: null,
      backend: () => null,
      log: () => {},
      appBaseUrl: null,
      hubEndpoint: hub.url,
      session,
    });
    await service.load('first', fromHub('tiny-llama'));
    const before = tf.memory().numTensors;
    let finish = () => {};
    const generation = jobs.runOnModel(
      'generate-1',
      'generation',
      () => new Promise<void>((done) => (finish = done)),
    );
    await expect(service.load('second', fromHub('tiny-llama3'))).rejects.toThrow(
      'A model load cannot start: the model is busy with generation.',
    );
    expect(session.current()!.id).toBe('test/tiny-llama@main');
    expect(tf.memory().numTensors).toBe(before);
    finish();
    await generation;
    expect((await service.load('third', fromHub('tiny-llama3'))).id).toBe('test/tiny-llama3@main');
    session.replace(null);
  });

  it('a cancel stops a download that is waiting on a silent server', async () => {
    const engine = createEngine({ hubEndpoint: hub.url });
    hub.overrides.set('tiny-llama/model.safetensors', { kind: 'stall' });
    const loading = engine.model.load('load-stalled', fromHub('tiny-llama'));
    await expect
      .poll(() => hub.requests.some((url) => url.endsWith('model.safetensors')))
      .toBe(true);
    expect(await engine.cancel('load-stalled')).toBe(true);
    await expect(loading).rejects.toThrow('Job load-stalled was cancelled');
    expect(await engine.model.current()).toBeNull();
  });
});
