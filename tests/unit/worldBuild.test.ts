import { describe, expect, it } from 'vitest';
import { buildWorld } from '../../src/engine/world/build';

const small = {
  world: { cities: 12, pretrainClusters: 30, rlClusters: 5, evalClusters: 5, scratchClusters: 20 },
  corpus: { documents: 800 },
  vocabSize: 600,
};

const bytes = (seed: number) => {
  const b = buildWorld(seed, small);
  return {
    world: JSON.stringify(b.world.entities),
    squad: JSON.stringify(b.squad),
    corpus: JSON.stringify(b.corpus),
    tokenizer: JSON.stringify(b.tokenizer),
  };
};

describe('buildWorld', () => {
  it('gives identical world, contexts, corpus and tokenizer bytes for a seed, other bytes for another', () => {
    const a = bytes(5);
    const again = bytes(5);
    const other = bytes(6);
    for (const key of ['world', 'squad', 'corpus', 'tokenizer'] as const) {
      expect(again[key]).toBe(a[key]);
      expect(other[key]).not.toBe(a[key]);
    }
  });

  it('exports the QA, probe, RL and evaluation contexts of the splits', () => {
    const b = buildWorld(5, small);
    expect(b.squad.rl.length).toBe(b.world.splits.rl.length);
    expect(b.squad.eval.length).toBe(20);
    expect(b.squad.pretrainQa.length + b.squad.pretrainProbe.length).toBe(
      b.world.splits.pretrain.length,
    );
    expect(b.corpusStats.documents).toBe(800);
    expect(Object.keys(b.tokenizer.model.vocab).length).toBe(600);
  });
});
