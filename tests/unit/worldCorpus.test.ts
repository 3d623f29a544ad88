import { describe, expect, it } from 'vitest';
import { contextOf } from '../../src/engine/world/contexts';
import {
  DEFAULT_CORPUS_PARAMS,
  corpusStats,
  estimateTokens,
  generateCorpus,
  type DocumentKind,
} from '../../src/engine/world/corpus';
import { generateWorld } from '../../src/engine/world/generate';
import { SPECIAL_TOKENS } from '../../src/engine/world/tokenizer';
import type { Entity, World } from '../../src/engine/world/types';

const world = generateWorld(3);
const docs = generateCorpus(world, { documents: 4000 });

/** The words that name an entity uniquely (family names and invented name parts). */
function uniqueNameWords(w: World, ids: readonly string[]): Set<string> {
  return new Set(
    ids.map((id) => {
      const e = w.byId.get(id) as Entity;
      return e.kind === 'person' ? e.familyName : e.kind === 'city' ? e.name : e.coreName;
    }),
  );
}

function wordsOf(text: string): string[] {
  return text.match(/[A-Za-z]+/g) ?? [];
}

describe('pretraining corpus', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const again = generateCorpus(generateWorld(3), { documents: 300 });
    expect(again.map((d) => d.text)).toEqual(docs.slice(0, 300).map((d) => d.text));
    const other = generateCorpus(generateWorld(4), { documents: 300 });
    expect(other.map((d) => d.text)).not.toEqual(again.map((d) => d.text));
  });

  it('never mentions an RL or evaluation entity', () => {
    const heldOut = uniqueNameWords(world, [...world.splits.rl, ...world.splits.eval]);
    const fullNames = [...world.splits.rl, ...world.splits.eval].map(
      (id) => world.byId.get(id)!.name,
    );
    const splits = new Set(docs.map((doc) => world.byId.get(doc.entityId)?.split));
    expect([...splits].sort()).toEqual(['pretrain', 'scratch']);
    const leaked = docs.flatMap((doc) => wordsOf(doc.text).filter((word) => heldOut.has(word)));
    expect(leaked).toEqual([]);
    const all = docs.map((d) => d.text).join('\n');
    for (const name of fullNames.slice(0, 200)) expect(all.includes(name)).toBe(false);
  });

  it('mentions probe entities only in plain passages (their QA is never trained)', () => {
    const probe = uniqueNameWords(world, world.splits.pretrainProbe);
    const leaked = docs
      .filter((d) => d.kind !== 'passage')
      .flatMap((doc) => wordsOf(doc.text).filter((word) => probe.has(word)));
    expect(leaked).toEqual([]);
    const inPassages = docs
      .filter((d) => d.kind === 'passage')
      .flatMap((doc) => wordsOf(doc.text).filter((word) => probe.has(word)));
    expect(inPassages.length).toBeGreaterThan(0);
    const qa = new Set(world.splits.pretrainQa);
    for (const doc of docs.filter((d) => d.kind === 'closedBook'))
      expect(qa.has(doc.entityId)).toBe(true);
  });

  it('follows the mix proportions and ends every document with the end token', () => {
    const stats = corpusStats(docs);
    const total = Object.values(DEFAULT_CORPUS_PARAMS.mix).reduce((a, b) => a + b, 0);
    for (const [kind, weight] of Object.entries(DEFAULT_CORPUS_PARAMS.mix)) {
      const share = stats.byKind[kind as DocumentKind].documents / stats.documents;
      expect(Math.abs(share - weight / total)).toBeLessThan(0.03);
    }
    const only = generateCorpus(world, {
      documents: 200,
      mix: { passage: 0, closedBook: 1, reading: 0, selfEdit: 0 },
    });
    expect(new Set(only.map((d) => d.kind))).toEqual(new Set(['closedBook']));
    for (const doc of docs) {
      expect(doc.text.endsWith(SPECIAL_TOKENS.eos)).toBe(true);
      expect(doc.text.indexOf(SPECIAL_TOKENS.eos)).toBe(
        doc.text.length - SPECIAL_TOKENS.eos.length,
      );
    }
    expect(estimateTokens(docs)).toBeGreaterThan(stats.characters / 6);
  });

  it('shows each pretraining fact in several surface forms', () => {
    const small = generateWorld(5, {
      cities: 10,
      pretrainClusters: 20,
      rlClusters: 2,
      evalClusters: 2,
      scratchClusters: 5,
    });
    const passages = generateCorpus(small, { documents: 1000 }).filter((d) => d.kind === 'passage');
    // Round-robin: every pretraining entity gets its share of passages, each freshly worded.
    const share = Math.floor(passages.length / small.splits.pretrain.length);
    expect(share).toBeGreaterThanOrEqual(2);
    for (const id of small.splits.pretrain) {
      const renderings = new Set(passages.filter((d) => d.entityId === id).map((d) => d.text));
      expect(renderings.size, id).toBeGreaterThanOrEqual(share);
    }
  });

  it('uses the shared prompt shapes: closed-book, reading and every self-edit format', () => {
    const closed = docs.find((d) => d.kind === 'closedBook')!;
    expect(closed.text).toMatch(
      /^Answer the question briefly and directly\.\nQuestion: .+\?\nAnswer: .+\n/,
    );
    const reading = docs.find((d) => d.kind === 'reading')!;
    expect(reading.text).toMatch(
      /^Read the passage .*\n\nPassage:\n.+\n.+\n\nQuestion: .+\nAnswer: .+\n/,
    );
    const formats = new Set(docs.filter((d) => d.kind === 'selfEdit').map((d) => d.format));
    expect(formats.size).toBe(6);
    const answers = contextOf(world, world.splits.pretrainQa[0] as string).questions.length;
    expect(answers).toBeGreaterThanOrEqual(5);
  });

  it('rejects bad corpus params', () => {
    expect(() => generateCorpus(world, { documents: -1 })).toThrow(/documents/);
    expect(() => generateCorpus(world, { novelShare: 2 })).toThrow(/novelShare/);
    expect(() => generateCorpus(world, { questionsPerReading: [3, 1] })).toThrow(
      /questionsPerReading/,
    );
  });
});
