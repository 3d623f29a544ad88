import { entityOf } from './generate';
import { questionsFor } from './questions';
import { createRng } from './random';
import { renderPassage } from './render';
import type { SquadContext, World, WorldQuestion } from './types';
import { viewOf } from './views';

/** A passage as a SEAL context: its fixed rendering and its questions. */
export interface WorldContext {
  entityId: string;
  title: string;
  context: string;
  questions: WorldQuestion[];
  /** The phrasing of each question used when asking it (one per question, fixed per world). */
  asked: string[];
}

/** The context of an entity: one rendering chosen by the world's seed, the same every time. */
export function contextOf(world: World, entityId: string): WorldContext {
  const entity = entityOf(world, entityId);
  const view = viewOf(world, entity);
  const { title, context } = renderPassage(
    view,
    createRng(`world/${world.seed}/passage/${entityId}`),
  );
  const questions = questionsFor(view);
  const pick = createRng(`world/${world.seed}/asked/${entityId}`);
  return {
    entityId,
    title,
    context,
    questions,
    asked: questions.map((q) => pick.pick(q.phrasings)),
  };
}

/** The SQuAD-style shape the SEAL code reads: `{ title, context, questions: [{ question, answer }] }`. */
export function toSquad(context: WorldContext): SquadContext {
  return {
    title: context.title,
    context: context.context,
    questions: context.questions.map((q, i) => ({
      question: context.asked[i] as string,
      answer: q.answer,
    })),
  };
}

export function squadExport(world: World, entityIds: readonly string[]): SquadContext[] {
  return entityIds.map((id) => toSquad(contextOf(world, id)));
}
