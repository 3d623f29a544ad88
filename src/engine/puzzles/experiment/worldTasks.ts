/**
 * The puzzles of a Table 1 run: the 'rl' split of the run's world to train on, and its
 * validation or evaluation split to measure on. A world takes seconds to generate, so the last
 * one is kept (the panel asks for a run's results after every episode).
 */
import { generatePuzzleWorld, type PuzzleWorld } from '../world';
import type { Table1Config } from './config';
import type { Table1Tasks } from './plan';

let lastWorld: { seed: number; world: PuzzleWorld } | null = null;

function worldOf(seed: number): PuzzleWorld {
  if (lastWorld?.seed !== seed) lastWorld = { seed, world: generatePuzzleWorld({ seed }) };
  return lastWorld.world;
}

export function table1Tasks(config: Pick<Table1Config, 'world' | 'evaluation'>): Table1Tasks {
  const { tasks } = worldOf(config.world.seed);
  return {
    rl: tasks.filter((task) => task.split === 'rl'),
    heldOut: tasks.filter((task) => task.split === config.evaluation.split),
  };
}
