import type { Rng } from './random';

/**
 * Pronounceable invented names built from syllables. A name is drawn at most once per world, so a
 * name identifies its entity, and a held-out entity's name can never turn up in text about another.
 */

const ONSETS = [
  'b',
  'br',
  'd',
  'dr',
  'f',
  'g',
  'gr',
  'h',
  'k',
  'kr',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  'sk',
  'st',
  't',
  'th',
  'tr',
  'v',
  'z',
  'j',
  'c',
  'w',
] as const;
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ai', 'ei', 'ou', 'y'] as const;
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'm', 'th', 'nd', 'rk', 'lt'] as const;

/**
 * English words a syllable name could spell by accident. Names equal to one of them (or to a word
 * of the world's own vocabulary, passed in by the generator) are rejected, so a name is never
 * mistaken for a word.
 */
const ENGLISH_LOOKALIKES = new Set(
  `a an and are as at be but by can do for from go had has he her him his how if in is it its me
   my no not of on or our out she so that the them then there they this to up us was we were what
   when where which who why will with you baron salon melon lemon talon canon wagon bacon demon
   tenor manor minor major river lotus basin denim cabin robin venus mars rome paris lima oslo
   bern rio nile seine tiber volga ganges congo delta sigma omega data alpha beta gamma`.split(
    /\s+/,
  ),
);

function syllable(rng: Rng, withCoda: boolean): string {
  return rng.pick(ONSETS) + rng.pick(VOWELS) + (withCoda ? rng.pick(CODAS) : '');
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

export class NameForge {
  private readonly taken = new Set<string>();

  constructor(
    private readonly rng: Rng,
    reservedWords: Iterable<string> = [],
  ) {
    for (const word of ENGLISH_LOOKALIKES) this.taken.add(word);
    for (const word of reservedWords) this.taken.add(word.toLowerCase());
  }

  /** A name of `syllables` syllables (the last may close with a consonant) that is not yet taken. */
  fresh(syllables: 2 | 3 = 2): string {
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const parts: string[] = [];
      for (let i = 0; i < syllables; i++) parts.push(syllable(this.rng, i === syllables - 1));
      const word = parts.join('');
      if (word.length < 4 || word.length > 9 || /(.)\1\1/.test(word)) continue;
      if (this.taken.has(word)) continue;
      this.taken.add(word);
      return capitalise(word);
    }
    throw new Error('NameForge ran out of fresh names: enlarge the syllable inventory');
  }

  /** Marks a name as used, so `fresh` never returns it. */
  reserve(name: string): void {
    this.taken.add(name.toLowerCase());
  }
}
