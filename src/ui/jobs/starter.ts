/**
 * The text the Generate and Fine-tune panels start from for the loaded model: for a model trained
 * on the synthetic world, a validation passage and a question about it (the engine picks them);
 * for any other, generic text. A form field the user has changed is never replaced.
 */
import type { ModelSummary, WorldStarter } from '../../engine/api';
import { engine } from '../state.svelte';

const starters = new Map<string, Promise<WorldStarter | null>>();

/** The loaded model's starter (null: not a world model), asked of the engine once per model. */
export function starterFor(model: ModelSummary | null): Promise<WorldStarter | null> {
  if (!model) return Promise.resolve(null);
  let starter = starters.get(model.id);
  if (!starter) {
    starter = engine.seal.starter().catch(() => null);
    starters.set(model.id, starter);
  }
  return starter;
}

/**
 * Sets each field of `form` to `next`'s value where it still holds `previous`'s (the default it
 * was given), so what the user typed stays.
 */
export function replaceDefaults<T extends object>(form: T, previous: T, next: T): void {
  for (const key of Object.keys(next) as (keyof T)[]) {
    if (JSON.stringify(form[key]) === JSON.stringify(previous[key])) form[key] = next[key];
  }
}
