import type { Settlement } from './lexicon';

export type EntityKind = 'person' | 'organisation' | 'invention' | 'city';

/**
 * Which part of the experiment an entity belongs to. `pretrain` entities are what the default
 * model learns; `rl` and `eval` entities are the SEAL contexts (never in the pretraining corpus);
 * `scratch` entities appear only in reading and self-edit exercises of the corpus, so those
 * exercises are done on names the model has not memorised, as in the real task.
 */
export type Split = 'pretrain' | 'rl' | 'eval' | 'scratch';

interface EntityBase {
  id: string;
  split: Split;
  /** The passage title and the name in running text (without a leading "the"). */
  name: string;
}

export interface Person extends EntityBase {
  kind: 'person';
  givenName: string;
  familyName: string;
  pronoun: 'he' | 'she';
  birthYear: number;
  birthCityId: string;
  profession: string;
  /** The organisation this person founded (founders only). */
  foundedId?: string;
  /** The invention this person made and the organisation employing them (inventors only). */
  inventedId?: string;
  employerId?: string;
}

export interface Organisation extends EntityBase {
  kind: 'organisation';
  /** The invented part of the name ("Morrow" in "Morrow Glassworks"). */
  coreName: string;
  orgType: string;
  field: string;
  foundedYear: number;
  founderId: string;
  cityId: string;
  employeeId: string;
  inventionId: string;
}

export interface Invention extends EntityBase {
  kind: 'invention';
  coreName: string;
  device: string;
  purpose: string;
  year: number;
  inventorId: string;
  userId: string;
}

export interface City extends EntityBase {
  kind: 'city';
  settlement: Settlement;
  country: string;
  river: string;
  foundedYear: number;
  industry: string;
}

export type Entity = Person | Organisation | Invention | City;

export interface WorldParams {
  cities: number;
  countries: number;
  rivers: number;
  /** A cluster is a founder, the organisation they founded, an inventor it employs, and the invention it uses. */
  pretrainClusters: number;
  rlClusters: number;
  evalClusters: number;
  scratchClusters: number;
  /** Share of pretraining clusters whose closed-book question-answer pairs are in the corpus. */
  pretrainQaFraction: number;
}

export const DEFAULT_WORLD_PARAMS: WorldParams = {
  cities: 40,
  countries: 8,
  rivers: 14,
  pretrainClusters: 300,
  rlClusters: 60,
  evalClusters: 60,
  scratchClusters: 1200,
  pretrainQaFraction: 0.5,
};

export interface World {
  seed: number;
  params: WorldParams;
  /** Every entity, in generation order. */
  entities: Entity[];
  byId: Map<string, Entity>;
  splits: {
    /** Pretraining entities (cities included). */
    pretrain: string[];
    /** Pretraining entities whose closed-book QA is trained (all cities, and whole clusters). */
    pretrainQa: string[];
    /** Pretraining entities never asked about in the corpus: a probe of fact extraction. */
    pretrainProbe: string[];
    /** SEAL contexts for reinforcement learning. */
    rl: string[];
    /** SEAL contexts held out for evaluation. */
    eval: string[];
    scratch: string[];
  };
}

export type QuestionKind = 'direct' | 'paraphrase' | 'reverse' | 'derived';

export interface WorldQuestion {
  kind: QuestionKind;
  /** Every phrasing the world knows for this question; the first is the canonical one. */
  phrasings: string[];
  answer: string;
}

/** One context in the SQuAD-style shape the SEAL code reads. */
export interface SquadContext {
  title: string;
  context: string;
  questions: { question: string; answer: string }[];
}
