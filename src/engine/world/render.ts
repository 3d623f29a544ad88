import type { Rng } from './random';
import type { CityView, EntityView, InventionView, OrgView, PersonView } from './views';

/**
 * Passages in many surface forms. A passage is a set of slots (groups of facts); every variant of
 * a slot states all of the slot's facts, so any rendering answers the same questions, while the
 * wording, the sentence order and the way the subject is referred to change from one rendering to
 * the next.
 */

export interface Variant {
  /** `s` is how the sentence refers to the passage's subject (full name, short name or pronoun). */
  text: (s: string) => string;
  /** Other slots whose facts this variant also states. */
  also?: string[];
  /** The subject is not the grammatical subject here, so a nominative pronoun would be wrong. */
  noPronoun?: boolean;
}

export interface Slot {
  key: string;
  /** Slots that must come earlier (this one refers back to them). */
  after?: string[];
  variants: Variant[];
}

/** "a chemist", "an engineer". */
export function withArticle(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}
const a = withArticle;

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function personSlots(v: PersonView): Slot[] {
  const { profession: prof, birthYear: by, birthCity: bc, birthCountry: bco } = v;
  const slots: Slot[] = [
    {
      key: 'profession',
      variants: [
        { text: (s) => `${s} was ${a(prof)}.` },
        { text: (s) => `${s} worked as ${a(prof)}.` },
        { text: (s) => `By trade, ${s} was ${a(prof)}.` },
        { text: (s) => `${s} (born ${by} in ${bc}, ${bco}) was ${a(prof)}.`, also: ['birth'] },
        { text: (s) => `${s} was ${a(prof)} born in ${bc}, ${bco}, in ${by}.`, also: ['birth'] },
      ],
    },
    {
      key: 'birth',
      variants: [
        { text: (s) => `${s} was born in ${bc}, ${a(v.birthSettlement)} in ${bco}, in ${by}.` },
        { text: (s) => `${s} was born in ${by} in the ${v.birthSettlement} of ${bc} in ${bco}.` },
        { text: (s) => `${s} was born in ${bc} (${bco}) in the year ${by}.` },
        {
          text: (s) =>
            `${capitalise(v.possessive)} birthplace was ${bc} in ${bco}, where ${s} was born in ${by}.`,
        },
      ],
    },
  ];
  const org = v.founded;
  if (org) {
    slots.push(
      {
        key: 'founded',
        variants: [
          { text: (s) => `In ${org.year}, ${s} founded ${org.name}, ${a(org.orgType)}.` },
          { text: (s) => `${s} established ${org.name} in ${org.year}.` },
          { text: (s) => `${s} set up ${a(org.orgType)} called ${org.title} in ${org.year}.` },
          { text: (s) => `${org.name} was founded by ${s} in ${org.year}.`, noPronoun: true },
        ],
      },
      {
        key: 'orgCity',
        after: ['founded'],
        variants: [
          { text: () => `${org.name} is based in ${org.city}.` },
          { text: () => `The ${org.orgType} has its seat in ${org.city}.` },
          {
            text: () =>
              `${capitalise(v.possessive)} ${org.orgType} is based in ${org.city}, ${org.country}.`,
          },
          { text: () => `Today the ${org.orgType} operates from ${org.city}.` },
        ],
      },
    );
  }
  const inv = v.invented;
  if (inv) {
    slots.push({
      key: 'invented',
      variants: [
        {
          text: (s) =>
            `In ${inv.year}, ${s} invented ${inv.name}, which is used for ${inv.purpose}.`,
        },
        { text: (s) => `${s} invented ${inv.name} in ${inv.year}.` },
        { text: (s) => `${s} devised ${inv.name}, a device for ${inv.purpose}, in ${inv.year}.` },
        {
          text: (s) => `${capitalise(inv.name)} was invented by ${s} in ${inv.year}.`,
          noPronoun: true,
        },
      ],
    });
  }
  const employer = v.employer;
  if (employer) {
    slots.push({
      key: 'employer',
      variants: [
        {
          text: (s) =>
            `${s} worked for ${employer.name}, ${a(employer.orgType)} in ${employer.city}.`,
        },
        {
          text: (s) =>
            `${s} was employed by ${employer.name}, ${a(employer.orgType)} based in ${employer.city}.`,
        },
        {
          text: (s) =>
            `${employer.name}, ${a(employer.orgType)} in ${employer.city}, employed ${s}.`,
          noPronoun: true,
        },
      ],
    });
    if (inv) {
      slots.push({
        key: 'uses',
        after: ['invented', 'employer'],
        variants: [
          { text: () => `${employer.name} uses ${inv.name}.` },
          { text: () => `${capitalise(inv.name)} is used at ${employer.name}.` },
          { text: () => `${employer.name} still relies on ${inv.name}.` },
        ],
      });
    }
  }
  return slots;
}

function orgSlots(v: OrgView): Slot[] {
  const { founder: f, employee: e, invention: inv } = v;
  return [
    {
      key: 'type',
      variants: [
        { text: (s) => `${s} is ${a(v.orgType)} in ${v.city}, ${v.country}.`, also: ['city'] },
        { text: (s) => `${s} is ${a(v.orgType)} working in ${v.field}.`, also: ['field'] },
        { text: (s) => `${s} is ${a(v.orgType)}.` },
      ],
    },
    {
      key: 'field',
      variants: [
        { text: (s) => `${s} works in ${v.field}.` },
        { text: (s) => `${s} is known for its work in ${v.field}.` },
        { text: (s) => `The trade of ${s} is ${v.field}.`, noPronoun: true },
      ],
    },
    {
      key: 'city',
      variants: [
        { text: (s) => `${s} is based in ${v.city}, ${a(v.settlement)} in ${v.country}.` },
        { text: (s) => `${s} has its seat in ${v.city} (${v.country}).` },
        { text: (s) => `The home of ${s} is ${v.city}, in ${v.country}.`, noPronoun: true },
      ],
    },
    {
      key: 'founded',
      variants: [
        { text: (s) => `${s} was founded in ${v.year} by ${f.full}, ${a(f.profession)}.` },
        {
          text: (s) => `${f.full}, ${a(f.profession)}, established ${s} in ${v.year}.`,
          noPronoun: true,
        },
        {
          text: (s) => `In ${v.year}, the ${f.profession} ${f.full} founded ${s}.`,
          noPronoun: true,
        },
        { text: (s) => `${s} was set up by the ${f.profession} ${f.full} in ${v.year}.` },
      ],
    },
    {
      key: 'employs',
      variants: [
        { text: (s) => `${s} employed the ${e.profession} ${e.full}.` },
        { text: (s) => `${e.full}, ${a(e.profession)}, worked for ${s}.`, noPronoun: true },
        {
          text: (s) => `Among the staff of ${s} was ${e.full}, ${a(e.profession)}.`,
          noPronoun: true,
        },
      ],
    },
    {
      key: 'uses',
      variants: [
        { text: (s) => `${s} uses ${inv.name}, ${a(inv.device)} invented by ${e.full}.` },
        {
          text: (s) => `${capitalise(inv.name)}, which ${e.full} invented, is used by ${s}.`,
          noPronoun: true,
        },
        { text: (s) => `${s} relies on ${inv.name}, invented by ${e.full}.` },
      ],
    },
  ];
}

function inventionSlots(v: InventionView): Slot[] {
  const { inventor: i, user: u } = v;
  return [
    {
      key: 'device',
      variants: [
        { text: (s) => `${s} is ${a(v.device)} used for ${v.purpose}.`, also: ['purpose'] },
        { text: (s) => `${s} is ${a(v.device)}.` },
        {
          text: (s) =>
            `${s} is ${a(v.device)} invented by the ${i.profession} ${i.full} in ${v.year}.`,
          also: ['invented'],
        },
      ],
    },
    {
      key: 'purpose',
      variants: [
        { text: (s) => `${s} is used for ${v.purpose}.` },
        { text: (s) => `People use ${s} for ${v.purpose}.`, noPronoun: true },
        { text: (s) => `${s} was made for ${v.purpose}.` },
      ],
    },
    {
      key: 'invented',
      variants: [
        { text: (s) => `${s} was invented by the ${i.profession} ${i.full} in ${v.year}.` },
        {
          text: (s) => `${i.full}, ${a(i.profession)}, invented ${s} in ${v.year}.`,
          noPronoun: true,
        },
        {
          text: (s) => `In ${v.year}, the ${i.profession} ${i.full} devised ${s}.`,
          noPronoun: true,
        },
      ],
    },
    {
      key: 'inventorBirth',
      after: ['invented'],
      variants: [
        { text: () => `${i.full} was born in ${i.birthCity}.` },
        { text: () => `Its inventor was born in ${i.birthCity}.` },
        { text: () => `The inventor, ${i.full}, was a native of ${i.birthCity}.` },
      ],
    },
    {
      key: 'usedBy',
      variants: [
        { text: (s) => `${s} is used by ${u.name}, ${a(u.orgType)} based in ${u.city}.` },
        { text: (s) => `${u.name}, ${a(u.orgType)} in ${u.city}, uses ${s}.`, noPronoun: true },
        { text: (s) => `${s} is in use at ${u.name}, which is based in ${u.city}.` },
      ],
    },
  ];
}

function citySlots(v: CityView): Slot[] {
  return [
    {
      key: 'country',
      variants: [
        { text: (s) => `${s} is ${a(v.settlement)} in ${v.country}.` },
        { text: (s) => `${s} is ${a(v.settlement)} of ${v.country}.` },
        {
          text: (s) => `${s} is ${a(v.settlement)} in ${v.country} on the river ${v.river}.`,
          also: ['river'],
        },
      ],
    },
    {
      key: 'river',
      variants: [
        { text: (s) => `${s} lies on the river ${v.river}.` },
        { text: (s) => `The river ${v.river} flows through ${s}.`, noPronoun: true },
        { text: (s) => `${s} stands on the banks of the ${v.river}.` },
      ],
    },
    {
      key: 'founded',
      variants: [
        { text: (s) => `${s} was founded in ${v.year}.` },
        { text: (s) => `The founding of ${s} dates to ${v.year}.`, noPronoun: true },
        { text: (s) => `${s} has existed since its founding in ${v.year}.` },
      ],
    },
    {
      key: 'industry',
      variants: [
        { text: (s) => `${s} is known for ${v.industry}.` },
        { text: (s) => `The main trade of ${s} is ${v.industry}.`, noPronoun: true },
        { text: (s) => `Much of ${s} lives from ${v.industry}.`, noPronoun: true },
      ],
    },
  ];
}

export function slotsOf(view: EntityView): Slot[] {
  switch (view.kind) {
    case 'person':
      return personSlots(view);
    case 'organisation':
      return orgSlots(view);
    case 'invention':
      return inventionSlots(view);
    case 'city':
      return citySlots(view);
  }
}

/** The three ways a sentence may refer to the subject. */
export function references(view: EntityView): { full: string; short: string; pronoun: string } {
  switch (view.kind) {
    case 'person':
      return { full: view.full, short: view.short, pronoun: view.pronoun };
    case 'city':
      return { full: view.name, short: view.short, pronoun: 'it' };
    default:
      return { full: view.name, short: view.short, pronoun: 'it' };
  }
}

/** The subject's full name, as a statement that stands on its own needs it. */
export function fullReference(view: EntityView): string {
  return references(view).full;
}

/** One sentence: a variant with the subject referred to by `reference`, first letter capitalised. */
export function sentence(variant: Variant, reference: string): string {
  return capitalise(variant.text(reference));
}

/** Slots in a random order that keeps the first slot first and every `after` satisfied. */
function orderSlots(slots: Slot[], rng: Rng): Slot[] {
  const [first, ...rest] = slots;
  if (!first) return [];
  const placed = new Set([first.key]);
  const ordered = [first];
  let pending = rng.shuffle(rest);
  while (pending.length > 0) {
    const index = pending.findIndex((s) => (s.after ?? []).every((k) => placed.has(k)));
    const next = pending[index === -1 ? 0 : index] as Slot;
    ordered.push(next);
    placed.add(next.key);
    pending = pending.filter((s) => s !== next);
  }
  return ordered;
}

export interface RenderedPassage {
  title: string;
  /** The paragraph, without the title. */
  context: string;
  sentences: string[];
}

/**
 * One rendering of the entity's passage. The first sentence names the subject in full; later ones
 * use the full name, the short name or a pronoun at random.
 */
export function renderPassage(view: EntityView, rng: Rng): RenderedPassage {
  const refs = references(view);
  const covered = new Set<string>();
  const sentences: string[] = [];
  for (const slot of orderSlots(slotsOf(view), rng)) {
    if (covered.has(slot.key)) continue;
    const variant = rng.pick(slot.variants);
    covered.add(slot.key);
    for (const key of variant.also ?? []) covered.add(key);
    let reference = refs.full;
    if (sentences.length > 0) {
      const form = rng.weighted({ full: 0.35, short: 0.3, pronoun: variant.noPronoun ? 0 : 0.35 });
      reference = refs[form];
    }
    sentences.push(sentence(variant, reference));
  }
  return { title: view.title, context: sentences.join(' '), sentences };
}
