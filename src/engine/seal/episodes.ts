/**
 * Reading a run's episodes: what each one measured. Episodes stored before the kind and the
 * condition were recorded as fields say them in their contextId ('held-out/<condition>/<id>' or
 * 'train/<id>'), and are read the same way.
 */
import {
  EVALUATION_CONDITIONS,
  type EpisodeKind,
  type EpisodeRecord,
  type EvaluationCondition,
  type Passage,
} from '../store';

export type EpisodeFields = Pick<
  EpisodeRecord,
  'contextId' | 'kind' | 'condition' | 'draw' | 'round' | 'contextIndex' | 'sampleIndex'
>;

const LEGACY_PREFIX = /^(?:held-out\/([a-z-]+)|train)\//;

export function episodeKind(episode: Pick<EpisodeRecord, 'kind' | 'contextId'>): EpisodeKind {
  if (episode.kind) return episode.kind;
  return episode.contextId.startsWith('held-out/') ? 'held-out' : 'self-edit';
}

/** The held-out condition of an episode, null for training episodes. */
export function episodeCondition(
  episode: Pick<EpisodeRecord, 'kind' | 'condition' | 'contextId'>,
): EvaluationCondition | null {
  if (episodeKind(episode) !== 'held-out') return null;
  if (episode.condition) return episode.condition;
  const legacy = LEGACY_PREFIX.exec(episode.contextId)?.[1];
  return (EVALUATION_CONDITIONS as readonly string[]).includes(legacy ?? '')
    ? (legacy as EvaluationCondition)
    : null;
}

/** The passage ids an episode is about, without a legacy kind prefix. */
export function episodeContext(episode: Pick<EpisodeRecord, 'contextId'>): string {
  return episode.contextId.replace(LEGACY_PREFIX, '');
}

/** Which draw of its context and condition a held-out episode is (0 for older records). */
export function episodeDraw(episode: Pick<EpisodeRecord, 'draw'>): number {
  return episode.draw ?? 0;
}

/** A training self-edit of a run as the SEAL panel shows it, with the passage it was written for. */
export interface TrainingSelfEdit {
  round: number;
  contextIndex: number;
  sampleIndex: number;
  title: string;
  passage: string;
  text: string;
  reward: number;
  /** The share of right answers after the update (0 when nothing was applied). */
  accuracy: number;
}

export function trainingSelfEdit(
  episode: Pick<EpisodeRecord, 'round' | 'contextIndex' | 'sampleIndex' | 'selfEdit' | 'reward'>,
  passage: Pick<Passage, 'title' | 'context'>,
  accuracy: number,
): TrainingSelfEdit {
  return {
    round: episode.round,
    contextIndex: episode.contextIndex,
    sampleIndex: episode.sampleIndex,
    title: passage.title,
    passage: passage.context,
    text: episode.selfEdit,
    reward: episode.reward,
    accuracy,
  };
}
