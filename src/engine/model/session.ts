/**
 * The one model the engine has loaded, where generation and training find it. Replacing or
 * clearing it frees the previous model's weights.
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

let current: LoadedModel | null = null;

export function getLoadedModel(): LoadedModel | null {
  return current;
}

/** The loaded model, or an error that tells the user to load one. */
export function requireLoadedModel(): LoadedModel {
  if (!current) throw new Error('no model is loaded: load one in the Model panel first');
  return current;
}

export function setLoadedModel(model: LoadedModel | null): void {
  const previous = current;
  current = model;
  if (previous && previous.weights !== model?.weights) disposeModelWeights(previous.weights);
}
