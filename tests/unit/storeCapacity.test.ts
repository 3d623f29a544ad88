import { afterEach, describe, expect, it } from 'vitest';
import {
  StorageFullError,
  bytesLeft,
  openStore,
  type SealStore,
  type StorageEstimate,
} from '../../src/engine/store';
import { uniqueDatabaseName } from './storeHelpers';

const opened: SealStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

/** A store whose browser reports `leftBytes` of room. */
function storeWithRoom(leftBytes: number): SealStore {
  const estimate: StorageEstimate = {
    usageBytes: 5_000,
    quotaBytes: 5_000 + leftBytes,
    persisted: false,
  };
  const store = openStore({
    databaseName: uniqueDatabaseName(),
    channelName: null,
    estimateStorage: () => Promise.resolve(estimate),
  });
  opened.push(store);
  return store;
}

const TENSORS_OF_4000_BYTES = [
  { name: 'layers.0.q_proj.lora_A.weight', shape: [1000], data: new Float32Array(1000) },
];

describe('storage room', () => {
  it('refuses a checkpoint larger than the room left, naming both sizes, and stores nothing', async () => {
    const store = storeWithRoom(3_000);
    const saving = store.saveCheckpoint({
      kind: 'adapter',
      config: {},
      tensors: TENSORS_OF_4000_BYTES,
    });
    await expect(saving).rejects.toThrow(StorageFullError);
    await expect(saving).rejects.toThrow(/needs at least .* MiB but only .* MiB is left/);
    expect(await store.listCheckpoints()).toEqual([]);
  });

  it('stores a checkpoint that fits', async () => {
    const store = storeWithRoom(5_000);
    const checkpoint = await store.saveCheckpoint({
      kind: 'adapter',
      config: {},
      tensors: TENSORS_OF_4000_BYTES,
    });
    expect((await store.listCheckpoints()).map((c) => c.id)).toEqual([checkpoint.id]);
  });

  it('refuses a dataset or a model file larger than the room left', async () => {
    const store = storeWithRoom(10);
    const passages = JSON.stringify([{ title: 'T', context: 'A passage.', questions: [] }]);
    await expect(store.importDataset('passages.json', passages)).rejects.toThrow(StorageFullError);
    await expect(
      store.putModelFile('org/model', 'main', 'model.safetensors', new ArrayBuffer(11)),
    ).rejects.toThrow(StorageFullError);
    expect(await store.listDatasets()).toEqual([]);
    expect(await store.listModelFiles()).toEqual([]);
  });

  it('refuses an import larger than the room left, and stores nothing', async () => {
    const roomy = storeWithRoom(1_000_000);
    const run = await roomy.createRun({ kind: 'seal', config: {}, seeds: {}, datasetIds: [] });
    await roomy.saveCheckpoint({
      kind: 'adapter',
      runId: run.id,
      config: {},
      tensors: TENSORS_OF_4000_BYTES,
    });
    await roomy.stopRun(run.id, 'done');
    const archive = await roomy.exportRun(run.id);

    const cramped = storeWithRoom(4_000);
    await expect(cramped.importRun(archive)).rejects.toThrow(StorageFullError);
    expect(await cramped.listRuns()).toEqual([]);
  });

  it('counts the room left only where the browser reports both sizes', () => {
    expect(bytesLeft({ usageBytes: 700, quotaBytes: 1000, persisted: true })).toBe(300);
    expect(bytesLeft({ usageBytes: 1200, quotaBytes: 1000, persisted: true })).toBe(0);
    expect(bytesLeft({ usageBytes: null, quotaBytes: 1000, persisted: null })).toBeNull();
  });
});
