import { describe, expect, it } from 'vitest';
import { exactMatch, gradeAnswer, normalizeAnswer, tokenF1 } from '../../src/engine/seal/grade';

describe('SQuAD answer normalisation', () => {
  it('lower-cases, deletes punctuation, drops articles and collapses whitespace', () => {
    expect(normalizeAnswer('  The  Glassworks of Arden. ')).toBe('glassworks of arden');
    expect(normalizeAnswer("An inventor's loom!")).toBe('inventors loom');
    expect(normalizeAnswer('A-1 (1842)')).toBe('a1 1842');
    expect(normalizeAnswer('theatre and anthem')).toBe('theatre and anthem');
    expect(normalizeAnswer('...')).toBe('');
  });
});

describe('exact match', () => {
  it('compares normalised answers', () => {
    expect(exactMatch('the Velmar Shipyard.', 'Velmar shipyard')).toBe(1);
    expect(exactMatch('1842', '1843')).toBe(0);
    expect(exactMatch('Velmar Shipyard in Arden', 'Velmar Shipyard')).toBe(0);
  });
});

describe('token F1', () => {
  it('scores word overlap as the harmonic mean of precision and recall', () => {
    // 2 common words: precision 2/3, recall 2/2 → F1 0.8
    expect(tokenF1('Velmar Shipyard Arden', 'the Velmar Shipyard')).toBeCloseTo(0.8, 10);
    expect(tokenF1('glassmaking', 'glassmaking')).toBe(1);
    expect(tokenF1('loom', 'telescope')).toBe(0);
  });

  it('counts a repeated word only as often as the gold answer has it', () => {
    // common = 1 ("arden" once): precision 1/2, recall 1/1 → 2/3
    expect(tokenF1('arden arden', 'arden')).toBeCloseTo(2 / 3, 10);
  });

  it('gives 1 for two empty answers and 0 when only one is empty', () => {
    expect(tokenF1('the', 'a')).toBe(1);
    expect(tokenF1('', 'Arden')).toBe(0);
    expect(tokenF1('Arden', '.')).toBe(0);
  });
});

describe('gradeAnswer', () => {
  it('dispatches on the metric and refuses unknown ones', () => {
    expect(gradeAnswer('exact-match', 'The loom', 'loom')).toBe(1);
    expect(gradeAnswer('f1', 'old loom', 'loom')).toBeCloseTo(2 / 3, 10);
    expect(() => gradeAnswer('bleu' as never, 'a', 'b')).toThrow(/unknown grading metric "bleu"/);
  });
});
