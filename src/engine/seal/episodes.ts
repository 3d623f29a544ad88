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

/** One question a self-edit was graded on, as the run asked it. */
export interface AskedQuestion {
  question: string;
  gold: string;
  /** The adapted model's answer (its first LoRA seed's, when there were several). */
  answer: string;
  /** 0 (wrong) to 1 (right), averaged over the LoRA seeds. */
  grade: number;
}

/** What the reward compares: the model's closed-book scores on the passage's questions. */
export interface ClosedBookScores {
  accuracy: number;
  /** Mean log-likelihood per gold-answer token, in nats. */
  goldLogLikelihood: number;
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
  /** The questions asked after the update; empty when nothing was applied. */
  asked: AskedQuestion[];
  /** The model before the update (null when the run stored no scores: nothing was applied). */
  before: ClosedBookScores | null;
  /** The adapted model, averaged over its LoRA seeds (null when nothing was applied). */
  after: ClosedBookScores | null;
  /** LoRA seeds the self-edit was applied with. */
  seeds: number;
}

/** The mean of `seed<i>_<name>` over the seeds an episode's metrics hold, null when none. */
function seedMean(metrics: Record<string, number>, name: string): number | null {
  const values: number[] = [];
  for (let i = 0; metrics[`seed${i}_${name}`] !== undefined; i++) {
    values.push(metrics[`seed${i}_${name}`]!);
  }
  return values.length === 0 ? null : values.reduce((sum, x) => sum + x, 0) / values.length;
}

export function trainingSelfEdit(
  episode: Pick<
    EpisodeRecord,
    'round' | 'contextIndex' | 'sampleIndex' | 'selfEdit' | 'reward' | 'answers' | 'grades'
  > & { metrics?: Record<string, number> | undefined },
  passage: Pick<Passage, 'title' | 'context' | 'questions'>,
  accuracy: number,
): TrainingSelfEdit {
  const metrics = episode.metrics ?? {};
  const afterAccuracy = seedMean(metrics, 'accuracy');
  const afterLikelihood = seedMean(metrics, 'gold_log_likelihood');
  return {
    round: episode.round,
    contextIndex: episode.contextIndex,
    sampleIndex: episode.sampleIndex,
    title: passage.title,
    passage: passage.context,
    text: episode.selfEdit,
    reward: episode.reward,
    accuracy,
    // A run asks the first questions of a passage (all, or as many as its settings say).
    asked: episode.answers.map((answer, i) => ({
      question: passage.questions[i]?.question ?? '',
      gold: passage.questions[i]?.answer ?? '',
      answer,
      grade: episode.grades[i] ?? 0,
    })),
    before:
      metrics.before_accuracy === undefined || metrics.before_gold_log_likelihood === undefined
        ? null
        : {
            accuracy: metrics.before_accuracy,
            goldLogLikelihood: metrics.before_gold_log_likelihood,
          },
    after:
      afterAccuracy === null || afterLikelihood === null
        ? null
        : { accuracy: afterAccuracy, goldLogLikelihood: afterLikelihood },
    seeds: Object.keys(metrics).filter((key) => /^seed\d+_accuracy$/.test(key)).length,
  };
}
