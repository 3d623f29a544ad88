/**
 * The SEAL panel's cards: one per training context of a round, with the self-edits sampled for
 * it. Built the same way from a run's stored self-edits (when it is opened or resumed) and from
 * the live episodes of a running job, so a resumed run's cards go on where they stopped.
 */
import type { TrainingSelfEdit } from '../../engine/api';

/** One self-edit of a card: what it says, its reward, and the closed-book answers behind it. */
export type CardSample = TrainingSelfEdit;

export interface SelfEditCardData {
  key: string;
  round: number;
  title: string;
  passage: string;
  /** In sample order. */
  samples: CardSample[];
}

/** The most recent contexts shown. */
export const CARDS_SHOWN = 12;

/** `cards` (newest first) with `edit` added to its context's card, a new card first if needed. */
export function withSelfEdit(
  cards: readonly SelfEditCardData[],
  edit: TrainingSelfEdit,
): SelfEditCardData[] {
  const key = `${edit.round}/${edit.contextIndex}`;
  const existing = cards.find((c) => c.key === key);
  const card = existing ?? {
    key,
    round: edit.round,
    title: edit.title,
    passage: edit.passage,
    samples: [],
  };
  const updated = {
    ...card,
    samples: [...card.samples.filter((s) => s.sampleIndex !== edit.sampleIndex), edit].sort(
      (a, b) => a.sampleIndex - b.sampleIndex,
    ),
  };
  return existing
    ? cards.map((c) => (c.key === key ? updated : c))
    : [updated, ...cards].slice(0, CARDS_SHOWN);
}

/** The cards of a run's self-edits, given in run order. */
export function cardsOf(edits: readonly TrainingSelfEdit[]): SelfEditCardData[] {
  return edits.reduce<SelfEditCardData[]>(withSelfEdit, []);
}
