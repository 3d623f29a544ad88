/**
 * Text ↔ token ids for a checkpoint, from its `tokenizer.json` (the fast-tokenizer file that holds
 * the vocabulary, merges, normalizer and post-processor) and `tokenizer_config.json` (special
 * tokens and whether BOS/EOS are added). The heavy lifting is `@huggingface/tokenizers`, a
 * JavaScript port of the Rust library the checkpoints were saved with.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

export interface Tokenizer {
  /** With `addSpecialTokens` (the default) BOS/EOS are added as the checkpoint asks. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Special tokens are left out unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  tokenToId(token: string): number | undefined;
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosToken: string | null;
  readonly eosTokenId: number | null;
  /** Every special token by its text (for chat templates: `bos_token`, `eos_token`, …). */
  readonly specialTokens: Record<string, string>;
  /** The two files it was built from, so another thread can build the same tokenizer. */
  readonly source?: TokenizerSource;
}

export interface TokenizerSource {
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `tokenizer_config.json` writes a special token either as its text or as an AddedToken record. */
function specialTokenText(value: unknown, field: string, fileName: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  throw new Error(`${fileName}: '${field}' must be a string or an object with 'content'`);
}

function optionalBoolean(config: JsonObject, field: string, fileName: string): boolean | null {
  const value = config[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'boolean') throw new Error(`${fileName}: '${field}' must be true or false`);
  return value;
}

export function createTokenizer(
  tokenizerJson: unknown,
  tokenizerConfig: unknown,
  fileNames = { tokenizer: 'tokenizer.json', config: 'tokenizer_config.json' },
): Tokenizer {
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
    throw new Error(`${fileNames.tokenizer}: expected a tokenizer object with a 'model' section`);
  }
  const config = tokenizerConfig ?? {};
  if (!isObject(config)) throw new Error(`${fileNames.config}: expected a JSON object`);
  // Added (special) tokens alone encode no ordinary text: it would all be dropped.
  const vocab = tokenizerJson.model.vocab;
  const vocabSize = Array.isArray(vocab)
    ? vocab.length
    : isObject(vocab)
      ? Object.keys(vocab).length
      : 0;
  if (vocabSize === 0) {
    throw new Error(
      `${fileNames.tokenizer}: model.vocab is missing or empty, so no text could be encoded`,
    );
  }

  let inner: HfTokenizer;
  try {
    inner = new HfTokenizer(tokenizerJson, config);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${fileNames.tokenizer}: cannot build the tokenizer: ${reason}`);
  }

  const specialTokens: Record<string, string> = {};
  for (const field of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const text = specialTokenText(config[field], field, fileNames.config);
    if (text !== null) specialTokens[field] = text;
  }
  const idOf = (field: string): number | null => {
    const text = specialTokens[field];
    if (text === undefined) return null;
    const id = inner.token_to_id(text);
    if (id === undefined) {
      throw new Error(
        `${fileNames.config}: '${field}' is '${text}', which is not in the vocabulary`,
      );
    }
    return id;
  };
  const bosTokenId = idOf('bos_token');
  const eosTokenId = idOf('eos_token');
  // Llama tokenizers rebuild their post-processor from these flags, so they override
  // whatever template tokenizer.json carries.
  const addBos = optionalBoolean(config, 'add_bos_token', fileNames.config);
  const addEos = optionalBoolean(config, 'add_eos_token', fileNames.config);

  return {
    encode(text, { addSpecialTokens = true } = {}) {
      const ids = inner.encode(text, { add_special_tokens: addSpecialTokens }).ids;
      if (!addSpecialTokens) return ids;
      // Only a token the template added is taken away: one the text itself holds stays.
      if (bosTokenId !== null && addBos !== null) {
        const hasBos = ids[0] === bosTokenId;
        if (addBos && !hasBos) ids.unshift(bosTokenId);
        if (!addBos && hasBos && !text.startsWith(specialTokens.bos_token!)) ids.shift();
      }
      if (eosTokenId !== null && addEos !== null) {
        const hasEos = ids[ids.length - 1] === eosTokenId;
        if (addEos && !hasEos) ids.push(eosTokenId);
        if (!addEos && hasEos && !text.endsWith(specialTokens.eos_token!)) ids.pop();
      }
      return ids;
    },
    decode(ids, { skipSpecialTokens = true } = {}) {
      // Embeddings are often padded past the tokenizer's vocabulary, so a model can produce ids
      // that name no token; some decoders crash on them, so they decode to nothing.
      const known = ids.filter((id) => inner.id_to_token(id) !== undefined);
      return inner.decode(known, { skip_special_tokens: skipSpecialTokens });
    },
    tokenToId(token) {
      return inner.token_to_id(token);
    },
    bosToken: specialTokens.bos_token ?? null,
    bosTokenId,
    eosToken: specialTokens.eos_token ?? null,
    eosTokenId,
    specialTokens,
    source: { tokenizerJson, tokenizerConfig },
  };
}
