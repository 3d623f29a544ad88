/**
 * The cache of model files fetched from the Hugging Face Hub, so a model loads without the
 * network the next time. Metadata and bytes live in separate object stores (written together),
 * so listing the cache never reads the files themselves.
 */
import { get, values } from 'idb-keyval';
import * as v from 'valibot';
import { prefixRange, SCHEMA_VERSION } from './db';
import { checkRoom } from './capacity';
import type { StoreContext } from './context';
import { validate } from './records';

export interface ModelFileRecord {
  schemaVersion: number;
  /** e.g. `Qwen/Qwen2.5-0.5B`. */
  repo: string;
  /** A branch, tag or commit of the repo. */
  revision: string;
  /** The file's path inside the repo, e.g. `model.safetensors`. */
  path: string;
  size: number;
  etag: string | null;
  storedAt: number;
}

const ModelFileKeySchema = v.strictObject({
  repo: v.pipe(
    v.string(),
    v.regex(/^[\w.-]+(\/[\w.-]+)?$/, 'must look like owner/name'),
    v.check((repo) => !repo.split('/').some((part) => /^\.+$/.test(part)), 'must not be . or ..'),
  ),
  revision: v.pipe(v.string(), v.regex(/^[\w./-]{1,200}$/, 'must be a branch, tag or commit')),
  path: v.pipe(v.string(), v.minLength(1), v.maxLength(1000)),
});

function fileKey(repo: string, revision: string, path: string): IDBValidKey {
  validate(ModelFileKeySchema, { repo, revision, path }, 'model file');
  return [repo, revision, path];
}

export function createModelCache(ctx: StoreContext) {
  return {
    async putModelFile(
      repo: string,
      revision: string,
      path: string,
      bytes: ArrayBuffer,
      etag: string | null = null,
    ): Promise<ModelFileRecord> {
      const key = fileKey(repo, revision, path);
      const record: ModelFileRecord = {
        schemaVersion: SCHEMA_VERSION,
        repo,
        revision,
        path,
        size: bytes.byteLength,
        etag,
        storedAt: ctx.now(),
      };
      await checkRoom(ctx.estimateStorage, bytes.byteLength, `${repo}/${path}`);
      await ctx.db.transact(['models', 'modelBytes'], 'readwrite', `${repo}/${path}`, (tx) => {
        tx.objectStore('modelBytes').put(bytes, key);
        tx.objectStore('models').put(record, key);
      });
      ctx.changes.publish({ kind: 'model', id: repo });
      return record;
    },

    async getModelFile(
      repo: string,
      revision: string,
      path: string,
    ): Promise<ArrayBuffer | undefined> {
      const key = fileKey(repo, revision, path);
      return get<ArrayBuffer>(key, ctx.db.use('modelBytes'));
    },

    async listModelFiles(): Promise<ModelFileRecord[]> {
      return values<ModelFileRecord>(ctx.db.use('models'));
    },

    /** Drops every cached file of a repo (all revisions unless one is named). */
    async deleteModel(repo: string, revision?: string): Promise<void> {
      const range = prefixRange(revision === undefined ? [repo] : [repo, revision]);
      await ctx.db.transact(
        ['models', 'modelBytes'],
        'readwrite',
        `the deletion of ${repo}`,
        (tx) => {
          tx.objectStore('models').delete(range);
          tx.objectStore('modelBytes').delete(range);
        },
      );
      ctx.changes.publish({ kind: 'model', id: repo });
    },
  };
}
