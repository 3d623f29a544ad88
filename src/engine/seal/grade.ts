/**
 * Grading short answers as the SQuAD evaluation script does: both strings are normalised
 * (lower case, punctuation deleted, the articles "a", "an", "the" dropped, whitespace collapsed),
 * then compared whole (exact match) or as bags of words (token F1).
 */

export type GradeMetric = 'exact-match' | 'f1';

/** ASCII punctuation, the set Python's string.punctuation holds. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(PUNCTUATION, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .join(' ');
}

function words(text: string): string[] {
  const normalized = normalizeAnswer(text);
  return normalized === '' ? [] : normalized.split(' ');
}

/** 1 when the normalised answers are equal, else 0. */
export function exactMatch(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

/**
 * Harmonic mean of precision and recall of the normalised words, each counted as often as it
 * occurs in both; when either side has no words, 1 if both have none, else 0.
 */
export function tokenF1(prediction: string, gold: string): number {
  const predicted = words(prediction);
  const expected = words(gold);
  if (predicted.length === 0 || expected.length === 0) {
    return predicted.length === expected.length ? 1 : 0;
  }
  const remaining = new Map<string, number>();
  for (const word of expected) remaining.set(word, (remaining.get(word) ?? 0) + 1);
  let common = 0;
  for (const word of predicted) {
    const left = remaining.get(word) ?? 0;
    if (left > 0) {
      common += 1;
      remaining.set(word, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / predicted.length;
  const recall = common / expected.length;
  return (2 * precision * recall) / (precision + recall);
}

export function gradeAnswer(metric: GradeMetric, prediction: string, gold: string): number {
  switch (metric) {
    case 'exact-match':
      return exactMatch(prediction, gold);
    case 'f1':
      return tokenF1(prediction, gold);
    default:
      throw new Error(`unknown grading metric "${String(metric)}" (known: exact-match, f1)`);
  }
}
