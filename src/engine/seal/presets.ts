/**
 * Named starting points for a SEAL run, from a demo of a minute or two to the Table 2 protocol,
 * which comes from its experiment file so that the two cannot drift apart. A preset is overrides
 * of the defaults (config.ts) and the synthetic world whose contexts the run uses.
 */
import table2 from '../../../experiments/table2.json';
import { resolveSealConfig, type SealConfig } from './config';

export interface SealPreset {
  id: string;
  name: string;
  /** What it is for, in a few words. */
  purpose: string;
  overrides: unknown;
  worldSeed: number;
}

export const SEAL_PRESETS: readonly SealPreset[] = [
  {
    id: 'quick-demo',
    name: 'Quick demo',
    purpose: 'one round on two contexts: see every step of the loop',
    overrides: {
      selfEdit: { samples: 2 },
      inner: { epochs: 3 },
      outer: { rounds: 1, contextsPerRound: 2 },
      heldOut: { contexts: 2, conditions: ['base', 'self-edit'] },
    },
    worldSeed: 1,
  },
  {
    id: 'classroom',
    name: 'Classroom',
    purpose: 'one round on eight contexts: enough for a lesson to watch rewards and accuracy move',
    overrides: {
      selfEdit: { samples: 3 },
      inner: { epochs: 5 },
      outer: { rounds: 1, contextsPerRound: 8 },
      heldOut: { contexts: 8 },
    },
    worldSeed: 1,
  },
  {
    id: 'defaults',
    name: 'Defaults',
    purpose: 'the settings chosen for the default model: two rounds of 24 contexts',
    overrides: {},
    worldSeed: 1,
  },
  {
    id: 'paper-protocol',
    name: 'Paper protocol',
    purpose: "Table 2's protocol (experiments/table2.json): four rounds of fifty contexts",
    overrides: table2.seal,
    worldSeed: table2.world,
  },
];

/** The preset a form without one starts from. */
export const DEFAULT_PRESET_ID = 'defaults';

export function sealPreset(id: string): SealPreset | undefined {
  return SEAL_PRESETS.find((preset) => preset.id === id);
}

/** The settings a preset fills the form with. */
export function presetConfig(preset: SealPreset): SealConfig {
  return resolveSealConfig(preset.overrides);
}

/** Whether two settings (or any plain data) are the same value by value. */
export function sameSettings(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => sameSettings((a as Plain)[key], (b as Plain)[key]))
  );
}

type Plain = Record<string, unknown>;

/** The preset whose settings and world these are exactly, if any. */
export function presetOf(config: SealConfig, worldSeed: number): SealPreset | undefined {
  return SEAL_PRESETS.find(
    (preset) => preset.worldSeed === worldSeed && sameSettings(presetConfig(preset), config),
  );
}
