import { afterEach, describe, expect, it } from 'vitest';
import {
  RunBusyError,
  SCHEMA_VERSION,
  StorageFullError,
  openStore,
  type RunSummary,
  type SealStore,
} from '../../src/engine/store';
import {
  episodeAt,
  failEpisodeWrites,
  failWrites,
  freshStore,
  nextOf,
  planPositions,
  rawKeys,
  uniqueDatabaseName,
} from './storeHelpers';

const opened: SealStore[] = [];
function track(store: SealStore): SealStore {
  opened.push(store);
  return store;
}
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

const newRun = {
  kind: 'seal',
  config: { rounds: 2, samples: 3 },
  seeds: { run: 42 },
  datasetIds: [],
};

function adapterTensors(scale: number) {
  return [
    { name: 'layers.0.q_proj.lora_A.weight', shape: [2, 3], data: new Float32Array(6).fill(scale) },
    {
      name: 'layers.0.q_proj.lora_B.weight',
      shape: [3, 2],
      data: new Float32Array(6).fill(-scale),
    },
    {
      name: 'layers.0.v_proj.lora_A.weight',
      shape: [2, 3],
      data: new Float32Array(6).fill(2 * scale),
    },
  ];
}

describe('runs and episodes', () => {
  it('stores a run and its episodes in run order, with the progress cursor moving along', async () => {
    const store = track(freshStore());
    const run = await store.createRun(newRun);
    expect(run).toMatchObject({
      status: 'running',
      episodeCount: 0,
      schemaVersion: SCHEMA_VERSION,
    });
    const positions = planPositions(1, 2, 2);
    for (const [i, position] of positions.entries()) {
      await store.appendEpisode(episodeAt(run.id, position, i / 10), nextOf(positions, i));
    }
    const [summary] = await store.listRuns();
    expect(summary).toMatchObject({
      id: run.id,
      episodeCount: 4,
      progress: { round: 1, contextIndex: 0, sampleIndex: 0 },
      writable: true,
      activeElsewhere: false,
    });
    expect(summary!.storedBytes).toBeGreaterThan(0);
    const episodes = await store.listEpisodes(run.id);
    expect(episodes.map((e) => [e.round, e.contextIndex, e.sampleIndex])).toEqual(
      positions.map((p) => [p.round, p.contextIndex, p.sampleIndex]),
    );
    expect(episodes.map((e) => e.reward)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(
      (await store.listEpisodes(run.id, { offset: 1, limit: 2 })).map((e) => e.reward),
    ).toEqual([0.1, 0.2]);
  });

  it('refuses an episode that repeats or skips a position, and one with bad fields', async () => {
    const store = track(freshStore());
    const run = await store.createRun(newRun);
    const first = { round: 0, contextIndex: 0, sampleIndex: 0 };
    const second = { round: 0, contextIndex: 0, sampleIndex: 1 };
    await store.appendEpisode(episodeAt(run.id, first), second);
    await expect(store.appendEpisode(episodeAt(run.id, first), second)).rejects.toThrow(
      /would repeat one already stored/,
    );
    await expect(
      store.appendEpisode(episodeAt(run.id, { ...second, sampleIndex: 2 }), {
        ...second,
        sampleIndex: 3,
      }),
    ).rejects.toThrow(/would skip positions/);
    await expect(
      store.appendEpisode(
        { ...episodeAt(run.id, second), reward: Number.NaN },
        { ...second, sampleIndex: 2 },
      ),
    ).rejects.toThrow(/^episode: reward: /);
    await expect(
      store.appendEpisode(
        { ...episodeAt(run.id, second), grades: [2] },
        { ...second, sampleIndex: 2 },
      ),
    ).rejects.toThrow(/^episode: grades\.0: /);
    expect((await store.getRun(run.id))!.episodeCount).toBe(1);
  });

  it('moves a run forward without an episode, never back, and stops it only to a stopped status', async () => {
    const store = track(freshStore());
    const run = await store.createRun(newRun);
    const nextRound = { round: 1, contextIndex: 0, sampleIndex: 0 };
    expect((await store.advanceRun(run.id, nextRound)).progress).toEqual(nextRound);
    await expect(
      store.advanceRun(run.id, { round: 0, contextIndex: 5, sampleIndex: 0 }),
    ).rejects.toThrow(/cannot move back/);
    await expect(store.stopRun(run.id, 'running' as 'paused')).rejects.toThrow(
      /^a stopped run status: /,
    );
    const stopped = await store.stopRun(
      run.id,
      'failed',
      `Out of memory. ${'details '.repeat(200)}`,
    );
    expect(stopped.status).toBe('failed');
    expect(stopped.statusMessage).toHaveLength(1000);
    expect(stopped.statusMessage).toMatch(/^Out of memory\. details .*…$/);
    await expect(
      store.advanceRun(run.id, { round: 2, contextIndex: 0, sampleIndex: 0 }),
    ).rejects.toThrow(/not open for writing in this tab/);
  });

  it('resumes exactly where a crash left it: nothing lost, nothing twice, same seeds', async () => {
    const databaseName = uniqueDatabaseName();
    const positions = planPositions(2, 2, 3);
    const before = openStore({ databaseName, channelName: null });
    const run = await before.createRun({ ...newRun, seeds: { run: 42, sampling: 7 } });
    for (let i = 0; i < 5; i++) {
      await before.appendEpisode(episodeAt(run.id, positions[i]!), nextOf(positions, i));
    }
    // The sixth episode's write dies half-way (its transaction never commits), then the tab dies.
    const restore = failEpisodeWrites();
    await expect(
      before.appendEpisode(episodeAt(run.id, positions[5]!), nextOf(positions, 5)),
    ).rejects.toThrow(StorageFullError);
    restore();
    await before.close();

    const after = track(openStore({ databaseName, channelName: null }));
    const resumed = await after.resumeRun(run.id);
    expect(resumed.status).toBe('running');
    expect(resumed.seeds).toEqual({ run: 42, sampling: 7 });
    expect(resumed.progress).toEqual(positions[5]);
    const start = positions.findIndex(
      (p) =>
        p.round === resumed.progress.round &&
        p.contextIndex === resumed.progress.contextIndex &&
        p.sampleIndex === resumed.progress.sampleIndex,
    );
    for (let i = start; i < positions.length; i++) {
      await after.appendEpisode(episodeAt(run.id, positions[i]!), nextOf(positions, i));
    }
    const episodes = await after.listEpisodes(run.id);
    expect(episodes.map((e) => [e.round, e.contextIndex, e.sampleIndex])).toEqual(
      positions.map((p) => [p.round, p.contextIndex, p.sampleIndex]),
    );
    expect((await after.getRun(run.id))!.episodeCount).toBe(positions.length);
  });

  it('lets one store write a run at a time; another sees it active and stays read-only', async () => {
    const databaseName = uniqueDatabaseName();
    const writer = track(openStore({ databaseName, channelName: null }));
    const viewer = track(openStore({ databaseName, channelName: null }));
    const run = await writer.createRun(newRun);
    await expect(viewer.resumeRun(run.id)).rejects.toThrow(RunBusyError);
    await expect(
      viewer.appendEpisode(episodeAt(run.id, { round: 0, contextIndex: 0, sampleIndex: 0 }), {
        round: 0,
        contextIndex: 0,
        sampleIndex: 1,
      }),
    ).rejects.toThrow(/not open for writing in this tab/);
    await expect(viewer.deleteRun(run.id)).rejects.toThrow(RunBusyError);
    expect((await viewer.listRuns())[0]).toMatchObject({ writable: false, activeElsewhere: true });

    await writer.stopRun(run.id, 'paused', 'Paused by the user.');
    expect((await viewer.listRuns())[0]).toMatchObject({
      status: 'paused',
      statusMessage: 'Paused by the user.',
      activeElsewhere: false,
    });
    expect((await viewer.resumeRun(run.id)).status).toBe('running');
    await expect(writer.resumeRun(run.id)).rejects.toThrow(RunBusyError);
  });

  it('shows a run another store stopped as stopped, even to a listing made before its lock is let go', async () => {
    const databaseName = uniqueDatabaseName();
    const writer = track(openStore({ databaseName, channelName: null }));
    const viewer = track(openStore({ databaseName, channelName: null }));
    const run = await writer.createRun(newRun);
    // What a viewer does on hearing of the change: list the runs, before the writer's lock goes.
    let seen: Promise<RunSummary[]> | null = null;
    const stop = writer.onChange(() => {
      seen ??= viewer.listRuns();
    });
    await writer.stopRun(run.id, 'paused');
    stop();
    expect((await seen!)[0]).toMatchObject({ status: 'paused', activeElsewhere: false });
  });

  it('renames a run in any store, trimmed and checked, keeping what its writer stores meanwhile', async () => {
    const databaseName = uniqueDatabaseName();
    const writer = track(openStore({ databaseName, channelName: null }));
    const viewer = track(openStore({ databaseName, channelName: null }));
    const run = await writer.createRun(newRun);
    const positions = planPositions(1, 2, 3);
    // Episodes and renames interleave: each rename must see the progress stored before it.
    await Promise.all(
      positions
        .slice(0, -1)
        .flatMap((position, i) => [
          writer.appendEpisode(episodeAt(run.id, position), positions[i + 1]!),
          viewer.renameRun(run.id, `  name ${i}  `),
        ]),
    );
    const renamed = (await track(openStore({ databaseName, channelName: null })).getRun(run.id))!;
    expect(renamed).toMatchObject({
      name: `name ${positions.length - 2}`,
      episodeCount: positions.length - 1,
      progress: positions.at(-1),
      status: 'running',
    });

    await expect(writer.renameRun(run.id, ' \t ')).rejects.toThrow('Run name: must not be empty');
    await expect(writer.renameRun(run.id, 'x'.repeat(201))).rejects.toThrow(
      'Run name: must be at most 200 characters',
    );
    await expect(writer.renameRun('no-such-run', 'name')).rejects.toThrow(/no run no-such-run/);
    expect((await writer.getRun(run.id))!.name).toBe(renamed.name);
  });

  it('tells other stores about committed changes over the broadcast channel', async () => {
    const channelName = `store-changes-${uniqueDatabaseName()}`;
    const databaseName = uniqueDatabaseName();
    const writer = track(openStore({ databaseName, channelName }));
    const viewer = track(openStore({ databaseName, channelName }));
    const heard = new Promise((resolve) => viewer.onChange(resolve));
    const run = await writer.createRun(newRun);
    expect(await heard).toEqual({ kind: 'run', id: run.id });
  });

  it('pauses the run with a clear message when storage is full, keeping what was stored', async () => {
    const store = track(freshStore());
    const run = await store.createRun(newRun);
    const positions = planPositions(1, 1, 3);
    await store.appendEpisode(episodeAt(run.id, positions[0]!), positions[1]!);
    const restore = failWrites(() => true);
    let error: unknown;
    try {
      await store.appendEpisode(episodeAt(run.id, positions[1]!), positions[2]!);
    } catch (caught) {
      error = caught;
    } finally {
      restore();
    }
    expect(error).toBeInstanceOf(StorageFullError);
    expect((error as Error).message).toMatch(/Browser storage is full.*nothing stored was changed/);
    // The pause itself could not be written either (every write fails); the run is untouched.
    expect(await store.getRun(run.id)).toMatchObject({ status: 'running', episodeCount: 1 });

    // With room for the pause but not the episode, the run records why it stopped.
    const restoreAgain = failEpisodeWrites();
    await expect(
      store.appendEpisode(episodeAt(run.id, positions[1]!), positions[2]!),
    ).rejects.toThrow(StorageFullError);
    restoreAgain();
    // The failed transaction wrote nothing; only the pause landed.
    const paused = await store.getRun(run.id);
    expect(paused).toMatchObject({ status: 'paused', episodeCount: 1 });
    expect(paused!.statusMessage).toMatch(/Browser storage is full/);
    expect(await store.listEpisodes(run.id)).toHaveLength(1);
    await store.resumeRun(run.id);
    await store.appendEpisode(episodeAt(run.id, positions[1]!), positions[2]!);
    expect((await store.getRun(run.id))!.episodeCount).toBe(2);
  });

  it('deletes a run with its episodes and checkpoints, and refuses while it runs here', async () => {
    const databaseName = uniqueDatabaseName();
    const store = track(openStore({ databaseName, channelName: null }));
    const run = await store.createRun(newRun);
    await store.appendEpisode(episodeAt(run.id, { round: 0, contextIndex: 0, sampleIndex: 0 }), {
      round: 0,
      contextIndex: 0,
      sampleIndex: 1,
    });
    await store.saveCheckpoint({
      kind: 'adapter',
      runId: run.id,
      config: { r: 2 },
      tensors: adapterTensors(1),
    });
    const other = await store.saveCheckpoint({
      kind: 'adapter',
      config: { r: 2 },
      tensors: adapterTensors(3),
    });
    await expect(store.deleteRun(run.id)).rejects.toThrow(/stop it before deleting/);
    await store.stopRun(run.id, 'done');
    await store.deleteRun(run.id);
    expect(await store.listRuns()).toEqual([]);
    expect(await rawKeys(databaseName, 'episodes')).toEqual([]);
    expect((await store.listCheckpoints()).map((c) => c.id)).toEqual([other.id]);
    expect((await rawKeys(databaseName, 'tensors')).length).toBe(3);
  });
});

describe('checkpoints', () => {
  it('round-trips tensors, config and provenance', async () => {
    const store = track(freshStore());
    const run = await store.createRun(newRun);
    const parent = await store.saveCheckpoint({
      kind: 'full',
      config: { hidden_size: 8 },
      tensors: adapterTensors(0.5),
    });
    const saved = await store.saveCheckpoint({
      kind: 'adapter',
      runId: run.id,
      round: 1,
      parentId: parent.id,
      config: { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] },
      tensors: adapterTensors(0.25),
    });
    expect(saved).toMatchObject({
      runId: run.id,
      round: 1,
      parentId: parent.id,
      sizeBytes: 3 * 6 * 4,
    });
    const loaded = await store.loadCheckpoint(saved.id);
    expect(loaded.checkpoint).toEqual(saved);
    expect(loaded.tensors.map((t) => [t.name, t.shape, [...t.data]])).toEqual(
      adapterTensors(0.25).map((t) => [t.name, t.shape, [...t.data]]),
    );
    expect((await store.listCheckpoints(run.id)).map((c) => c.id)).toEqual([saved.id]);
  });

  it('writes all tensors or none: a failure mid-write leaves the previous state intact', async () => {
    const databaseName = uniqueDatabaseName();
    const store = track(openStore({ databaseName, channelName: null }));
    const previous = await store.saveCheckpoint({
      kind: 'adapter',
      config: {},
      tensors: adapterTensors(1),
    });
    let tensorsWritten = 0;
    const restore = failWrites(
      (_value, storeName) => storeName === 'tensors' && ++tensorsWritten > 2,
    );
    await expect(
      store.saveCheckpoint({ kind: 'adapter', config: {}, tensors: adapterTensors(2) }),
    ).rejects.toThrow(StorageFullError);
    restore();
    expect((await store.listCheckpoints()).map((c) => c.id)).toEqual([previous.id]);
    expect((await rawKeys(databaseName, 'tensors')).map((key) => (key as string[])[0])).toEqual(
      Array(3).fill(previous.id),
    );
    expect([...(await store.loadCheckpoint(previous.id)).tensors[2]!.data]).toEqual(
      Array(6).fill(2),
    );
  });

  it('refuses bad tensors with a message naming them', async () => {
    const store = track(freshStore());
    const bad = (tensors: { name: string; shape: number[]; data: Float32Array }[]) =>
      store.saveCheckpoint({ kind: 'adapter', config: {}, tensors });
    await expect(bad([])).rejects.toThrow(/at least one tensor/);
    await expect(bad([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }])).rejects.toThrow(
      /tensor w has shape \[2, 2\] \(4 values\) but 3 values/,
    );
    await expect(bad([{ name: '../w', shape: [1], data: new Float32Array(1) }])).rejects.toThrow(
      /tensor name/,
    );
    await expect(
      store.saveCheckpoint({
        kind: 'adapter',
        runId: 'no-such-run',
        config: {},
        tensors: adapterTensors(1),
      }),
    ).rejects.toThrow(/run no-such-run, which is not stored/);
    expect(await store.listCheckpoints()).toEqual([]);
  });
});

describe('model file cache', () => {
  it('keeps files per repo and revision and lists them without their bytes', async () => {
    const store = track(freshStore());
    await store.putModelFile(
      'org/tiny',
      'main',
      'model.safetensors',
      new Uint8Array([1, 2, 3]).buffer,
      '"abc"',
    );
    await store.putModelFile('org/tiny', 'main', 'config.json', new Uint8Array([4]).buffer);
    await store.putModelFile('org/other', 'v1', 'config.json', new Uint8Array([5]).buffer);
    const bytes = await store.getModelFile('org/tiny', 'main', 'model.safetensors');
    expect([...new Uint8Array(bytes!)]).toEqual([1, 2, 3]);
    const listed = await store.listModelFiles();
    expect(listed.map((f) => [f.repo, f.path, f.size])).toEqual([
      ['org/other', 'config.json', 1],
      ['org/tiny', 'config.json', 1],
      ['org/tiny', 'model.safetensors', 3],
    ]);
    await store.deleteModel('org/tiny');
    expect((await store.listModelFiles()).map((f) => f.repo)).toEqual(['org/other']);
    expect(await store.getModelFile('org/tiny', 'main', 'model.safetensors')).toBeUndefined();
    await expect(store.getModelFile('../etc', 'main', 'x')).rejects.toThrow(/model file: repo/);
  });
});

describe('schema migration', () => {
  it('upgrades a version-1 database: run totals are backfilled and checkpoints indexed by run', async () => {
    const databaseName = uniqueDatabaseName();
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(databaseName, 1);
      open.onupgradeneeded = () => {
        const db = open.result;
        for (const name of [
          'runs',
          'episodes',
          'checkpoints',
          'tensors',
          'datasets',
          'models',
          'modelBytes',
        ]) {
          db.createObjectStore(name);
        }
        const tx = open.transaction!;
        tx.objectStore('runs').put(
          {
            schemaVersion: 1,
            id: 'old-run',
            kind: 'seal',
            name: 'a version-1 run',
            config: {},
            seeds: { run: 1 },
            datasetIds: [],
            status: 'paused',
            statusMessage: null,
            progress: { round: 0, contextIndex: 1, sampleIndex: 0 },
            createdAt: 1,
            updatedAt: 2,
          },
          'old-run',
        );
        for (const sampleIndex of [0, 1]) {
          const episode = {
            ...episodeAt('old-run', { round: 0, contextIndex: 0, sampleIndex }),
            schemaVersion: 1,
            createdAt: 3,
          };
          tx.objectStore('episodes').put(episode, ['old-run', 0, 0, sampleIndex]);
        }
        tx.objectStore('checkpoints').put(
          {
            schemaVersion: 1,
            id: 'old-ckpt',
            runId: 'old-run',
            kind: 'adapter',
            tensors: [],
            createdAt: 4,
          },
          'old-ckpt',
        );
      };
      open.onsuccess = () => {
        open.result.close();
        resolve();
      };
      open.onerror = () => reject(open.error);
    });

    const store = track(openStore({ databaseName, channelName: null }));
    const [run] = await store.listRuns();
    expect(run).toMatchObject({ id: 'old-run', schemaVersion: 2, episodeCount: 2 });
    expect(run!.storedBytes).toBeGreaterThan(100);
    expect((await store.listCheckpoints('old-run')).map((c) => c.id)).toEqual(['old-ckpt']);
    expect(await store.listEpisodes('old-run')).toHaveLength(2);
  });
});
