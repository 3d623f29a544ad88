/** The default model shipped with the app (trained on the world of seed 1), loaded from disk. */
import { afterAll, beforeAll } from 'vitest';
import { loadModelFolder } from '../../scripts/modelFolder';
import { selectBackend } from '../../src/engine/backend';
import { setLoadedModel, type LoadedModel } from '../../src/engine/model/session';

export const SHIPPED_MODEL_FOLDER = 'models/seal-world-1m';

/** Makes the shipped model the engine's loaded model and returns it. */
export function loadShippedModel(): Promise<LoadedModel> {
  return loadModelFolder(SHIPPED_MODEL_FOLDER);
}

/**
 * Loads the shipped model on the wasm backend before the file's tests and unloads it after them;
 * the returned function gives the model inside a test.
 */
export function useShippedModel(): () => LoadedModel {
  let model: LoadedModel | undefined;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = await loadShippedModel();
  });
  afterAll(() => setLoadedModel(null));
  return () => {
    if (!model) throw new Error('the shipped model is not loaded yet');
    return model;
  };
}
