/**
 * Training data: JSONL of {prompt, completion} or {text} records, or plain text, turned into
 * token sequences with a per-token flag saying whether the loss looks at it.
 */
import type { Tokenizer } from '../model/tokenizer';

export type TrainingExample = { prompt: string; completion: string } | { text: string };

export type DatasetFormat = 'jsonl' | 'text';

/** 'completion': only completion tokens are learned; 'all': every token after the first. */
export type LossOn = 'completion' | 'all';

export interface TokenizedSequence {
  ids: number[];
  /** isTarget[t]: whether predicting token t (from the tokens before it) counts in the loss. */
  isTarget: boolean[];
}

export interface TokenizeOptions {
  lossOn: LossOn;
  /** Longest sequence kept, in tokens. */
  maxLength: number;
  /** What to do with longer ones: cut them (with a warning) or refuse the dataset. */
  overflow: 'truncate' | 'refuse';
}

export interface TokenizedDataset {
  sequences: TokenizedSequence[];
  /** One line per truncated or dropped example. */
  warnings: string[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

function parseRecord(line: string, where: string): TrainingExample {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected an object, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  if ('text' in record) {
    if (typeof record.text !== 'string') {
      throw new Error(`${where}: "text" must be a string, got ${describe(record.text)}`);
    }
    return { text: record.text };
  }
  if ('prompt' in record || 'completion' in record) {
    for (const field of ['prompt', 'completion'] as const) {
      if (typeof record[field] !== 'string') {
        throw new Error(
          `${where}: "${field}" must be a string, got ${field in record ? describe(record[field]) : 'nothing'}`,
        );
      }
    }
    return { prompt: record.prompt as string, completion: record.completion as string };
  }
  throw new Error(
    `${where}: expected {"prompt", "completion"} or {"text"}, got keys ${JSON.stringify(Object.keys(record))}`,
  );
}

/** Every non-blank line is one record; any bad line fails the whole file, naming its line. */
export function parseJsonl(source: string, fileName = 'dataset.jsonl'): TrainingExample[] {
  const examples: TrainingExample[] = [];
  source.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    examples.push(parseRecord(line, `${fileName} line ${index + 1}`));
  });
  if (examples.length === 0) throw new Error(`${fileName} is empty: it has no records`);
  return examples;
}

/** Paragraphs (separated by blank lines) become one plain-text example each. */
export function parsePlainText(source: string, fileName = 'dataset.txt'): TrainingExample[] {
  const examples = source
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph !== '')
    .map((text) => ({ text }));
  if (examples.length === 0) throw new Error(`${fileName} is empty: it has no text`);
  return examples;
}

export function parseDataset(
  source: string,
  format: DatasetFormat,
  fileName?: string,
): TrainingExample[] {
  return format === 'jsonl' ? parseJsonl(source, fileName) : parsePlainText(source, fileName);
}

/**
 * Prompt and completion are tokenized separately and joined, so the boundary between what is
 * given and what is learned is exact; an end-of-sequence token closes every example so the model
 * also learns where to stop.
 */
export function tokenizeExamples(
  examples: TrainingExample[],
  tokenizer: Tokenizer,
  { lossOn, maxLength, overflow }: TokenizeOptions,
): TokenizedDataset {
  if (examples.length === 0) throw new Error('the dataset is empty');
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new Error(`the longest sequence must be at least 2 tokens, got ${maxLength}`);
  }
  const eos = tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId];
  const sequences: TokenizedSequence[] = [];
  const warnings: string[] = [];
  examples.forEach((example, index) => {
    const name = `example ${index + 1}`;
    let given: number[];
    let learned: number[];
    if ('text' in example) {
      given = [];
      learned = [...tokenizer.encode(example.text), ...eos];
    } else {
      given = tokenizer.encode(example.prompt);
      learned = [...tokenizer.encode(example.completion, { addSpecialTokens: false }), ...eos];
    }
    let ids = [...given, ...learned];
    let isTarget = ids.map((_, t) => t > 0 && (lossOn === 'all' || t >= given.length));
    if (ids.length > maxLength) {
      if (overflow === 'refuse') {
        throw new Error(`${name} has ${ids.length} tokens, more than the limit of ${maxLength}`);
      }
      warnings.push(`${name}: ${ids.length} tokens, truncated to ${maxLength}`);
      ids = ids.slice(0, maxLength);
      isTarget = isTarget.slice(0, maxLength);
    }
    if (!isTarget.some(Boolean)) {
      warnings.push(`${name}: no tokens left to learn from, skipped`);
      return;
    }
    sequences.push({ ids, isTarget });
  });
  if (sequences.length === 0) throw new Error('no example has any token to learn from');
  return { sequences, warnings };
}
