/**
 * Stored runs side by side: which ones the address names (`?compare=idA,idB`), and the settings
 * in which they differ.
 */
import { setUrlParameters } from './backendUrl';

/** A setting whose value is not the same in every run compared, with each run's value. */
export interface SettingDifference {
  /** Its path in the settings, e.g. `selfEdit.samples`. */
  setting: string;
  /** Each run's value as JSON; '—' where a run has no such setting. */
  values: string[];
}

/** Each setting (a leaf of the nested settings) by its dotted path, its value as JSON. */
function leavesOf(value: unknown, path: string, leaves: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      leavesOf(inner, path === '' ? key : `${path}.${key}`, leaves);
    }
  } else {
    leaves.set(path, JSON.stringify(value));
  }
}

/** The settings that differ between `settings` (one object per run), in the first run's order. */
export function settingDifferences(settings: readonly unknown[]): SettingDifference[] {
  const leaves = settings.map((value) => {
    const map = new Map<string, string>();
    leavesOf(value, '', map);
    return map;
  });
  const paths = new Set(leaves.flatMap((map) => [...map.keys()]));
  return [...paths].flatMap((setting) => {
    const values = leaves.map((map) => map.get(setting) ?? '—');
    return new Set(values).size > 1 ? [{ setting, values }] : [];
  });
}

/** The run ids `?compare=` names, each once. */
export function parseComparedRuns(params: URLSearchParams): string[] {
  const listed = params.get('compare') ?? '';
  return [...new Set(listed.split(',').filter((id) => id !== ''))];
}

export function comparedRunsFromUrl(): string[] {
  return parseComparedRuns(new URL(location.href).searchParams);
}

export function rememberComparedRunsInUrl(runIds: readonly string[]): void {
  setUrlParameters({ compare: runIds.length === 0 ? null : runIds.join(',') });
}
