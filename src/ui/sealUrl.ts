/**
 * The SEAL panel in the address: `?run=` names a stored run to show (its own settings, as the store
 * has them), or `?run=recorded` the recorded run shipped with the app; otherwise `?preset=` and a few settings by short name (`?preset=quick-demo&k=3`) fill
 * the form of a new run. The form writes them back as it changes, in place (no history entries).
 */
import { overlay, resolveSealConfig, type SealConfig } from '../engine/seal/config';
import { DEFAULT_PRESET_ID, presetConfig, sealPreset } from '../engine/seal/presets';
import { setUrlParameters } from './backendUrl';

/** What `?run=` says for the recorded run shipped with the app (stored runs' ids are `run-…`). */
export const RECORDED_RUN_LINK = 'recorded';

/** Whole-number settings a link may set, by the short name it uses and their path in the config. */
export const LINK_SETTINGS = {
  k: ['selfEdit', 'samples'],
  rounds: ['outer', 'rounds'],
  contexts: ['outer', 'contextsPerRound'],
  heldout: ['heldOut', 'contexts'],
  epochs: ['inner', 'epochs'],
  seed: ['seed'],
} as const satisfies Record<string, readonly string[]>;
export type LinkSetting = keyof typeof LINK_SETTINGS;
const LINK_SETTING_NAMES = Object.keys(LINK_SETTINGS) as LinkSetting[];

export interface SealLink {
  run: string | null;
  /** A known preset other than the defaults, which a link leaves out. */
  preset: string | null;
  settings: Partial<Record<LinkSetting, number>>;
  world: number | null;
}

/** A form a link fills: a preset's settings, with the link's settings laid over them. */
export interface LinkedForm {
  config: SealConfig;
  worldSeed: number;
  presetId: string;
}

function wholeNumber(text: string | null): number | null {
  return text !== null && /^-?\d+$/.test(text) ? Number(text) : null;
}

/** The link's parameters; unknown presets and values that are not whole numbers are left out. */
export function parseSealLink(params: URLSearchParams): SealLink {
  const preset = params.get('preset');
  const settings: SealLink['settings'] = {};
  for (const name of LINK_SETTING_NAMES) {
    const value = wholeNumber(params.get(name));
    if (value !== null) settings[name] = value;
  }
  return {
    run: params.get('run') || null,
    preset: preset !== null && preset !== DEFAULT_PRESET_ID && sealPreset(preset) ? preset : null,
    settings,
    world: wholeNumber(params.get('world')),
  };
}

/** Whether a link sets any setting of a new run. */
export function hasSettings(link: SealLink): boolean {
  return link.world !== null || Object.keys(link.settings).length > 0;
}

/** The parameters that say `link`, null for those it leaves out (so they are removed). */
export function sealLinkParameters(link: SealLink): Record<string, string | null> {
  const parameters: Record<string, string | null> = {
    run: link.run,
    preset: link.preset,
    world: link.world === null ? null : String(link.world),
  };
  for (const name of LINK_SETTING_NAMES) {
    const value = link.settings[name];
    parameters[name] = value === undefined ? null : String(value);
  }
  return parameters;
}

function settingOf(config: SealConfig, name: LinkSetting): number {
  return LINK_SETTINGS[name].reduce<unknown>(
    (group, key) => (group as Record<string, unknown>)[key],
    config,
  ) as number;
}

function overridesOf(name: LinkSetting, value: number): Record<string, unknown> {
  return LINK_SETTINGS[name].reduceRight<unknown>(
    (inner, key) => ({ [key]: inner }),
    value,
  ) as Record<string, unknown>;
}

/** The form a link fills; a setting that breaks its rule (a K of 0) is left at the preset's value. */
export function formOfLink(link: SealLink): LinkedForm {
  const preset = sealPreset(link.preset ?? DEFAULT_PRESET_ID)!;
  let config = presetConfig(preset);
  for (const name of LINK_SETTING_NAMES) {
    const value = link.settings[name];
    if (value === undefined) continue;
    try {
      config = resolveSealConfig(overlay(config, overridesOf(name, value), ''));
    } catch {
      // The preset's value stays.
    }
  }
  return { config, worldSeed: link.world ?? preset.worldSeed, presetId: preset.id };
}

/**
 * The link of a form started from `presetId`: the preset, and the link settings where the form
 * differs from it. `runId` names the run the form shows, if it shows one unchanged.
 */
export function linkOfForm(
  form: { config: SealConfig; worldSeed: number },
  presetId: string,
  runId: string | null,
): SealLink {
  if (runId !== null) return { run: runId, preset: null, settings: {}, world: null };
  const preset = sealPreset(presetId) ?? sealPreset(DEFAULT_PRESET_ID)!;
  const base = presetConfig(preset);
  const settings: SealLink['settings'] = {};
  for (const name of LINK_SETTING_NAMES) {
    const value = settingOf(form.config, name);
    if (Number.isInteger(value) && value !== settingOf(base, name)) settings[name] = value;
  }
  return {
    run: null,
    preset: preset.id === DEFAULT_PRESET_ID ? null : preset.id,
    settings,
    world: form.worldSeed === preset.worldSeed ? null : form.worldSeed,
  };
}

export function sealLinkFromUrl(): SealLink {
  return parseSealLink(new URL(location.href).searchParams);
}

export function rememberSealLinkInUrl(link: SealLink): void {
  setUrlParameters(sealLinkParameters(link));
}
