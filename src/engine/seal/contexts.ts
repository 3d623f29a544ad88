/**
 * The contexts of a SEAL run from the synthetic world: its RL split to train on and its eval
 * split held out, each passage with its questions, named by its entity id.
 */
import type { Passage } from '../store';
import { contextOf, generateWorld, toSquad } from '../world';
import type { SealContexts } from './restem';

export function worldSealContexts(seed: number): SealContexts {
  const world = generateWorld(seed);
  const passages = (ids: readonly string[]): Passage[] =>
    ids.map((id) => ({ id, ...toSquad(contextOf(world, id)) }));
  return { train: passages(world.splits.rl), heldOut: passages(world.splits.eval) };
}
