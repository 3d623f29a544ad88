/**
 * The puzzle model's tokenizer: byte-level BPE (world/tokenizer.ts) whose only merges make the
 * puzzle markers, the recipe's keys and values and the JSON punctuation between them single
 * tokens. No merge joins digits or newlines, so every cell of a grid is exactly one token and
 * every row break one more: the model reads a grid cell by cell, as a person does.
 */
import { trainTokenizer, type TokenizerJson } from '../world/tokenizer';
import { RECIPE_KEYS, RECIPE_LOSSES } from './recipe';
import { PUZZLE_MARKERS } from './text';

/** Each piece as the GPT-2 pre-tokenizer cuts it out of a prompt or a recipe's text. */
const MERGED_PIECES = [
  ...Object.values(PUZZLE_MARKERS),
  ...RECIPE_KEYS,
  ...RECIPE_LOSSES,
  'true',
  'false',
  '{"',
  '":',
  '":"',
  ',"',
  '","',
];

/** Far above the merges the pieces need; training stops when every piece is one token. */
const VOCABULARY_CEILING = 1024;

/**
 * The tokenizer.json of the puzzle model: 4 special tokens, 256 bytes and the merges of the pieces
 * above (46 of them: 306 tokens in all); a recipe is then 31–35 tokens. Deterministic; ship it
 * with world/tokenizer.ts's tokenizerConfigJson.
 */
export function buildPuzzleTokenizer(): TokenizerJson {
  // One piece a line, so no merge spans two; twice over, since BPE merges only pairs seen twice.
  const corpus = MERGED_PIECES.join('\n');
  return trainTokenizer([corpus, corpus], { vocabSize: VOCABULARY_CEILING });
}
