import { TRADES, PROFESSIONS } from './lexicon';
import { entityOf } from './generate';
import type { World } from './types';

/**
 * Checks a self-edit line against the world's facts. A line is split into sentences; in each, the
 * named entities and the checkable values (years, places, trades, professions, devices, …) are
 * found, and every one of them must be tied by a fact of the world to the passage's entity or to
 * another entity the line names — directly, or through one intermediate entity (so "the company
 * founded by A is based in C" checks). Relation words in the sentence ("born", "founded", "based",
 * "invented", "uses", "worked") restrict which facts may tie them, so a founding year given as a
 * birth year contradicts. A line naming nothing checkable is unverifiable.
 */

export type LineVerdict = 'consistent' | 'contradicts' | 'unverifiable';

type Cue = 'birth' | 'found' | 'invent' | 'based' | 'work' | 'use';

type Relation =
  | 'birthYear'
  | 'birthCity'
  | 'birthCountry'
  | 'profession'
  | 'founded'
  | 'invented'
  | 'employer'
  | 'foundedYear'
  | 'city'
  | 'country'
  | 'field'
  | 'orgType'
  | 'uses'
  | 'inventionYear'
  | 'device'
  | 'purpose'
  | 'river'
  | 'industry';

const CUE_OF: Record<Relation, Cue | null> = {
  birthYear: 'birth',
  birthCity: 'birth',
  birthCountry: null,
  profession: null,
  founded: 'found',
  invented: 'invent',
  employer: 'work',
  foundedYear: 'found',
  city: 'based',
  country: null,
  field: null,
  orgType: null,
  uses: 'use',
  inventionYear: 'invent',
  device: null,
  purpose: null,
  river: null,
  industry: null,
};

const CUE_PATTERNS: Record<Cue, RegExp> = {
  birth: /\b(born|birth|birthplace|native|came from|comes from)\b/i,
  found: /\b(found(ed|er|ers|ing|s)?|establish\w*|set up|since|dates to)\b/i,
  invent: /\b(invent\w*|devis\w*|design\w*|creat\w*|built|made)\b/i,
  based: /\b(based|seat|home|located|operates from|situated)\b/i,
  work: /\b(work(ed|s|ing)?|employ\w*|staff)\b/i,
  use: /\b(use[sd]?|using|in use|relies|rely|relied)\b/i,
};

interface Link {
  other: string;
  relation: Relation;
}
interface ValueFact {
  value: string;
  relation: Relation;
}
interface EntityFacts {
  links: Link[];
  values: ValueFact[];
}

interface FactIndex {
  facts: Map<string, EntityFacts>;
  /** Lowercased name (one or more words) → entity id. */
  names: Map<string, string>;
  /** Lowercased value phrase → true. */
  values: Set<string>;
  longestName: number;
  longestValue: number;
  cities: Set<string>;
}

const indexCache = new WeakMap<World, FactIndex>();

function buildIndex(world: World): FactIndex {
  const facts = new Map<string, EntityFacts>();
  const factsOf = (id: string): EntityFacts => {
    let f = facts.get(id);
    if (!f) facts.set(id, (f = { links: [], values: [] }));
    return f;
  };
  const link = (a: string, b: string, relation: Relation) => {
    factsOf(a).links.push({ other: b, relation });
    factsOf(b).links.push({ other: a, relation });
  };
  const value = (id: string, v: string | number, relation: Relation) =>
    factsOf(id).values.push({ value: String(v).toLowerCase(), relation });
  const names = new Map<string, string>();
  const values = new Set<string>([
    ...PROFESSIONS,
    ...TRADES.flatMap((t) => [
      t.field,
      t.orgType,
      ...t.devices.flatMap((d) => [d.device, d.purpose]),
    ]),
  ]);
  const cityOf = (id: string) => {
    const c = entityOf(world, id);
    if (c.kind !== 'city') throw new Error(`entity "${id}" is not a city`);
    return c;
  };

  for (const e of world.entities) {
    names.set(e.name.toLowerCase(), e.id);
    switch (e.kind) {
      case 'person': {
        names.set(e.familyName.toLowerCase(), e.id);
        value(e.id, e.birthYear, 'birthYear');
        value(e.id, e.profession, 'profession');
        value(e.id, cityOf(e.birthCityId).country, 'birthCountry');
        link(e.id, e.birthCityId, 'birthCity');
        if (e.foundedId) link(e.id, e.foundedId, 'founded');
        if (e.inventedId) link(e.id, e.inventedId, 'invented');
        if (e.employerId) link(e.id, e.employerId, 'employer');
        break;
      }
      case 'organisation':
        names.set(e.coreName.toLowerCase(), e.id);
        value(e.id, e.foundedYear, 'foundedYear');
        value(e.id, e.field, 'field');
        value(e.id, e.orgType, 'orgType');
        value(e.id, cityOf(e.cityId).country, 'country');
        link(e.id, e.cityId, 'city');
        link(e.id, e.inventionId, 'uses');
        break;
      case 'invention':
        names.set(e.coreName.toLowerCase(), e.id);
        value(e.id, e.year, 'inventionYear');
        value(e.id, e.device, 'device');
        value(e.id, e.purpose, 'purpose');
        break;
      case 'city':
        value(e.id, e.foundedYear, 'foundedYear');
        value(e.id, e.country, 'country');
        value(e.id, e.river, 'river');
        value(e.id, e.industry, 'industry');
        values.add(e.country.toLowerCase());
        values.add(e.river.toLowerCase());
        break;
    }
  }
  const words = (s: string) => s.split(' ').length;
  return {
    facts,
    names,
    values,
    longestName: Math.max(...[...names.keys()].map(words)),
    longestValue: Math.max(...[...values].map(words)),
    cities: new Set(world.entities.filter((e) => e.kind === 'city').map((e) => e.id)),
  };
}

function indexOf(world: World): FactIndex {
  let index = indexCache.get(world);
  if (!index) indexCache.set(world, (index = buildIndex(world)));
  return index;
}

type Atom = { entity: string } | { value: string };

/**
 * The entities and checkable values a sentence mentions (longest phrase first), and the words left
 * over, in which relation words are looked for ("Dye Works" names a trade, not employment).
 */
function atomsOf(index: FactIndex, text: string): { atoms: Atom[]; rest: string } {
  const words = text.match(/[A-Za-z]+|\d+/g) ?? [];
  const lower = words.map((w) => w.toLowerCase());
  const atoms: Atom[] = [];
  const rest: string[] = [];
  let i = 0;
  outer: while (i < words.length) {
    for (let n = Math.min(index.longestName, words.length - i); n >= 1; n--) {
      const first = words[i] as string;
      if (first.charAt(0) === first.charAt(0).toLowerCase()) break;
      const id = index.names.get(lower.slice(i, i + n).join(' '));
      if (id) {
        atoms.push({ entity: id });
        i += n;
        continue outer;
      }
    }
    for (let n = Math.min(index.longestValue, words.length - i); n >= 1; n--) {
      const phrase = lower.slice(i, i + n).join(' ');
      if (index.values.has(phrase)) {
        atoms.push({ value: phrase });
        i += n;
        continue outer;
      }
    }
    if (/^\d{3,4}$/.test(words[i] as string)) atoms.push({ value: words[i] as string });
    else rest.push(lower[i] as string);
    i += 1;
  }
  return { atoms, rest: rest.join(' ') };
}

function sentenceVerdict(index: FactIndex, passageEntity: string, text: string): LineVerdict {
  const { atoms, rest } = atomsOf(index, text);
  const cues = new Set<Cue>(
    (Object.keys(CUE_PATTERNS) as Cue[]).filter((cue) => CUE_PATTERNS[cue].test(rest)),
  );
  const valid = (relation: Relation) => {
    const cue = CUE_OF[relation];
    return cue === null || cues.size === 0 || cues.has(cue);
  };
  const relevant = new Set([passageEntity]);
  for (const atom of atoms) if ('entity' in atom) relevant.add(atom.entity);

  const holds = (from: string, atom: Atom, ok: (r: Relation) => boolean): boolean => {
    const f = index.facts.get(from);
    if (!f) return false;
    if ('entity' in atom) return f.links.some((l) => l.other === atom.entity && ok(l.relation));
    return f.values.some((v) => v.value === atom.value && ok(v.relation));
  };
  // A town is tied to everyone born or based there, so it never serves as the middle of a chain
  // (otherwise any year or name would find some support), and a person, organisation or invention
  // must belong to the passage's own circle: the passage entity or one step away from it.
  const circle = new Set([passageEntity]);
  const passageIsTown = index.cities.has(passageEntity);
  for (const near of index.facts.get(passageEntity)?.links ?? []) {
    if (index.cities.has(near.other)) continue;
    circle.add(near.other);
    if (passageIsTown) continue;
    for (const far of index.facts.get(near.other)?.links ?? []) circle.add(far.other);
  }
  const supported = (atom: Atom): boolean => {
    const self = 'entity' in atom ? atom.entity : null;
    if (self !== null && !index.cities.has(self) && !circle.has(self)) return false;
    for (const r of relevant) {
      if (r === self) continue;
      const rootIsTown = index.cities.has(r);
      if (holds(r, atom, valid)) return true;
      if (rootIsTown) continue;
      for (const hop of index.facts.get(r)?.links ?? []) {
        if (hop.other === self || index.cities.has(hop.other)) continue;
        // The far fact must fit the sentence's relation words; only an organisation's town may be
        // reached through a fitting near one ("the loom is used in Kelmar").
        const firstValid = valid(hop.relation);
        const fits = (second: Relation) => valid(second) || (second === 'city' && firstValid);
        if (holds(hop.other, atom, fits)) return true;
      }
    }
    return false;
  };

  const claims = atoms.filter((atom) => !('entity' in atom && atom.entity === passageEntity));
  if (claims.length === 0) return 'unverifiable';
  return claims.every(supported) ? 'consistent' : 'contradicts';
}

/**
 * Whether a self-edit line written for the passage of `entityId` agrees with the world. Any
 * sentence with a claim the world does not support makes the line `contradicts`; otherwise a line
 * with at least one supported claim is `consistent`; a line with no checkable claim (vague
 * praise, filler) is `unverifiable`. It is a reading of the world's own phrasing, not a general
 * parser: it knows which facts are stated, not what every English sentence means.
 */
export function checkSelfEditLine(world: World, entityId: string, line: string): LineVerdict {
  entityOf(world, entityId);
  const index = indexOf(world);
  // A question stays joined to its answer ("Question 2: When was A born?\nAnswer: 1841").
  const sentences = line
    .split(/(?<=[.!])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  let verdict: LineVerdict = 'unverifiable';
  for (const s of sentences) {
    const v = sentenceVerdict(index, entityId, s);
    if (v === 'contradicts') return 'contradicts';
    if (v === 'consistent') verdict = 'consistent';
  }
  return verdict;
}
