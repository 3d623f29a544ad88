/**
 * The SEAL panel's cards: one per training context of a round, with the self-edits sampled for
 * it. Built the same way from a run's stored self-edits (when it is opened or resumed) and from
 * the live episodes of a running job, so a resumed run's cards go on where they stopped. A run
 * that is shown, not running, keeps every card, and the panel pages through them round by round.
 */
import type { TrainingSelfEdit } from '../../engine/api';

/** One self-edit of a card: what it says, its reward, and the closed-book answers behind it. */
export type CardSample = TrainingSelfEdit;

export interface SelfEditCardData {
  key: string;
  round: number;
  contextIndex: number;
  title: string;
  passage: string;
  /** In sample order. */
  samples: CardSample[];
}

/** The most recent contexts a running job shows, and the contexts on one page of a shown run. */
export const CARDS_SHOWN = 12;

/**
 * `cards` (newest first) with `edit` added to its context's card, a new card first if needed;
 * the oldest past `limit` are dropped.
 */
export function withSelfEdit(
  cards: readonly SelfEditCardData[],
  edit: TrainingSelfEdit,
  limit = CARDS_SHOWN,
): SelfEditCardData[] {
  const key = `${edit.round}/${edit.contextIndex}`;
  const existing = cards.find((c) => c.key === key);
  const card = existing ?? {
    key,
    round: edit.round,
    contextIndex: edit.contextIndex,
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
    : [updated, ...cards].slice(0, limit);
}

/** The cards of a run's self-edits, given in run order: the latest `limit` contexts'. */
export function cardsOf(
  edits: readonly TrainingSelfEdit[],
  limit = CARDS_SHOWN,
): SelfEditCardData[] {
  return edits.reduce<SelfEditCardData[]>((cards, edit) => withSelfEdit(cards, edit, limit), []);
}

export interface CardPage {
  /** Rounds that have cards, in order. */
  rounds: number[];
  round: number;
  /** 0-based, within the round. */
  page: number;
  pages: number;
  /** The round's contexts on this page, in run order. */
  cards: SelfEditCardData[];
  /** Position of the page's first context in the round (0-based), and the round's contexts. */
  first: number;
  total: number;
}

/**
 * Page `page` of round `round`'s cards (the latest round when `round` has none; the last page
 * when `page` lies past it); null when there are no cards.
 */
export function cardPage(
  cards: readonly SelfEditCardData[],
  round: number | null,
  page: number,
): CardPage | null {
  const rounds = [...new Set(cards.map((card) => card.round))].sort((a, b) => a - b);
  const shown = round !== null && rounds.includes(round) ? round : rounds.at(-1);
  if (shown === undefined) return null;
  const ofRound = cards
    .filter((card) => card.round === shown)
    .sort((a, b) => a.contextIndex - b.contextIndex);
  const pages = Math.ceil(ofRound.length / CARDS_SHOWN);
  const at = Math.max(0, Math.min(page, pages - 1));
  const first = at * CARDS_SHOWN;
  return {
    rounds,
    round: shown,
    page: at,
    pages,
    cards: ofRound.slice(first, first + CARDS_SHOWN),
    first,
    total: ofRound.length,
  };
}
