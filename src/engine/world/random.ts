/**
 * Seeded pseudo-random numbers for the world generator. Every stream is derived from a seed
 * string, so a world, its corpus and its tokenizer are reproducible byte for byte, and `fork`
 * gives independent streams whose values do not shift when another part draws more numbers.
 * It is its own generator (sfc32 seeded by a string hash), not ../random's mulberry32, because a
 * world must stay byte-identical to the one the shipped model was trained on.
 */
import { shuffled } from '../random';

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [lo, hi] (both inclusive). */
  between(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A new array with the items in random order. */
  shuffle<T>(items: readonly T[]): T[];
  /** A key of `weights`, drawn with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K;
  /** An independent stream named `label`, derived from this stream's seed (not its state). */
  fork(label: string): Rng;
}

/** cyrb128: spreads a string over four 32-bit words, the seed state of sfc32. */
function hashSeed(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export function createRng(seed: number | string): Rng {
  const seedText = String(seed);
  let [a, b, c, d] = hashSeed(seedText);
  // sfc32: small, fast, passes PractRand for the amounts drawn here.
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Warm up so that similar seeds diverge immediately.
  for (let i = 0; i < 12; i++) next();

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`rng.int needs a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };
  const rng: Rng = {
    next,
    int,
    between: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('rng.pick needs a non-empty list');
      return items[int(items.length)] as (typeof items)[number];
    },
    shuffle: (items) => shuffled(items, next),
    weighted: (weights) => {
      const entries = Object.entries(weights) as [keyof typeof weights, number][];
      const total = entries.reduce((sum, [, w]) => sum + Math.max(0, w), 0);
      if (!(total > 0)) throw new Error('rng.weighted needs at least one positive weight');
      let r = next() * total;
      for (const [key, w] of entries) {
        r -= Math.max(0, w);
        if (r < 0) return key;
      }
      return (entries.filter(([, w]) => w > 0).at(-1) as [keyof typeof weights, number])[0];
    },
    fork: (label) => createRng(`${seedText}/${label}`),
  };
  return rng;
}
