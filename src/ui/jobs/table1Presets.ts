/**
 * The Table 1 settings the panel offers to start from: the experiments' own configs, so that a
 * run started with a click is the run `npm run seal -- --config experiments/<name>.json` makes.
 */
import table1 from '../../../experiments/table1.json';
import table1Tiny from '../../../experiments/table1-tiny.json';
import table1Validation from '../../../experiments/table1-validation.json';
import { resolveTable1Config, type Table1Config } from '../../engine/puzzles/experiment/config';

export interface Table1Preset {
  id: string;
  label: string;
  config: Table1Config;
}

export const TABLE1_PRESETS: readonly Table1Preset[] = [
  { id: 'tiny', label: 'tiny (seconds)', config: resolveTable1Config(table1Tiny.table1) },
  {
    id: 'validation',
    label: 'validation (to choose settings)',
    config: resolveTable1Config(table1Validation.table1),
  },
  {
    id: 'paper',
    label: 'paper protocol (small)',
    config: resolveTable1Config(table1.table1),
  },
];

export function presetConfig(id: string): Table1Config {
  const preset = TABLE1_PRESETS.find((p) => p.id === id) ?? TABLE1_PRESETS[0]!;
  return structuredClone(preset.config);
}
