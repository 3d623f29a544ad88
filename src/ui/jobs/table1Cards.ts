/**
 * The latest recipes of a Table 1 run as cards: the recipe as settings, what became of it
 * (invalid, over the step budget, applied), its test-time-training loss, and the voted attempts
 * against the true output. Answers in context have no recipe and get no card.
 */
import type { Grid } from '../../engine/puzzles/grid';
import { parseRecipe, type Recipe } from '../../engine/puzzles/recipe';
import type { EpisodeRecord, PuzzleStatus, RunPosition } from '../../engine/store';

/** Cards shown at once, the newest first. */
export const RECIPE_CARDS_SHOWN = 4;

export type RecipeCardEpisode = RunPosition &
  Pick<EpisodeRecord, 'contextId' | 'kind' | 'selfEdit' | 'lossCurve' | 'puzzle'>;

export interface RecipeCardData {
  key: string;
  title: string;
  status: PuzzleStatus;
  /** The recipe trained on (or refused for its steps); null when none was valid. */
  recipe: Recipe | null;
  /** The model's last text when no recipe was valid. */
  text: string;
  /** Samples drawn before a valid one (or before giving up). */
  resamples: number;
  steps: number;
  losses: number[];
  attempts: Grid[];
  truth: Grid | null;
  solved: boolean;
}

const CONDITION_LABELS = {
  ttt_untrained: 'untrained model',
  seal: 'SEAL model',
  oracle: 'hand-tuned recipe',
  icl: 'in context',
} as const;

function titleOf(episode: RecipeCardEpisode): string {
  const sample = `recipe ${episode.sampleIndex + 1}`;
  if (episode.kind === 'recipe') {
    return `RL round ${episode.round}: training puzzle ${episode.contextId}, ${sample}`;
  }
  const condition = episode.puzzle?.condition;
  const by = condition ? CONDITION_LABELS[condition] : 'held out';
  const round = condition === 'seal' ? ` after round ${episode.round}` : '';
  return `Held-out ${episode.contextId}, ${by}${round}${condition === 'oracle' ? '' : `, ${sample}`}`;
}

/** The episode as a card, or null when it has no recipe (an answer in context). */
export function recipeCardOf(
  episode: RecipeCardEpisode,
  truth: Grid | null,
): RecipeCardData | null {
  const puzzle = episode.puzzle;
  if (!puzzle || puzzle.status === 'in-context') return null;
  const accepted =
    puzzle.samples.find((sample) => sample.reason === null)?.text ?? episode.selfEdit;
  const parsed = puzzle.status === 'invalid' ? null : parseRecipe(accepted);
  return {
    key: `${episode.round}/${episode.contextIndex}/${episode.sampleIndex}`,
    title: titleOf(episode),
    status: puzzle.status,
    recipe: parsed?.ok ? parsed.recipe : null,
    text: puzzle.samples.at(-1)?.text ?? episode.selfEdit,
    resamples: Math.max(0, puzzle.samples.length - 1),
    steps: puzzle.steps,
    losses: episode.lossCurve,
    attempts: puzzle.attempts,
    truth,
    solved: puzzle.solved,
  };
}

/** `cards` with `card` in front, the oldest dropped past `RECIPE_CARDS_SHOWN`. */
export function withRecipeCard(
  cards: readonly RecipeCardData[],
  card: RecipeCardData | null,
): RecipeCardData[] {
  if (!card) return [...cards];
  return [card, ...cards.filter((c) => c.key !== card.key)].slice(0, RECIPE_CARDS_SHOWN);
}
