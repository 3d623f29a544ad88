import { describe, expect, it } from 'vitest';
import type { Tokenizer } from '../../src/engine/model/tokenizer';
import {
  parseDataset,
  parseJsonl,
  parsePlainText,
  tokenizeExamples,
} from '../../src/engine/train/dataset';

/** One token per character (its code), BOS = 1 added by encode, EOS = 2. */
const charTokenizer: Tokenizer = {
  encode: (text, { addSpecialTokens = true } = {}) => [
    ...(addSpecialTokens ? [1] : []),
    ...[...text].map((c) => c.charCodeAt(0)),
  ],
  decode: (ids) => String.fromCharCode(...ids.filter((id) => id > 2)),
  tokenToId: () => undefined,
  bosToken: '<s>',
  bosTokenId: 1,
  eosToken: '</s>',
  eosTokenId: 2,
  specialTokens: { bos_token: '<s>', eos_token: '</s>' },
};

describe('dataset parsing', () => {
  it('reads prompt/completion and text records, skipping blank lines', () => {
    const source = '{"prompt": "Q", "completion": "A"}\n\n{"text": "plain"}\r\n';
    expect(parseJsonl(source)).toEqual([{ prompt: 'Q', completion: 'A' }, { text: 'plain' }]);
  });

  it('names the file and line of a malformed record', () => {
    const good = '{"text": "fine"}';
    expect(() => parseJsonl(`${good}\n${good}\n{"text": "cut`, 'notes.jsonl')).toThrow(
      /^notes\.jsonl line 3: not valid JSON/,
    );
    expect(() => parseJsonl(`${good}\n[1, 2]`, 'a.jsonl')).toThrow(
      'a.jsonl line 2: expected an object, got an array',
    );
    expect(() => parseJsonl(`{"prompt": "Q"}`, 'a.jsonl')).toThrow(
      'a.jsonl line 1: "completion" must be a string, got nothing',
    );
    expect(() => parseJsonl(`{"text": 5}`, 'a.jsonl')).toThrow(
      'a.jsonl line 1: "text" must be a string, got a number',
    );
    expect(() => parseJsonl(`\n{"input": "x"}`, 'a.jsonl')).toThrow(
      'a.jsonl line 2: expected {"prompt", "completion"} or {"text"}, got keys ["input"]',
    );
  });

  it('refuses empty datasets', () => {
    expect(() => parseJsonl(' \n\n', 'empty.jsonl')).toThrow('empty.jsonl is empty');
    expect(() => parsePlainText('\n   \n')).toThrow('dataset.txt is empty');
    expect(() => tokenizeExamples([], charTokenizer, opts('all'))).toThrow('the dataset is empty');
  });

  it('splits plain text into paragraphs', () => {
    expect(parseDataset('one\ntwo\n\n  \nthree\n', 'text')).toEqual([
      { text: 'one\ntwo' },
      { text: 'three' },
    ]);
  });
});

function opts(lossOn: 'all' | 'completion', maxLength = 64) {
  return { lossOn, maxLength, overflow: 'truncate' as const };
}

describe('tokenization', () => {
  it('marks only completion tokens (and the closing EOS) as targets in completion mode', () => {
    const { sequences } = tokenizeExamples(
      [{ prompt: 'ab', completion: 'cd' }],
      charTokenizer,
      opts('completion'),
    );
    expect(sequences[0]!.ids).toEqual([1, 97, 98, 99, 100, 2]);
    expect(sequences[0]!.isTarget).toEqual([false, false, false, true, true, true]);
  });

  it('marks every token but the first in all-tokens mode and for plain text', () => {
    const { sequences } = tokenizeExamples(
      [{ prompt: 'ab', completion: 'c' }, { text: 'xy' }],
      charTokenizer,
      opts('all'),
    );
    expect(sequences[0]!.isTarget).toEqual([false, true, true, true, true]);
    expect(sequences[1]!.ids).toEqual([1, 120, 121, 2]);
    expect(sequences[1]!.isTarget).toEqual([false, true, true, true]);
  });

  it('truncates long sequences with a warning, or refuses them', () => {
    const long = { text: 'abcdefghij' };
    const { sequences, warnings } = tokenizeExamples([long], charTokenizer, opts('all', 5));
    expect(sequences[0]!.ids).toEqual([1, 97, 98, 99, 100]);
    expect(warnings).toEqual(['example 1: 12 tokens, truncated to 5']);
    expect(() =>
      tokenizeExamples([{ text: 'ok' }, long], charTokenizer, {
        ...opts('all', 5),
        overflow: 'refuse',
      }),
    ).toThrow('example 2 has 12 tokens, more than the limit of 5');
  });

  it('skips examples whose completion was cut away, and fails if none is left', () => {
    const examples = [{ prompt: 'abcdef', completion: 'x' }, { text: 'ok' }];
    const { sequences, warnings } = tokenizeExamples(
      examples,
      charTokenizer,
      opts('completion', 4),
    );
    expect(sequences).toHaveLength(1);
    expect(warnings).toContain('example 1: no tokens left to learn from, skipped');
    expect(() => tokenizeExamples([examples[0]!], charTokenizer, opts('completion', 4))).toThrow(
      'no example has any token to learn from',
    );
  });
});
