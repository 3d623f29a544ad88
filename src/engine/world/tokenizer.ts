/**
 * A byte-level BPE tokenizer trained on the world's text, written as a standard `tokenizer.json`
 * (the GPT-2 family's layout, which both the Rust `tokenizers` library and
 * `@huggingface/tokenizers` read). Byte level means every string can be encoded: a held-out name
 * never seen in training falls apart into the syllable pieces and letters learned from the others,
 * never into `<unk>`.
 */

export const SPECIAL_TOKENS = { unk: '<unk>', bos: '<s>', eos: '</s>', pad: '<pad>' } as const;

/** Special tokens in id order: unk 0, bos 1, eos 2, pad 3 (the Llama convention for the first three). */
const SPECIALS_IN_ORDER = [
  SPECIAL_TOKENS.unk,
  SPECIAL_TOKENS.bos,
  SPECIAL_TOKENS.eos,
  SPECIAL_TOKENS.pad,
];

/** The pre-tokenizer split of GPT-2 (what the ByteLevel pre-tokenizer applies with use_regex). */
const PRETOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const SPECIAL_SPLIT = new RegExp(
  SPECIALS_IN_ORDER.map((t) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'),
  'g',
);

/** GPT-2's reversible map from bytes to printable characters. */
function byteAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const chars: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    chars[b] = String.fromCharCode(printable.includes(b) ? b : 256 + extra++);
  }
  return chars;
}

export interface TokenizerTrainingOptions {
  /** Total vocabulary: 4 special tokens + 256 bytes + merges. */
  vocabSize: number;
}

export const DEFAULT_VOCAB_SIZE = 2048;

/** The parts of tokenizer.json this module writes (enough for both readers). */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  normalizer: null;
  pre_tokenizer: object;
  post_processor: object;
  decoder: object;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: string;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/** Counts of pre-tokens (as byte-alphabet strings) over the texts, special tokens left out. */
function pretokenCounts(texts: Iterable<string>): Map<string, number> {
  const alphabet = byteAlphabet();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of text.split(SPECIAL_SPLIT)) {
      for (const match of piece.matchAll(PRETOKEN)) {
        const word = match[0];
        counts.set(word, (counts.get(word) ?? 0) + 1);
      }
    }
  }
  const mapped = new Map<string, number>();
  for (const [word, count] of counts) {
    const chars = Array.from(encoder.encode(word), (b) => alphabet[b] as string).join('');
    mapped.set(chars, (mapped.get(chars) ?? 0) + count);
  }
  return mapped;
}

/**
 * Learns BPE merges: repeatedly joins the most frequent adjacent pair of symbols (ties broken by
 * the earliest-created pair), the classic algorithm, with pair counts updated only for the words a
 * merge touches. Deterministic for the same texts.
 */
export function trainTokenizer(
  texts: Iterable<string>,
  options: TokenizerTrainingOptions = { vocabSize: DEFAULT_VOCAB_SIZE },
): TokenizerJson {
  const { vocabSize } = options;
  const base = SPECIALS_IN_ORDER.length + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize > 65_535) {
    throw new Error(`tokenizer vocabSize must be an integer in [${base}, 65535], got ${vocabSize}`);
  }
  const alphabet = byteAlphabet();
  const symbols: string[] = [...SPECIALS_IN_ORDER, ...alphabet];
  const idOfChar = new Map(alphabet.map((c, i) => [c, SPECIALS_IN_ORDER.length + i]));

  const words: { ids: number[]; count: number }[] = [];
  for (const [word, count] of pretokenCounts(texts)) {
    words.push({ ids: Array.from(word, (c) => idOfChar.get(c) as number), count });
  }
  const KEY = 65_536;
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const { ids, count } = words[w] as { ids: number[]; count: number };
    for (let i = 0; i + 1 < ids.length; i++) {
      const key = (ids[i] as number) * KEY + (ids[i + 1] as number);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * count);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));

  const merges: string[] = [];
  while (symbols.length < vocabSize) {
    let bestKey = -1;
    let bestCount = 1;
    for (const [key, count] of pairCounts) {
      if (count > bestCount) {
        bestKey = key;
        bestCount = count;
      }
    }
    if (bestKey < 0) break; // nothing left that occurs twice
    const left = Math.floor(bestKey / KEY);
    const right = bestKey % KEY;
    const merged = symbols.length;
    symbols.push((symbols[left] as string) + (symbols[right] as string));
    merges.push(`${symbols[left]} ${symbols[right]}`);
    for (const w of pairWords.get(bestKey) ?? []) {
      const word = words[w] as { ids: number[]; count: number };
      addPairs(w, -1);
      const next: number[] = [];
      for (let i = 0; i < word.ids.length; i++) {
        if (word.ids[i] === left && word.ids[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(word.ids[i] as number);
      }
      word.ids = next;
      addPairs(w, 1);
    }
    pairWords.delete(bestKey);
    pairCounts.delete(bestKey);
  }

  const vocab: Record<string, number> = {};
  symbols.forEach((s, i) => (vocab[s] = i));
  const byteLevel = {
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS_IN_ORDER.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    // Like Llama, encoding with special tokens puts <s> in front; documents carry their own </s>.
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: {
        [SPECIAL_TOKENS.bos]: { id: SPECIAL_TOKENS.bos, ids: [1], tokens: [SPECIAL_TOKENS.bos] },
      },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** tokenizer_config.json to ship beside tokenizer.json. */
export function tokenizerConfigJson(modelMaxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    unk_token: SPECIAL_TOKENS.unk,
    pad_token: SPECIAL_TOKENS.pad,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
  };
}
