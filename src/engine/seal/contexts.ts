/**
 * The contexts of a SEAL run from the synthetic world, each passage with its questions, named by
 * its entity id: the RL split to train on and the eval split held out (what results report), or,
 * for choosing settings without looking at the eval split, `validation`: the first half of the RL
 * split to train on and its second half held out.
 */
import type { Passage } from '../store';
import { contextOf, generateWorld, toSquad } from '../world';
import type { SealContexts } from './restem';

export type HeldOutSplit = 'eval' | 'validation';

export function worldSealContexts(seed: number, heldOut: HeldOutSplit = 'eval'): SealContexts {
  const world = generateWorld(seed);
  const passages = (ids: readonly string[]): Passage[] =>
    ids.map((id) => ({ id, ...toSquad(contextOf(world, id)) }));
  if (heldOut === 'eval') {
    return { train: passages(world.splits.rl), heldOut: passages(world.splits.eval) };
  }
  const half = Math.floor(world.splits.rl.length / 2);
  return {
    train: passages(world.splits.rl.slice(0, half)),
    heldOut: passages(world.splits.rl.slice(half)),
  };
}
