import {
  answerCompletion,
  closedBookPrompt,
  readingPrompt,
  selfEditPrompt,
  type SelfEditFormat,
} from '../prompts';
import { entityOf } from './generate';
import {
  DEFAULT_IMITATION_PARAMS,
  imitateCompletion,
  wrongValuePool,
  type ImitationParams,
} from './imitation';
import { questionsFor } from './questions';
import { createRng, type Rng } from './random';
import { renderPassage } from './render';
import { SPECIAL_TOKENS } from './tokenizer';
import type { Entity, World } from './types';
import { viewOf } from './views';

/**
 * The pretraining corpus. Four kinds of document, each teaching one ability the experiment needs:
 * - `passage`: an encyclopedic passage about a pretraining entity, freshly worded each time, so
 *   every fact is seen in many surface forms (what makes stored facts extractable);
 * - `closedBook`: questions about pretraining entities answered without the passage, for half of
 *   them only (the other half is a probe: can the model answer what it only read?);
 * - `reading`: a passage followed by questions answered from it;
 * - `selfEdit`: a self-edit prompt followed by an imitated, uneven self-edit.
 * Reading and self-edit exercises use, half of the time, entities that appear nowhere else, like
 * the contexts the model will meet later. Documents end with the end-of-sequence token.
 */

export type DocumentKind = 'passage' | 'closedBook' | 'reading' | 'selfEdit';

export interface CorpusParams {
  documents: number;
  /** Relative number of documents of each kind. */
  mix: Record<DocumentKind, number>;
  /** Share of reading and self-edit documents about entities seen nowhere else. */
  novelShare: number;
  /** Relative frequency of the self-edit formats. */
  formats: Record<SelfEditFormat, number>;
  questionsPerClosedBook: [number, number];
  questionsPerReading: [number, number];
  imitation: ImitationParams;
}

export const DEFAULT_CORPUS_PARAMS: CorpusParams = {
  documents: 60_000,
  mix: { passage: 0.3, closedBook: 0.22, reading: 0.2, selfEdit: 0.28 },
  novelShare: 0.5,
  formats: {
    implications: 0.25,
    'implications-long': 0.1,
    'implications-very-long': 0.05,
    rewrite: 0.2,
    'self-qa': 0.3,
    'no-prompt': 0.1,
  },
  questionsPerClosedBook: [3, 6],
  questionsPerReading: [2, 4],
  imitation: DEFAULT_IMITATION_PARAMS,
};

export interface CorpusDocument {
  kind: DocumentKind;
  /** The entity the document is about. */
  entityId: string;
  /** For self-edit documents, the format. */
  format?: SelfEditFormat;
  text: string;
}

/** Cycles through a shuffled list, reshuffling after each pass, so every item comes up evenly. */
function roundRobin(items: readonly string[], rng: Rng): () => string {
  if (items.length === 0) throw new Error('corpus: an entity list to draw from is empty');
  let order: string[] = [];
  return () => {
    if (order.length === 0) order = rng.shuffle(items);
    return order.pop() as string;
  };
}

function checkCorpusParams(params: CorpusParams): void {
  if (!Number.isInteger(params.documents) || params.documents < 0) {
    throw new Error(
      `corpus params: documents must be a non-negative integer, got ${params.documents}`,
    );
  }
  if (!(params.novelShare >= 0 && params.novelShare <= 1)) {
    throw new Error(`corpus params: novelShare must be in [0, 1], got ${params.novelShare}`);
  }
  for (const [name, [lo, hi]] of [
    ['questionsPerClosedBook', params.questionsPerClosedBook],
    ['questionsPerReading', params.questionsPerReading],
  ] as const) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && hi >= lo)) {
      throw new Error(
        `corpus params: ${name} must be [lo, hi] with 1 <= lo <= hi, got [${lo}, ${hi}]`,
      );
    }
  }
}

/** Generates the corpus for a world; the same world and params always give the same documents. */
export function generateCorpus(
  world: World,
  overrides: Partial<CorpusParams> = {},
): CorpusDocument[] {
  const params: CorpusParams = { ...DEFAULT_CORPUS_PARAMS, ...overrides };
  checkCorpusParams(params);
  const rng = createRng(`world/${world.seed}/corpus`);
  const qaIds = world.splits.pretrainQa;
  const scratchIds = world.splits.scratch;
  const nextPretrain = roundRobin(world.splits.pretrain, rng.fork('pretrain'));
  const nextQa = roundRobin(qaIds, rng.fork('qa'));
  const nextScratch = scratchIds.length > 0 ? roundRobin(scratchIds, rng.fork('scratch')) : nextQa;
  // Wrong lines borrow names from QA entities only, so probe entities appear in passages alone.
  const pool = wrongValuePool(
    world,
    qaIds.map((id) => entityOf(world, id)),
  );
  const subject = (r: Rng): Entity =>
    entityOf(world, r.chance(params.novelShare) ? nextScratch() : nextQa());

  const docs: CorpusDocument[] = [];
  for (let i = 0; i < params.documents; i++) {
    const r = rng.fork(`doc-${i}`);
    const kind = r.weighted(params.mix);
    switch (kind) {
      case 'passage': {
        const entity = entityOf(world, nextPretrain());
        const p = renderPassage(viewOf(world, entity), r);
        docs.push({
          kind,
          entityId: entity.id,
          text: `${p.title}\n${p.context}${SPECIAL_TOKENS.eos}`,
        });
        break;
      }
      case 'closedBook': {
        const entity = entityOf(world, nextQa());
        const questions = r.shuffle(questionsFor(viewOf(world, entity)));
        const n = Math.min(questions.length, r.between(...params.questionsPerClosedBook));
        const text = questions
          .slice(0, n)
          .map((q) => closedBookPrompt(r.pick(q.phrasings)) + answerCompletion(q.answer))
          .join('\n');
        docs.push({ kind, entityId: entity.id, text: text + SPECIAL_TOKENS.eos });
        break;
      }
      case 'reading': {
        const entity = subject(r);
        const view = viewOf(world, entity);
        const p = renderPassage(view, r);
        const questions = r.shuffle(questionsFor(view));
        const n = Math.min(questions.length, r.between(...params.questionsPerReading));
        const [first, ...more] = questions.slice(0, n);
        if (!first) throw new Error(`corpus: entity "${entity.id}" has no questions`);
        let text =
          readingPrompt(p.title, p.context, r.pick(first.phrasings)) +
          answerCompletion(first.answer);
        for (const q of more)
          text += `Question: ${r.pick(q.phrasings)}\nAnswer:${answerCompletion(q.answer)}`;
        docs.push({ kind, entityId: entity.id, text: text + SPECIAL_TOKENS.eos });
        break;
      }
      case 'selfEdit': {
        const entity = subject(r);
        const format = r.weighted(params.formats);
        const view = viewOf(world, entity);
        const p = renderPassage(view, r);
        const completion = imitateCompletion(format, view, p, pool, params.imitation, r);
        const text = selfEditPrompt(format, p.title, p.context) + completion + SPECIAL_TOKENS.eos;
        docs.push({ kind, entityId: entity.id, format, text });
        break;
      }
    }
  }
  return docs;
}

export interface CorpusStats {
  documents: number;
  characters: number;
  /** Per kind: documents and characters. */
  byKind: Record<DocumentKind, { documents: number; characters: number }>;
  byFormat: Partial<Record<SelfEditFormat, number>>;
}

export function corpusStats(docs: readonly CorpusDocument[]): CorpusStats {
  const byKind: CorpusStats['byKind'] = {
    passage: { documents: 0, characters: 0 },
    closedBook: { documents: 0, characters: 0 },
    reading: { documents: 0, characters: 0 },
    selfEdit: { documents: 0, characters: 0 },
  };
  const byFormat: CorpusStats['byFormat'] = {};
  let characters = 0;
  for (const d of docs) {
    byKind[d.kind].documents += 1;
    byKind[d.kind].characters += d.text.length;
    characters += d.text.length;
    if (d.format) byFormat[d.format] = (byFormat[d.format] ?? 0) + 1;
  }
  return { documents: docs.length, characters, byKind, byFormat };
}

/**
 * Characters per token of the world's tokenizer at its default size, measured on a default corpus
 * (seed 1); good for a quick estimate, while the world CLI counts tokens exactly.
 */
export const CHARACTERS_PER_TOKEN = 4.05;

export function estimateTokens(docs: readonly CorpusDocument[]): number {
  return Math.round(docs.reduce((sum, d) => sum + d.text.length, 0) / CHARACTERS_PER_TOKEN);
}
