/**
 * The contexts of a SEAL run from the synthetic world, each passage with its questions, named by
 * its entity id: the RL split to train on and the eval split held out (what results report), or,
 * for choosing settings without looking at the eval split, `validation`: the first half of the RL
 * split to train on and its second half held out. World contexts also know the truth behind their
 * passages: a teacher's self-edit, whether a self-edit's line agrees with the world's facts, and
 * which passages share entities.
 */
import type { Passage } from '../store';
import {
  checkSelfEditLine,
  contextOf,
  createRng,
  entityOf,
  generateWorld,
  teacherSelfEdit,
  toSquad,
  type LineVerdict,
} from '../world';

export type HeldOutSplit = 'eval' | 'validation';

/** What only a world whose facts are known can say about its passages. */
export interface WorldKnowledge {
  /** A self-edit written from the passage's facts (the paper's stronger-model data, as a reference). */
  teacherSelfEdit(passage: Passage, seed: number): string;
  checkLine(passage: Passage, line: string): LineVerdict;
}

export interface SealContexts {
  /** Contexts the outer loop trains on. */
  train: Passage[];
  /** Contexts only ever evaluated on. */
  heldOut: Passage[];
  world?: WorldKnowledge;
}

/**
 * The group of linked passages a passage belongs to: a world's passages come in clusters of four
 * entities that mention each other (a founder, an organisation, an inventor, an invention), so
 * their results move together; any other passage is its own group.
 */
export function clusterOf(passage: Pick<Passage, 'id'>): string {
  const match = /^(?:person|org|invention)-(\d+)(?:-|$)/.exec(passage.id);
  return match ? `cluster-${match[1]}` : passage.id;
}

export function worldSealContexts(seed: number, heldOut: HeldOutSplit = 'eval'): SealContexts {
  const world = generateWorld(seed);
  const passages = (ids: readonly string[]): Passage[] =>
    ids.map((id) => ({ id, ...toSquad(contextOf(world, id)) }));
  const knowledge: WorldKnowledge = {
    teacherSelfEdit: (passage, teacherSeed) =>
      teacherSelfEdit(
        world,
        entityOf(world, passage.id),
        createRng(`teacher/${teacherSeed}/${passage.id}`),
      ),
    checkLine: (passage, line) => checkSelfEditLine(world, passage.id, line),
  };
  if (heldOut === 'eval') {
    return {
      train: passages(world.splits.rl),
      heldOut: passages(world.splits.eval),
      world: knowledge,
    };
  }
  const half = Math.floor(world.splits.rl.length / 2);
  return {
    train: passages(world.splits.rl.slice(0, half)),
    heldOut: passages(world.splits.rl.slice(half)),
    world: knowledge,
  };
}
