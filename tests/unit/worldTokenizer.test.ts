import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { contextOf } from '../../src/engine/world/contexts';
import { generateCorpus } from '../../src/engine/world/corpus';
import { generateWorld } from '../../src/engine/world/generate';
import {
  SPECIAL_TOKENS,
  tokenizerConfigJson,
  trainTokenizer,
} from '../../src/engine/world/tokenizer';

const world = generateWorld(11);
const texts = generateCorpus(world, { documents: 1500 }).map((d) => d.text);
const json = trainTokenizer(texts, { vocabSize: 1024 });
const tokenizer = new Tokenizer(json, tokenizerConfigJson(1024));

describe('world tokenizer', () => {
  it('trains deterministically: same texts, same bytes; other texts, other merges', () => {
    expect(JSON.stringify(trainTokenizer(texts, { vocabSize: 1024 }))).toBe(JSON.stringify(json));
    const other = generateCorpus(generateWorld(12), { documents: 1500 }).map((d) => d.text);
    expect(JSON.stringify(trainTokenizer(other, { vocabSize: 1024 }))).not.toBe(
      JSON.stringify(json),
    );
  });

  it('has the requested vocabulary with the special tokens first', () => {
    expect(Object.keys(json.model.vocab).length).toBe(1024);
    expect(json.model.vocab[SPECIAL_TOKENS.unk]).toBe(0);
    expect(json.model.vocab[SPECIAL_TOKENS.bos]).toBe(1);
    expect(json.model.vocab[SPECIAL_TOKENS.eos]).toBe(2);
    expect(json.model.vocab[SPECIAL_TOKENS.pad]).toBe(3);
    expect(json.model.merges.length).toBe(1024 - 4 - 256);
  });

  it('round-trips the corpus exactly through @huggingface/tokenizers', () => {
    for (const text of texts.slice(0, 300)) {
      const { ids } = tokenizer.encode(text, { add_special_tokens: false });
      expect(tokenizer.decode(ids, { skip_special_tokens: false })).toBe(text);
    }
  });

  it('encodes </s> as one token, and puts <s> first when special tokens are added', () => {
    const { ids } = tokenizer.encode('Question: Who?\nAnswer: Nobody\n</s>');
    expect(ids[0]).toBe(1);
    expect(ids.at(-1)).toBe(2);
    expect(ids.filter((id) => id === 2).length).toBe(1);
    expect(tokenizer.encode('a b', { add_special_tokens: false }).ids[0]).not.toBe(1);
  });

  it('never produces <unk> for held-out names, and splits them into a few pieces', () => {
    let pieces = 0;
    let names = 0;
    for (const id of [...world.splits.eval, ...world.splits.rl]) {
      const c = contextOf(world, id);
      const { ids } = tokenizer.encode(`${c.title}\n${c.context}`, { add_special_tokens: false });
      expect(ids.includes(0)).toBe(false);
      for (const word of c.title.split(' ')) {
        pieces += tokenizer.encode(` ${word}`, { add_special_tokens: false }).ids.length;
        names += 1;
      }
    }
    expect(pieces / names).toBeLessThan(4);
    expect(tokenizer.encode('Zyxqv Ünïcødé ✓', { add_special_tokens: false }).ids.includes(0)).toBe(
      false,
    );
  });

  it('rejects an impossible vocabulary size', () => {
    expect(() => trainTokenizer(texts, { vocabSize: 100 })).toThrow(/vocabSize/);
  });
});
