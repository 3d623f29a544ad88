/**
 * `npx tsx scripts/export-peft-check.ts OUT_DIR`: trains a LoRA on tests/fixtures/models/tiny-qwen2
 * for a few steps (wasm), then writes under OUT_DIR
 *   adapter/        adapter_config.json + adapter_model.safetensors, as exported
 *   merged/         config.json + model.safetensors of the model with the adapter merged in
 *   logits.safetensors  `logits` of base + adapter for the input ids in
 *                       tests/fixtures/peft/tiny-qwen2-lora/expected.json
 * so that `scripts/make-peft-fixture.py --check OUT_DIR/adapter OUT_DIR/logits.safetensors` and
 * `--check-merged OUT_DIR/merged OUT_DIR/logits.safetensors` can confirm PEFT and transformers
 * load them and compute the same logits.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../src/engine/backend';
import { parseModelConfig } from '../src/engine/model/config';
import { forward } from '../src/engine/model/llama';
import { parseSafetensors, serializeSafetensors } from '../src/engine/model/safetensors';
import { loadModelWeights } from '../src/engine/model/weights';
import { LoraAdapter } from '../src/engine/train/lora';
import { exportMergedModel, exportPeftAdapter } from '../src/engine/train/peft';
import { DEFAULT_SFT_OPTIONS, trainSft } from '../src/engine/train/sft';

const out = process.argv[2];
if (!out) throw new Error('usage: tsx scripts/export-peft-check.ts OUT_DIR');
const fixtures = new URL('../tests/fixtures/', import.meta.url);
const read = (path: string) => new Uint8Array(readFileSync(new URL(path, fixtures)));

await selectBackend('wasm');
const config = parseModelConfig(
  JSON.parse(readFileSync(new URL('models/tiny-qwen2/config.json', fixtures), 'utf8')),
);
const file = parseSafetensors(read('models/tiny-qwen2/model.safetensors'), 'model.safetensors');
const model = { config, weights: (await loadModelWeights(config, [file])).weights };
const adapter = LoraAdapter.create(
  model.weights,
  { targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj'], rank: 4, alpha: 8, dropout: 0.1 },
  1,
);
const ids = Array.from({ length: 24 }, (_, i) => (i * 13 + 5) % 400);
const result = await trainSft(
  model,
  [{ ids, isTarget: ids.map((_, t) => t > 0) }],
  { kind: 'lora', adapter },
  { ...DEFAULT_SFT_OPTIONS, epochs: 20, learningRate: 1e-2 },
);
console.log(
  `trained 20 steps, loss ${result.losses[0]!.toFixed(3)} → ${result.losses.at(-1)!.toFixed(3)}`,
);

const inputIds: number[][] = JSON.parse(
  readFileSync(new URL('peft/tiny-qwen2-lora/expected.json', fixtures), 'utf8'),
).input_ids;
const logits = tf.tidy(() =>
  forward(config, model.weights, tf.tensor2d(inputIds, undefined, 'int32'), { adapter }),
);
const adapterFiles = await exportPeftAdapter(adapter, 'tiny-qwen2');
const merged = await exportMergedModel(config, model.weights, adapter);
for (const dir of ['adapter', 'merged']) mkdirSync(join(out, dir), { recursive: true });
writeFileSync(join(out, 'adapter', 'adapter_config.json'), adapterFiles.config);
writeFileSync(join(out, 'adapter', 'adapter_model.safetensors'), adapterFiles.weights);
writeFileSync(join(out, 'merged', 'config.json'), merged.config);
writeFileSync(join(out, 'merged', 'model.safetensors'), merged.weights);
writeFileSync(
  join(out, 'logits.safetensors'),
  serializeSafetensors([
    { name: 'logits', shape: logits.shape, data: (await logits.data()) as Float32Array },
  ]),
);
console.log(`wrote ${out}`);
