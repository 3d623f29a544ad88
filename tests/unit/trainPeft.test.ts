import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { parseModelConfig } from '../../src/engine/model/config';
import { forward } from '../../src/engine/model/llama';
import {
  parseSafetensors,
  serializeSafetensors,
  type NamedFloat32Tensor,
} from '../../src/engine/model/safetensors';
import { disposeModelWeights, loadModelWeights } from '../../src/engine/model/weights';
import { LoraAdapter } from '../../src/engine/train/lora';
import {
  ADAPTER_WEIGHTS_FILE,
  exportMergedModel,
  exportPeftAdapter,
  importPeftAdapter,
  type AdapterFiles,
} from '../../src/engine/train/peft';
import type { TrainableModel } from '../../src/engine/train/sft';
// The logits are checked with the wasm kernels training uses in place.

function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../fixtures/${path}`, import.meta.url)));
}

function fixtureText(path: string): string {
  return new TextDecoder().decode(fixture(path));
}

async function loadFixtureModel(name: string): Promise<TrainableModel> {
  const config = parseModelConfig(JSON.parse(fixtureText(`models/${name}/config.json`)));
  const file = parseSafetensors(fixture(`models/${name}/model.safetensors`), 'model.safetensors');
  return { config, weights: (await loadModelWeights(config, [file])).weights };
}

const PEFT_DIR = 'peft/tiny-qwen2-lora';
const peftFiles = (): AdapterFiles => ({
  config: fixtureText(`${PEFT_DIR}/adapter_config.json`),
  weights: fixture(`${PEFT_DIR}/adapter_model.safetensors`),
});

/** The PEFT fixture with `patch` laid over its config and its tensors passed through `edit`. */
function editedPeftFiles(
  patch: object,
  edit: (tensors: NamedFloat32Tensor[]) => NamedFloat32Tensor[] = (tensors) => tensors,
): AdapterFiles {
  const { config, weights } = peftFiles();
  const file = parseSafetensors(weights, ADAPTER_WEIGHTS_FILE);
  const tensors = [...file.entries.values()].map(({ name, shape }) => ({
    name,
    shape,
    data: file.readFloat32(name),
  }));
  return {
    config: JSON.stringify({ ...JSON.parse(config), ...patch }),
    weights: serializeSafetensors(edit(tensors), { format: 'pt' }),
  };
}

/** The module the import reads last, so that a fault there comes after every other module. */
const LAST_MODULE = 'base_model.model.model.layers.1.self_attn.v_proj';

const inputIds: number[][] = JSON.parse(fixtureText(`${PEFT_DIR}/expected.json`)).input_ids;

async function logits(model: TrainableModel, adapter?: LoraAdapter): Promise<Float32Array> {
  const result = tf.tidy(() =>
    forward(model.config, model.weights, tf.tensor2d(inputIds, undefined, 'int32'), { adapter }),
  );
  const values = (await result.data()) as Float32Array;
  result.dispose();
  return values;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((worst, value, i) => Math.max(worst, Math.abs(value - b[i]!)), 0);
}

let model: TrainableModel;

beforeAll(async () => {
  await selectBackend('wasm');
  model = await loadFixtureModel('tiny-qwen2');
});

describe('PEFT adapter files', () => {
  it('loads an adapter saved by PEFT and reproduces its logits', async () => {
    const expected = parseSafetensors(fixture(`${PEFT_DIR}/expected.safetensors`), 'expected');
    const adapter = importPeftAdapter(peftFiles(), model.weights);
    // PEFT writes target_modules from a Python set, in no fixed order.
    expect([...adapter.settings.targets].sort()).toEqual(['down_proj', 'q_proj', 'v_proj']);
    expect(adapter.settings).toMatchObject({ rank: 4, alpha: 12, dropout: 0.05 });
    expect(adapter.modules.size).toBe(6);
    const withAdapter = await logits(model, adapter);
    const peftLogits = expected.readFloat32('logits');
    const baseLogits = expected.readFloat32('base_logits');
    // The adapter moves logits by whole units; ours agree with PEFT's to float32 precision.
    expect(maxDifference(peftLogits, baseLogits)).toBeGreaterThan(1);
    expect(maxDifference(withAdapter, peftLogits)).toBeLessThan(2e-4);
    expect(maxDifference(await logits(model), baseLogits)).toBeLessThan(2e-4);
    adapter.dispose();
  });

  it('round-trips export → import to identical logits, with PEFT names and config keys', async () => {
    const adapter = LoraAdapter.create(
      model.weights,
      { targets: ['q_proj', 'k_proj', 'gate_proj'], rank: 3, alpha: 7, dropout: 0.1 },
      5,
    );
    for (const { b } of adapter.modules.values()) {
      b.assign(tf.randomNormal(b.shape, 0, 0.5, 'float32', 6));
    }
    const files = await exportPeftAdapter(adapter, 'tiny-qwen2');
    const config = JSON.parse(files.config);
    const peftConfig = JSON.parse(peftFiles().config);
    expect(Object.keys(config).sort()).toEqual(Object.keys(peftConfig).sort());
    expect(config).toMatchObject({
      r: 3,
      lora_alpha: 7,
      lora_dropout: 0.1,
      target_modules: ['q_proj', 'k_proj', 'gate_proj'],
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      bias: 'none',
      base_model_name_or_path: 'tiny-qwen2',
    });
    const names = [...parseSafetensors(files.weights, 'adapter').entries.keys()];
    expect(names).toContain('base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight');
    expect(names).toContain('base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight');
    expect(names).toHaveLength(12);
    const peftNames = [...parseSafetensors(peftFiles().weights, 'peft').entries.keys()];
    const pattern =
      /^base_model\.model\.model\.layers\.\d+\.(self_attn|mlp)\.\w+\.lora_[AB]\.weight$/;
    expect([...names, ...peftNames].every((name) => pattern.test(name))).toBe(true);

    const imported = importPeftAdapter(files, model.weights);
    expect(await logits(model, imported)).toEqual(await logits(model, adapter));
    [adapter, imported].forEach((a) => a.dispose());
  });

  it('refuses adapters this engine cannot apply, saying why', () => {
    const withConfig = (patch: object) => editedPeftFiles(patch);
    expect(() => importPeftAdapter(withConfig({ use_dora: true }), model.weights)).toThrow(
      'adapter_config.json: "use_dora" asks for DoRA, which this engine does not support',
    );
    expect(() => importPeftAdapter(withConfig({ peft_type: 'IA3' }), model.weights)).toThrow(
      'peft_type is "IA3", only "LORA" loads',
    );
    expect(() => importPeftAdapter(withConfig({ r: 8 }), model.weights)).toThrow(
      'expected [8, in] and [out, 8]',
    );
    expect(() => importPeftAdapter({ ...peftFiles(), config: '{' }, model.weights)).toThrow(
      'adapter_config.json: not valid JSON',
    );
  });

  it('refuses an adapter_config.json with wrong types or targets, naming the field', () => {
    const cases: [object, string][] = [
      [{ r: '4' }, '"r" must be a whole number ≥ 1, got "4"'],
      [{ r: 0 }, '"r" must be a whole number ≥ 1, got 0'],
      [{ lora_alpha: null }, '"lora_alpha" must be a number > 0, got null'],
      [{ lora_dropout: 1 }, '"lora_dropout" must be a number in [0, 1), got 1'],
      [{ target_modules: 'q_proj' }, '"target_modules" must be a list of the projections'],
      [{ target_modules: [] }, '"target_modules" must be a list of the projections'],
      [{ target_modules: ['q_proj', 'embed_tokens'] }, 'got ["q_proj","embed_tokens"]'],
      [{ target_modules: ['q_proj', 'q_proj'] }, 'must be a list that names each projection once'],
      [{ bias: 'all' }, '"bias" is "all", only "none" is supported'],
    ];
    for (const [patch, message] of cases) {
      expect(() => importPeftAdapter(editedPeftFiles(patch), model.weights)).toThrow(message);
    }
    const withoutRank = JSON.parse(peftFiles().config) as Record<string, unknown>;
    delete withoutRank.r;
    expect(() =>
      importPeftAdapter({ ...peftFiles(), config: JSON.stringify(withoutRank) }, model.weights),
    ).toThrow('adapter_config.json: "r" is missing');
    expect(() => importPeftAdapter({ ...peftFiles(), config: '[]' }, model.weights)).toThrow(
      'adapter_config.json: expected a JSON object',
    );
  });

  const embedTokens = (tensors: NamedFloat32Tensor[]): NamedFloat32Tensor[] => {
    const { hiddenSize, vocabSize } = model.config;
    const a = { shape: [4, hiddenSize], data: new Float32Array(4 * hiddenSize).fill(0.5) };
    const b = { shape: [vocabSize, 4], data: new Float32Array(vocabSize * 4).fill(0.5) };
    return [
      ...tensors,
      { name: 'base_model.model.model.embed_tokens.lora_A.weight', ...a },
      { name: 'base_model.model.model.embed_tokens.lora_B.weight', ...b },
    ];
  };
  const withValue = (name: string, value: number) => (tensors: NamedFloat32Tensor[]) =>
    tensors.map((tensor) => {
      if (tensor.name !== name) return tensor;
      const data = tensor.data.slice();
      data[3] = value;
      return { ...tensor, data };
    });
  // Built when each case runs: the embedding sizes come from the model `beforeAll` loads.
  const refusedImports: [string, () => AdapterFiles, string][] = [
    [
      'B of another rank than A and r (today a matMul error once it generates)',
      () =>
        editedPeftFiles({}, (tensors) =>
          tensors.map((tensor) =>
            tensor.name === `${LAST_MODULE}.lora_B.weight`
              ? { ...tensor, shape: [16, 5], data: new Float32Array(80) }
              : tensor,
          ),
        ),
      "'model.layers.1.self_attn.v_proj' has A [4, 32] and B [16, 5], expected [4, in] and [out, 4]",
    ],
    [
      'a module without its B',
      () =>
        editedPeftFiles({}, (tensors) =>
          tensors.filter((tensor) => tensor.name !== `${LAST_MODULE}.lora_B.weight`),
        ),
      "'model.layers.1.self_attn.v_proj' has no lora_B weight",
    ],
    [
      'a NaN weight',
      () => editedPeftFiles({}, withValue(`${LAST_MODULE}.lora_A.weight`, Number.NaN)),
      `'${LAST_MODULE}.lora_A.weight' holds NaN at element 3; an adapter's weights must be finite`,
    ],
    [
      'an infinite weight',
      () => editedPeftFiles({}, withValue(`${LAST_MODULE}.lora_B.weight`, -Infinity)),
      `'${LAST_MODULE}.lora_B.weight' holds -Infinity at element 3`,
    ],
    [
      'a module on the embeddings, which LoRA does not apply (but a merge would)',
      () => editedPeftFiles({}, embedTokens),
      "adapter module 'model.embed_tokens' is not one LoRA applies to (the q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj linears of the decoder layers)",
    ],
    [
      'a module of a projection target_modules does not name',
      () => editedPeftFiles({ target_modules: ['q_proj', 'down_proj'] }),
      "adapter module 'model.layers.0.self_attn.v_proj' is a v_proj, which the adapter's targets (q_proj, down_proj) do not name",
    ],
  ];
  it.each(refusedImports)('refuses %s and leaves no tensor behind', (_case, files, message) => {
    const adapterFiles = files();
    const before = tf.memory().numTensors;
    expect(() => importPeftAdapter(adapterFiles, model.weights)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses to merge or check an adapter with a module on the embeddings', () => {
    const { hiddenSize, vocabSize } = model.config;
    const adapter = LoraAdapter.fromTensors(
      { targets: ['q_proj'], rank: 2, alpha: 2, dropout: 0 },
      [
        {
          path: 'model.embed_tokens',
          a: tf.ones([2, hiddenSize]) as tf.Tensor2D,
          b: tf.ones([vocabSize, 2]) as tf.Tensor2D,
        },
      ],
    );
    const embeddings = model.weights.get('model.embed_tokens.weight')!;
    const before = embeddings.dataSync().slice();
    expect(() => adapter.mergeInto(model.weights)).toThrow(
      "adapter module 'model.embed_tokens' is not one LoRA applies to",
    );
    expect(embeddings.dataSync()).toEqual(before);
    adapter.dispose();
  });

  it('refuses an adapter made for a differently shaped model', async () => {
    const llama = await loadFixtureModel('tiny-llama3');
    const before = tf.memory().numTensors;
    try {
      expect(() => importPeftAdapter(peftFiles(), llama.weights)).toThrow(
        /^adapter for 'model\.layers\.\d\.\S+' is \[\d+×\d+\], the model's linear is \[\d+×\d+\]$/,
      );
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      disposeModelWeights(llama.weights);
    }
  });
});

describe('merged model export', () => {
  it('writes the Hub layout, loading back to base + adapter logits', async () => {
    const adapter = importPeftAdapter(peftFiles(), model.weights);
    const withAdapter = await logits(model, adapter);
    const before = tf.memory().numTensors;
    const files = await exportMergedModel(model.config, model.weights, adapter);
    expect(tf.memory().numTensors).toBe(before);
    const config = parseModelConfig(JSON.parse(files.config));
    expect(config).toEqual(model.config);
    const file = parseSafetensors(files.weights, 'model.safetensors');
    const merged = { config, weights: (await loadModelWeights(config, [file])).weights };
    expect(maxDifference(await logits(merged), withAdapter)).toBeLessThan(2e-4);
    disposeModelWeights(merged.weights);
    adapter.dispose();
  });

  it('merges in place: merged logits == base + adapter logits', async () => {
    const own = await loadFixtureModel('tiny-qwen2');
    const adapter = importPeftAdapter(peftFiles(), own.weights);
    const withAdapter = await logits(own, adapter);
    adapter.mergeInto(own.weights);
    expect(maxDifference(await logits(own), withAdapter)).toBeLessThan(2e-4);
    adapter.dispose();
    disposeModelWeights(own.weights);
  });
});
