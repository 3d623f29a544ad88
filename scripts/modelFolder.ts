/** Loading a model folder in the Hub layout from disk in Node, through the app's own loader. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/engine/model/loader';
import { requireLoadedModel, type LoadedModel } from '../src/engine/model/session';

/** Makes the model in `folder` the engine's loaded model and returns it. */
export async function loadModelFolder(folder: string): Promise<LoadedModel> {
  const files = readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => new File([readFileSync(join(folder, entry.name))], entry.name));
  await loadModel({ kind: 'files', files });
  return requireLoadedModel();
}
