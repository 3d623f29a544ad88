/** Loads the reference checkpoints under tests/fixtures/models/ and their transformers goldens. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../../src/engine/model/config';
import { parseSafetensors } from '../../src/engine/model/safetensors';
import { createTokenizer, type Tokenizer } from '../../src/engine/model/tokenizer';
import { loadModelWeights, type ModelWeights } from '../../src/engine/model/weights';

export const FIXTURES = join(import.meta.dirname, '../fixtures/models');

export const MODEL_FIXTURES = [
  'tiny-llama',
  'tiny-llama-f16',
  'tiny-llama3',
  'tiny-qwen2',
  'tiny-qwen2-bf16',
  'tiny-qwen2-sharded',
];

export interface Goldens {
  stored_dtype: string;
  input_ids: number[][];
  padded_input_ids: number[][];
  padded_attention_mask: number[][];
  greedy_continuation: number[][];
  /** transformers' float32 logits [B, T, V] for input_ids and for the padded inputs. */
  logits: Float32Array;
  paddedLogits: Float32Array;
}

export interface FixtureModel {
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer;
  generationConfig: { eos_token_id?: number | number[] };
  goldens: Goldens;
}

function read(folder: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, folder, file)));
}

function readJson<T>(folder: string, file: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, folder, file), 'utf8')) as T;
}

function weightFiles(folder: string): string[] {
  if (existsSync(join(FIXTURES, folder, 'model.safetensors'))) return ['model.safetensors'];
  return readdirSync(join(FIXTURES, folder))
    .filter((name) => /^model-\d+-of-\d+\.safetensors$/.test(name))
    .sort();
}

export async function loadFixtureModel(folder: string): Promise<FixtureModel> {
  const config = parseModelConfig(readJson(folder, 'config.json'));
  const files = weightFiles(folder).map((file) => parseSafetensors(read(folder, file), file));
  const { weights } = await loadModelWeights(config, files);
  const goldenTensors = parseSafetensors(
    read(folder, 'goldens.safetensors'),
    'goldens.safetensors',
  );
  return {
    config,
    weights,
    tokenizer: createTokenizer(
      readJson(folder, 'tokenizer.json'),
      readJson(folder, 'tokenizer_config.json'),
    ),
    generationConfig: readJson(folder, 'generation_config.json'),
    goldens: {
      ...readJson<Omit<Goldens, 'logits' | 'paddedLogits'>>(folder, 'goldens.json'),
      logits: goldenTensors.readFloat32('logits'),
      paddedLogits: goldenTensors.readFloat32('padded_logits'),
    },
  };
}

/** Largest |a - b| over the entries where `include(index)` holds. */
export function maxAbsDifference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  include: (index: number) => boolean = () => true,
): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (include(i)) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  }
  return max;
}
