/**
 * The text of generated ids as it reads after the prompt, built up token by token. Decoding the
 * new ids on their own loses text: SentencePiece-style decoders drop the first token's leading
 * space (" there" comes out as "there"), and a token can end halfway through a UTF-8 character.
 * So each new token is decoded together with a few tokens before it, the text those few decode to
 * on their own is taken off, and text is only added once it no longer ends in a broken character:
 * the incremental detokenization of Hugging Face's text streamers and vLLM. Each step decodes a
 * handful of tokens, however long the sequence has grown.
 */

/** Prompt tokens kept as context in front of the first new one. */
const CONTEXT_TOKENS = 5;
const REPLACEMENT_CHARACTER = '\uFFFD';

export class IncrementalText {
  private readonly ids: number[];
  /** `ids` from `prefixStart` to `readStart` decode to text that is already accounted for. */
  private prefixStart = 0;
  private readStart: number;
  private prefixText: string;
  /** The text so far, without a trailing broken character. */
  text = '';

  constructor(
    private readonly decode: (ids: number[]) => string,
    prompt: readonly number[],
  ) {
    this.ids = prompt.slice(-CONTEXT_TOKENS);
    this.readStart = this.ids.length;
    this.prefixText = decode(this.ids);
  }

  /** Adds a token; returns the text so far. */
  push(token: number): string {
    this.ids.push(token);
    const decoded = this.decode(this.ids.slice(this.prefixStart));
    if (decoded.length > this.prefixText.length && !decoded.endsWith(REPLACEMENT_CHARACTER)) {
      this.text += textAfter(this.prefixText, decoded);
      this.prefixStart = this.readStart;
      this.readStart = this.ids.length;
      this.prefixText = this.decode(this.ids.slice(this.prefixStart, this.readStart));
    }
    return this.text;
  }

  /** The whole text, a trailing broken character included: for when the sequence has ended. */
  finish(): string {
    return this.text + textAfter(this.prefixText, this.decode(this.ids.slice(this.prefixStart)));
  }
}

/**
 * What `decoded` adds to `prefix`. It normally starts with `prefix`; where a character broken at
 * the end of `prefix` was completed, the text from the first difference on is new.
 */
function textAfter(prefix: string, decoded: string): string {
  if (decoded.startsWith(prefix)) return decoded.slice(prefix.length);
  let same = 0;
  while (same < prefix.length && prefix[same] === decoded[same]) same += 1;
  return decoded.slice(same);
}
