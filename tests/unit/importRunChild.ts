/**
 * Imports the run zip named on the command line into a fresh store and prints what happened as
 * JSON, so that a test can watch an import that might exhaust memory from outside its process.
 */
import { readFile } from 'node:fs/promises';
import { freshStore } from './storeHelpers';

const store = freshStore();
let error: string | null = null;
try {
  await store.importRun(new Uint8Array(await readFile(process.argv[2]!)));
} catch (caught) {
  error = (caught as Error).message;
}
const stored = {
  runs: (await store.listRuns()).length,
  datasets: (await store.listDatasets()).length,
};
await store.close();
process.stdout.write(JSON.stringify({ error, ...stored }));
