/**
 * Seeded randomness for every random choice the engine makes on the CPU, so a seed reproduces a
 * run. The generator is mulberry32 (public domain, 32-bit state): tiny, fast, and good enough for
 * sampling and shuffling; it is not for cryptography.
 */

/** Returns uniform numbers in [0, 1). */
export type Random = () => number;

export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new Error(`a random seed must be a finite number, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A new array with the items in an order drawn from `random` (Fisher–Yates, last item first). */
export function shuffled<T>(items: readonly T[], random: Random): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

/**
 * A seed for the `index`-th independent stream under `seed` (e.g. one per sampled sequence), so
 * that stream `i` does not depend on how many streams there are. Mixing is murmur3's finalizer.
 */
export function streamSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
