/**
 * Puzzle tasks the user imports from ARC JSON files: one task per file, or many keyed by id. A
 * file is read whole before anything is written, so a file with one bad task stores none of them.
 */
import { get, values } from 'idb-keyval';
import { ArcFormatError, parseArcFile } from '../puzzles/arc';
import { checkRoom } from './capacity';
import type { StoreContext } from './context';
import { SCHEMA_VERSION } from './db';
import { IdSchema, PuzzleTaskSchema, newId, validate, type PuzzleTaskRecord } from './records';

/** Largest ARC file accepted, in characters (ARC's whole training set is about 40 MB). */
export const MAX_ARC_FILE_LENGTH = 64 * 1024 * 1024;

/** A one-task file's task is named after the file, as ARC names its tasks. */
function taskNameOf(fileName: string): string {
  return fileName.replace(/\.json$/i, '') || 'task';
}

/** The tasks of an ARC file as records; an error names the file and says what is wrong. */
function readArcFile(fileName: string, text: string, now: number): PuzzleTaskRecord[] {
  if (text.length > MAX_ARC_FILE_LENGTH) {
    throw new ArcFormatError(`${fileName}: larger than ${MAX_ARC_FILE_LENGTH} characters`);
  }
  let tasks: ReturnType<typeof parseArcFile>;
  try {
    tasks = parseArcFile(text, taskNameOf(fileName));
  } catch (error) {
    if (error instanceof ArcFormatError) throw new ArcFormatError(`${fileName}: ${error.message}`);
    throw error;
  }
  // One id stem per file, numbered in file order, so the file's tasks list in its order.
  const stem = newId('puzzle');
  return tasks.map(({ id: name, task }, index) =>
    validate(
      PuzzleTaskSchema,
      {
        schemaVersion: SCHEMA_VERSION,
        id: `${stem}-${String(index).padStart(5, '0')}`,
        name,
        fileName,
        task,
        createdAt: now,
      },
      `${fileName}: ${name}`,
    ),
  );
}

export function createPuzzleTaskStore(ctx: StoreContext) {
  return {
    /** Reads an ARC file and stores each of its tasks under a new id; an invalid file stores none. */
    async importPuzzleTasks(fileName: string, text: string): Promise<PuzzleTaskRecord[]> {
      const records = readArcFile(fileName, text, ctx.now());
      const what = `the puzzle tasks of ${fileName}`;
      const bytes = records.reduce((sum, record) => sum + JSON.stringify(record).length, 0);
      await checkRoom(ctx.estimateStorage, bytes, what);
      await ctx.db.transact(['puzzles'], 'readwrite', what, (tx) => {
        const store = tx.objectStore('puzzles');
        for (const record of records) store.add(record, record.id);
      });
      for (const record of records) ctx.changes.publish({ kind: 'puzzle', id: record.id });
      return records;
    },

    /** Every imported task, newest file first, a file's tasks in its order. */
    async listPuzzleTasks(): Promise<PuzzleTaskRecord[]> {
      const all = await values<PuzzleTaskRecord>(ctx.db.use('puzzles'));
      return all.sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
    },

    async getPuzzleTask(id: string): Promise<PuzzleTaskRecord | undefined> {
      return get<PuzzleTaskRecord>(validate(IdSchema, id, 'puzzle task id'), ctx.db.use('puzzles'));
    },

    async deletePuzzleTask(id: string): Promise<void> {
      validate(IdSchema, id, 'puzzle task id');
      await ctx.db.transact(['puzzles'], 'readwrite', `the deletion of puzzle task ${id}`, (tx) => {
        tx.objectStore('puzzles').delete(id);
      });
      ctx.changes.publish({ kind: 'puzzle', id });
    },
  };
}
