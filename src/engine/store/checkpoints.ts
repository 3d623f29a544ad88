/**
 * Checkpoints: a manifest in `checkpoints` and one record per tensor in `tensors` under
 * `[checkpointId, tensorName]`, all written in one transaction, so a checkpoint is either
 * absent or complete; a reload or crash mid-write leaves no partial checkpoint behind.
 */
import { get } from 'idb-keyval';
import { request, prefixRange, SCHEMA_VERSION } from './db';
import { checkRoom } from './capacity';
import type { StoreContext } from './context';
import {
  CHECKPOINT_KINDS,
  CountSchema,
  IdSchema,
  JsonSchema,
  TensorNameSchema,
  newId,
  validate,
  type CheckpointRecord,
  type Json,
  type TensorInfo,
} from './records';
import * as v from 'valibot';

/** A tensor as the engine hands it over and gets it back. */
export interface TensorData {
  name: string;
  shape: number[];
  data: Float32Array;
}

interface StoredTensor {
  dtype: TensorInfo['dtype'];
  shape: number[];
  data: ArrayBuffer;
}

const NewCheckpointSchema = v.strictObject({
  id: v.optional(IdSchema),
  name: v.optional(v.pipe(v.string(), v.maxLength(1000))),
  kind: v.picklist(CHECKPOINT_KINDS),
  runId: v.optional(v.nullable(IdSchema)),
  round: v.optional(v.nullable(CountSchema)),
  parentId: v.optional(v.nullable(IdSchema)),
  config: JsonSchema,
});
export interface NewCheckpoint {
  id?: string;
  name?: string;
  kind: CheckpointRecord['kind'];
  runId?: string | null;
  round?: number | null;
  parentId?: string | null;
  /** For adapters, the PEFT adapter_config.json; for full checkpoints, the model's config.json. */
  config: Json;
  tensors: TensorData[];
}

export interface CheckpointWithTensors {
  checkpoint: CheckpointRecord;
  tensors: TensorData[];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/** Checks names, shapes and lengths of tensors before any of them is stored. */
export function checkTensors(tensors: readonly TensorData[], where: string): void {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new Error(`${where}: a checkpoint needs at least one tensor.`);
  }
  const seen = new Set<string>();
  for (const tensor of tensors) {
    const name = validate(TensorNameSchema, tensor?.name, `${where}: tensor name`);
    if (seen.has(name)) throw new Error(`${where}: tensor ${name} appears twice.`);
    seen.add(name);
    const shape = validate(v.array(CountSchema), tensor.shape, `${where}: tensor ${name} shape`);
    if (!(tensor.data instanceof Float32Array)) {
      throw new Error(`${where}: tensor ${name} data must be a Float32Array.`);
    }
    if (elementCount(shape) !== tensor.data.length) {
      throw new Error(
        `${where}: tensor ${name} has shape [${shape.join(', ')}] (${elementCount(shape)} values) ` +
          `but ${tensor.data.length} values.`,
      );
    }
  }
}

/** Deletes, inside `tx`, every checkpoint of a run together with its tensors. */
export async function deleteCheckpointsOfRun(tx: IDBTransaction, runId: string): Promise<void> {
  const ids = (await request(
    tx.objectStore('checkpoints').index('runId').getAllKeys(runId),
  )) as string[];
  for (const id of ids) {
    tx.objectStore('checkpoints').delete(id);
    tx.objectStore('tensors').delete(prefixRange([id]));
  }
}

/** Reads, inside `tx`, the tensors of a checkpoint, in the order its record lists them. */
export async function readTensors(
  tx: IDBTransaction,
  checkpoint: CheckpointRecord,
): Promise<TensorData[]> {
  const range = prefixRange([checkpoint.id]);
  const stored = (await request(tx.objectStore('tensors').getAll(range))) as StoredTensor[];
  const keys = (await request(tx.objectStore('tensors').getAllKeys(range))) as [string, string][];
  const byName = new Map(keys.map(([, name], i) => [name, stored[i]!]));
  return checkpoint.tensors.map((info) => {
    const tensor = byName.get(info.name);
    if (!tensor) throw new Error(`Checkpoint ${checkpoint.id} is missing tensor ${info.name}.`);
    return { name: info.name, shape: tensor.shape, data: new Float32Array(tensor.data) };
  });
}

/** Adds a checkpoint record and its tensors inside `tx`; the id must be new. */
export async function putCheckpoint(
  tx: IDBTransaction,
  checkpoint: CheckpointRecord,
  tensors: readonly TensorData[],
): Promise<void> {
  if ((await request(tx.objectStore('checkpoints').getKey(checkpoint.id))) !== undefined) {
    throw new Error(`A checkpoint with id ${checkpoint.id} already exists.`);
  }
  if (
    checkpoint.runId !== null &&
    (await request(tx.objectStore('runs').getKey(checkpoint.runId))) === undefined
  ) {
    throw new Error(
      `Checkpoint ${checkpoint.id} belongs to run ${checkpoint.runId}, which is not stored.`,
    );
  }
  const tensorStore = tx.objectStore('tensors');
  for (const tensor of tensors) {
    const stored: StoredTensor = {
      dtype: 'float32',
      shape: [...tensor.shape],
      data: tensor.data.buffer.slice(
        tensor.data.byteOffset,
        tensor.data.byteOffset + tensor.data.byteLength,
      ) as ArrayBuffer,
    };
    tensorStore.add(stored, [checkpoint.id, tensor.name]);
  }
  tx.objectStore('checkpoints').add(checkpoint, checkpoint.id);
}

export function checkpointRecord(
  fields: Omit<NewCheckpoint, 'tensors'>,
  tensors: readonly TensorData[],
  createdAt: number,
): CheckpointRecord {
  const parsed = validate(NewCheckpointSchema, fields, 'checkpoint');
  return {
    schemaVersion: SCHEMA_VERSION,
    id: parsed.id ?? newId('ckpt'),
    name: parsed.name ?? `${parsed.kind} ${new Date(createdAt).toISOString()}`,
    kind: parsed.kind,
    runId: parsed.runId ?? null,
    round: parsed.round ?? null,
    parentId: parsed.parentId ?? null,
    config: parsed.config,
    tensors: tensors.map((t) => ({ name: t.name, dtype: 'float32', shape: [...t.shape] })),
    sizeBytes: tensors.reduce((sum, t) => sum + t.data.byteLength, 0),
    createdAt,
  };
}

export function createCheckpointStore(ctx: StoreContext) {
  return {
    /** Stores a checkpoint with all its tensors, or nothing at all. */
    async saveCheckpoint(input: NewCheckpoint): Promise<CheckpointRecord> {
      const { tensors, ...fields } = input;
      checkTensors(tensors, 'checkpoint');
      const checkpoint = checkpointRecord(fields, tensors, ctx.now());
      await checkRoom(ctx.estimateStorage, checkpoint.sizeBytes, `checkpoint ${checkpoint.id}`);
      await ctx.db.transact(
        ['checkpoints', 'tensors', 'runs'],
        'readwrite',
        `checkpoint ${checkpoint.id}`,
        (tx) => putCheckpoint(tx, checkpoint, tensors),
      );
      ctx.changes.publish({ kind: 'checkpoint', id: checkpoint.id });
      return checkpoint;
    },

    async listCheckpoints(runId?: string): Promise<CheckpointRecord[]> {
      const checkpoints = await ctx.db.transact(
        ['checkpoints'],
        'readonly',
        'checkpoints',
        (tx) => {
          const store = tx.objectStore('checkpoints');
          const all = runId === undefined ? store.getAll() : store.index('runId').getAll(runId);
          return request(all as IDBRequest<CheckpointRecord[]>);
        },
      );
      return checkpoints.sort((a, b) => b.createdAt - a.createdAt);
    },

    async getCheckpoint(id: string): Promise<CheckpointRecord | undefined> {
      return get<CheckpointRecord>(id, ctx.db.use('checkpoints'));
    },

    async loadCheckpoint(id: string): Promise<CheckpointWithTensors> {
      return ctx.db.transact(
        ['checkpoints', 'tensors'],
        'readonly',
        `checkpoint ${id}`,
        async (tx) => {
          const checkpoint = (await request(tx.objectStore('checkpoints').get(id))) as
            CheckpointRecord | undefined;
          if (!checkpoint) throw new Error(`There is no checkpoint ${id} in this browser's store.`);
          return { checkpoint, tensors: await readTensors(tx, checkpoint) };
        },
      );
    },

    async deleteCheckpoint(id: string): Promise<void> {
      validate(IdSchema, id, 'checkpoint id');
      await ctx.db.transact(
        ['checkpoints', 'tensors'],
        'readwrite',
        `the deletion of checkpoint ${id}`,
        async (tx) => {
          if ((await request(tx.objectStore('checkpoints').getKey(id))) === undefined) {
            throw new Error(`There is no checkpoint ${id} in this browser's store.`);
          }
          tx.objectStore('checkpoints').delete(id);
          tx.objectStore('tensors').delete(prefixRange([id]));
        },
      );
      ctx.changes.publish({ kind: 'checkpoint', id });
    },
  };
}
