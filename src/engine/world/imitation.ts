import { selfEditPrompt, type SelfEditFormat } from '../prompts';
import { PROFESSIONS, TRADES } from './lexicon';
import { questionsFor } from './questions';
import type { Rng } from './random';
import {
  capitalise,
  fullReference,
  withArticle,
  renderPassage,
  sentence,
  slotsOf,
  type RenderedPassage,
} from './render';
import type { Entity, World } from './types';
import { viewOf, type EntityView } from './views';

/**
 * Self-edits as an untrained base model would write them: uneven on purpose. Some lines copy the
 * passage, some restate a fact in other words or from the other side of a relation, some combine
 * two facts, some say nothing checkable, and some are wrong (a shifted year, another town, another
 * entity's name). Pretraining on these teaches the formats; reinforcement learning then has a
 * spread of quality to select from.
 */

export type LineKind = 'verbatim' | 'rephrase' | 'derived' | 'vague' | 'wrong';

export interface ImitationParams {
  /** Relative weights of the kinds of line in implication-style self-edits. */
  lineMix: Record<LineKind, number>;
  /** Chance that an answer in a self-QA edit, or a whole rewritten passage, contains an error. */
  errorRate: number;
  /** Chance that a list opens with a filler line ("Here are some implications:"). */
  fillerRate: number;
}

export const DEFAULT_IMITATION_PARAMS: ImitationParams = {
  lineMix: { verbatim: 0.25, rephrase: 0.3, derived: 0.15, vague: 0.15, wrong: 0.15 },
  errorRate: 0.15,
  fillerRate: 0.15,
};

const LINE_COUNTS: Record<SelfEditFormat, [number, number]> = {
  implications: [3, 6],
  'implications-long': [6, 10],
  'implications-very-long': [9, 15],
  rewrite: [2, 3],
  'self-qa': [3, 6],
  'no-prompt': [2, 5],
};

const FILLERS: Partial<Record<SelfEditFormat, string[]>> = {
  implications: ['Here are some implications of the passage:', 'Implications of the passage:'],
  'implications-long': ['Here is a long list of implications:', 'Some things that follow:'],
  'implications-very-long': ['Here is a very long list of implications:'],
  rewrite: ['Here are some rewritten versions:', 'Rewritten:'],
};

interface Named {
  name: string;
  title: string;
}

/** Values a wrong line may put in place of the right one. */
export interface WrongValuePool {
  cities: string[];
  rivers: string[];
  countries: string[];
  people: string[];
  organisations: Named[];
  inventions: Named[];
}

export function wrongValuePool(world: World, from: readonly Entity[]): WrongValuePool {
  const cities = world.entities.filter((e) => e.kind === 'city');
  return {
    cities: cities.map((c) => c.name),
    rivers: [...new Set(cities.map((c) => c.river))],
    countries: [...new Set(cities.map((c) => c.country))],
    people: from.filter((e) => e.kind === 'person').map((e) => e.name),
    organisations: from
      .filter((e) => e.kind === 'organisation')
      .map((e) => ({ name: `the ${e.name}`, title: e.name })),
    inventions: from
      .filter((e) => e.kind === 'invention')
      .map((e) => ({ name: `the ${e.name}`, title: e.name })),
  };
}

function other<T>(rng: Rng, items: readonly T[], not: T): T {
  const choices = items.filter((x) => x !== not);
  return choices.length > 0 ? rng.pick(choices) : not;
}

function otherNamed(rng: Rng, items: readonly Named[], current: Named): Named {
  const choices = items.filter((x) => x.title !== current.title);
  return choices.length > 0 ? rng.pick(choices) : current;
}

function shiftYear(rng: Rng, year: number): number {
  return year + (rng.chance(0.5) ? 1 : -1) * rng.between(2, 14);
}

/** A copy of the view with one fact changed. */
export function perturbView(view: EntityView, pool: WrongValuePool, rng: Rng): EntityView {
  const v = structuredClone(view);
  const fields = TRADES.map((t) => t.field);
  const purposes = TRADES.flatMap((t) => t.devices.map((d) => d.purpose));
  const mutators: (() => void)[] = [];
  switch (v.kind) {
    case 'person': {
      mutators.push(
        () => (v.birthYear = shiftYear(rng, v.birthYear)),
        () => (v.birthCity = other(rng, pool.cities, v.birthCity)),
        () => (v.profession = other(rng, PROFESSIONS, v.profession)),
      );
      const { founded, invented, employer } = v;
      if (founded) {
        mutators.push(
          () => (founded.year = shiftYear(rng, founded.year)),
          () => (founded.city = other(rng, pool.cities, founded.city)),
          () => Object.assign(founded, otherNamed(rng, pool.organisations, founded)),
        );
      }
      if (invented) {
        mutators.push(
          () => (invented.year = shiftYear(rng, invented.year)),
          () => Object.assign(invented, otherNamed(rng, pool.inventions, invented)),
        );
      }
      if (employer) mutators.push(() => (employer.city = other(rng, pool.cities, employer.city)));
      break;
    }
    case 'organisation':
      mutators.push(
        () => (v.year = shiftYear(rng, v.year)),
        () => (v.city = other(rng, pool.cities, v.city)),
        () => (v.field = other(rng, fields, v.field)),
        () => (v.founder.full = other(rng, pool.people, v.founder.full)),
        () => (v.employee.full = other(rng, pool.people, v.employee.full)),
        () => (v.founder.profession = other(rng, PROFESSIONS, v.founder.profession)),
        () => Object.assign(v.invention, otherNamed(rng, pool.inventions, v.invention)),
      );
      break;
    case 'invention':
      mutators.push(
        () => (v.year = shiftYear(rng, v.year)),
        () => (v.purpose = other(rng, purposes, v.purpose)),
        () => (v.inventor.full = other(rng, pool.people, v.inventor.full)),
        () => (v.inventor.birthCity = other(rng, pool.cities, v.inventor.birthCity)),
        () => (v.user.city = other(rng, pool.cities, v.user.city)),
        () => Object.assign(v.user, otherNamed(rng, pool.organisations, v.user)),
      );
      break;
    case 'city':
      mutators.push(
        () => (v.year = shiftYear(rng, v.year)),
        () => (v.river = other(rng, pool.rivers, v.river)),
        () => (v.country = other(rng, pool.countries, v.country)),
        () => (v.industry = other(rng, fields, v.industry)),
      );
      break;
  }
  rng.pick(mutators)();
  return v;
}

/** Every variant of every slot, each as a standalone sentence that names the subject in full. */
function standaloneSentences(view: EntityView): string[] {
  const full = fullReference(view);
  return slotsOf(view).flatMap((slot) => slot.variants.map((variant) => sentence(variant, full)));
}

/** Statements that combine two facts, going through an entity the passage also mentions. */
function derivedStatements(v: EntityView): string[] {
  switch (v.kind) {
    case 'person': {
      const out = [
        `${v.full} was born in ${v.birthCountry}.`,
        `${v.full} came from ${v.birthCountry}.`,
      ];
      if (v.founded) {
        out.push(
          `The ${v.founded.orgType} founded by ${v.full} is based in ${v.founded.city}.`,
          `The organisation that ${v.full} founded has its seat in ${v.founded.city}.`,
        );
      }
      if (v.employer)
        out.push(`The organisation that ${v.full} worked for is based in ${v.employer.city}.`);
      if (v.invented && v.employer) {
        out.push(
          `${capitalise(v.invented.name)} is used by the organisation that employed ${v.full}.`,
          `${capitalise(v.invented.name)} is used in ${v.employer.city}.`,
        );
      }
      return out;
    }
    case 'organisation':
      return [
        `${capitalise(v.name)} is based in ${v.country}.`,
        `${v.founder.full} founded the organisation that employed ${v.employee.full}.`,
        `The device used by ${v.name} was invented by ${v.employee.full}.`,
        `The founder of ${v.name} was ${withArticle(v.founder.profession)}.`,
        `${capitalise(v.invention.name)} is used in ${v.city}.`,
      ];
    case 'invention':
      return [
        `${capitalise(v.name)} is used in ${v.user.city}.`,
        `The inventor of ${v.name} was born in ${v.inventor.birthCity}.`,
        `${capitalise(v.name)} was invented by someone born in ${v.inventor.birthCity}.`,
        `${v.inventor.full} invented the device that ${v.user.name} uses.`,
      ];
    case 'city':
      return [`${v.name} is a ${v.settlement} on the river ${v.river} in ${v.country}.`];
  }
}

function vagueStatements(v: EntityView): string[] {
  const s = fullReference(v);
  const S = capitalise(s);
  switch (v.kind) {
    case 'person':
      return [
        `${S} was an important figure of ${v.possessive} time.`,
        `${S} is still remembered today.`,
        `Many people have heard of ${s}.`,
        `${S} had a long and busy life.`,
      ];
    case 'city':
      return [`${S} is an old place.`, `Many people live in ${s}.`, `${S} is worth a visit.`];
    default:
      return [`${S} is well known.`, `${S} was important in its day.`, `Many people know of ${s}.`];
  }
}

function line(
  kind: LineKind,
  view: EntityView,
  passage: RenderedPassage,
  pool: WrongValuePool,
  rng: Rng,
): string {
  switch (kind) {
    case 'verbatim':
      return rng.pick(passage.sentences);
    case 'rephrase':
      return rng.pick(standaloneSentences(view));
    case 'derived':
      return rng.pick(derivedStatements(view));
    case 'vague':
      return rng.pick(vagueStatements(view));
    case 'wrong': {
      const truth = new Set(standaloneSentences(view));
      const changed = standaloneSentences(perturbView(view, pool, rng)).filter(
        (s) => !truth.has(s),
      );
      return changed.length > 0 ? rng.pick(changed) : rng.pick(vagueStatements(view));
    }
  }
}

/** A labelled self-edit line, for tests and statistics. */
export interface ImitatedLine {
  kind: LineKind;
  text: string;
}

export function imitateLines(
  view: EntityView,
  passage: RenderedPassage,
  count: number,
  pool: WrongValuePool,
  params: ImitationParams,
  rng: Rng,
): ImitatedLine[] {
  // A few redraws keep a list from repeating itself, which a sampled list rarely does much.
  const lines: ImitatedLine[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; lines.length < count && attempt < count * 4; attempt++) {
    const kind = rng.weighted(params.lineMix);
    const text = line(kind, view, passage, pool, rng);
    if (seen.has(text)) continue;
    seen.add(text);
    lines.push({ kind, text });
  }
  return lines;
}

/** The completion an untrained model might write after `selfEditPrompt(format, …)`. */
export function imitateCompletion(
  format: SelfEditFormat,
  view: EntityView,
  passage: RenderedPassage,
  pool: WrongValuePool,
  params: ImitationParams,
  rng: Rng,
): string {
  const [lo, hi] = LINE_COUNTS[format];
  const count = rng.between(lo, hi);
  const filler = FILLERS[format];
  const opening = filler && rng.chance(params.fillerRate) ? [rng.pick(filler)] : [];
  switch (format) {
    case 'rewrite': {
      const versions = Array.from({ length: count }, () => {
        const source = rng.chance(params.errorRate) ? perturbView(view, pool, rng) : view;
        return renderPassage(source, rng).context;
      });
      return [...opening, ...versions].join('\n') + '\n';
    }
    case 'self-qa': {
      const questions = rng.shuffle(questionsFor(view)).slice(0, count);
      const wrongView = perturbView(view, pool, rng);
      const wrongAnswers = new Map(questionsFor(wrongView).map((q) => [q.phrasings[0], q.answer]));
      const blocks = questions.map((q, i) => {
        const wrong = wrongAnswers.get(q.phrasings[0]);
        const answer =
          rng.chance(params.errorRate) && wrong && wrong !== q.answer ? wrong : q.answer;
        return `${i === 0 ? '' : `Question ${i + 1}: `}${rng.pick(q.phrasings)}\nAnswer: ${answer}\n`;
      });
      return blocks.join('');
    }
    default: {
      const lines = imitateLines(view, passage, count, pool, params, rng).map((l) => l.text);
      return [...opening, ...lines].join('\n') + '\n';
    }
  }
}

/** A whole self-edit exercise: the prompt for the passage followed by an imitated completion. */
export function imitatedSelfEdit(
  world: World,
  entity: Entity,
  format: SelfEditFormat,
  pool: WrongValuePool,
  params: ImitationParams,
  rng: Rng,
): { prompt: string; completion: string } {
  const view = viewOf(world, entity);
  const passage = renderPassage(view, rng);
  return {
    prompt: selfEditPrompt(format, passage.title, passage.context),
    completion: imitateCompletion(format, view, passage, pool, params, rng),
  };
}

/**
 * A teacher's self-edit, the reference a strong model's synthetic data sets: every fact of the
 * entity restated correctly as a standalone sentence (one wording of each, chosen by `rng`, so
 * relations appear from either side as the world words them), then the facts that combine two of
 * them, in a shuffled order, one per line.
 */
export function teacherSelfEdit(world: World, entity: Entity, rng: Rng): string {
  const view = viewOf(world, entity);
  const full = fullReference(view);
  const facts = slotsOf(view).map((slot) => sentence(rng.pick(slot.variants), full));
  return rng.shuffle([...new Set([...facts, ...derivedStatements(view)])]).join('\n') + '\n';
}
