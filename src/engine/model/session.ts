/**
 * The model an engine has loaded, where generation and training find it. Replacing or clearing
 * it frees the previous model's weights.
 */
import type { ModelConfig } from './config';
import type { Tokenizer } from './tokenizer';
import { disposeModelWeights, type ModelWeights } from './weights';

export interface LoadedModel {
  id: string;
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer;
  generationConfig: Record<string, unknown> | null;
  chatTemplate: string | null;
}

/** One engine's loaded model: every engine holds its own, so two engines never share weights. */
export interface ModelSession {
  current(): LoadedModel | null;
  /** The loaded model, or an error that tells the user to load one. */
  require(): LoadedModel;
  /** Replaces the loaded model (null: none) and frees the previous one's weights. */
  replace(model: LoadedModel | null): void;
  /** Calls `listener` after every replace, so what was made for the old model is freed at once. */
  onReplace(listener: (model: LoadedModel | null) => void): void;
}

export function createModelSession(): ModelSession {
  let current: LoadedModel | null = null;
  const replaceListeners: ((model: LoadedModel | null) => void)[] = [];
  return {
    current: () => current,
    require() {
      if (!current) throw new Error('no model is loaded: load one in the Model panel first');
      return current;
    },
    replace(model) {
      const previous = current;
      current = model;
      if (previous && previous.weights !== model?.weights) disposeModelWeights(previous.weights);
      for (const listener of replaceListeners) listener(model);
    },
    onReplace(listener) {
      replaceListeners.push(listener);
    },
  };
}

/** The session of code that runs without an engine: Node scripts and the tests of their parts. */
export const standaloneSession = createModelSession();

export function getLoadedModel(): LoadedModel | null {
  return standaloneSession.current();
}

export function requireLoadedModel(): LoadedModel {
  return standaloneSession.require();
}

export function setLoadedModel(model: LoadedModel | null): void {
  standaloneSession.replace(model);
}
