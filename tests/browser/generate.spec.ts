import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { parseModelConfig } from '../../src/engine/model/config';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/model/safetensors';
import { createTokenizer } from '../../src/engine/model/tokenizer';
import { parameterShapes } from '../../src/engine/model/weights';
import {
  FIXTURES,
  fixtureFiles,
  MODELS_PATH,
  openApp,
  readGoldens,
  serveModels,
  type Files,
  type PageWithEngine,
} from './helpers';

/**
 * WebGPU (SwiftShader here) against WASM and against transformers, all float32, absolute; logits
 * reach |33| in these models. What remains is summation order (RoPE angles come from a CPU table).
 */
const LOGITS_TOLERANCE = 1e-4;

/**
 * A model that writes `<svg onload=f()>` after the prompt "Q", whatever it is asked: the
 * embedding is the identity (hidden size = vocabulary), attention and MLP are zero so the
 * residual stream carries the last token alone, and lm_head maps each token of a chain to the
 * next. The chain spells the payload with distinct tokens, so each has one successor.
 */
const PAYLOAD = '<svg onload=f()>';
const PROMPT = 'Q';

interface MarkupModel {
  files: Files;
  chain: number[];
}

function markupModel(): MarkupModel {
  const files = fixtureFiles('tiny-qwen2');
  const tokenizerJson = JSON.parse(new TextDecoder().decode(files.get('tokenizer.json'))) as {
    model: { vocab: Record<string, number> };
    added_tokens: { id: number }[];
  };
  const tokenizer = createTokenizer(
    tokenizerJson,
    JSON.parse(new TextDecoder().decode(files.get('tokenizer_config.json'))),
  );
  const vocab =
    Math.max(
      ...Object.values(tokenizerJson.model.vocab),
      ...tokenizerJson.added_tokens.map((t) => t.id),
    ) + 1;
  const [promptToken] = tokenizer.encode(PROMPT);
  const pieces = Array.from({ length: vocab }, (_, id) => ({ id, text: tokenizer.decode([id]) }));
  const spelling = spellWithDistinctTokens(
    PAYLOAD,
    pieces.filter((p) => p.text !== ''),
  );
  const end = tokenizer.eosTokenId!;
  const chain = [promptToken!, ...spelling, end];
  expect(new Set(chain).size).toBe(chain.length);

  const configJson = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocab,
    hidden_size: vocab,
    intermediate_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    num_key_value_heads: 1,
    head_dim: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: 128,
    tie_word_embeddings: false,
    bos_token_id: null,
    eos_token_id: end,
  };
  const tensors = parameterShapes(parseModelConfig(configJson)).map(([name, shape]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name === 'model.embed_tokens.weight')
      for (let i = 0; i < vocab; i++) data[i * vocab + i] = 1;
    if (name.endsWith('norm.weight')) data.fill(1);
    if (name === 'lm_head.weight') {
      for (let i = 0; i + 1 < chain.length; i++) data[chain[i + 1]! * vocab + chain[i]!] = 1;
    }
    return { name, shape, data };
  });
  return {
    chain,
    files: new Map([
      ['config.json', new TextEncoder().encode(JSON.stringify(configJson))],
      ['model.safetensors', serializeSafetensors(tensors)],
      ['tokenizer.json', files.get('tokenizer.json')!],
      ['tokenizer_config.json', files.get('tokenizer_config.json')!],
    ]),
  };
}

/** Token ids, none repeated, whose texts concatenate to `text` (depth-first search). */
function spellWithDistinctTokens(text: string, pieces: { id: number; text: string }[]): number[] {
  const used: number[] = [];
  const search = (position: number): boolean => {
    if (position === text.length) return true;
    for (const piece of pieces) {
      if (used.includes(piece.id) || !text.startsWith(piece.text, position)) continue;
      used.push(piece.id);
      if (search(position + piece.text.length)) return true;
      used.pop();
    }
    return false;
  };
  if (!search(0)) throw new Error(`the vocabulary cannot spell ${text} with distinct tokens`);
  return used;
}

interface BackendRun {
  logits: number[];
  greedy: number[];
  sampled: number[][];
  promptTokens: number;
}

test('generation on WebGPU matches WASM and transformers on the reference models', async ({
  page,
}) => {
  const folders = ['tiny-llama3', 'tiny-qwen2'];
  await serveModels(page, Object.fromEntries(folders.map((f) => [f, fixtureFiles(f)])));
  await openApp(page);

  for (const folder of folders) {
    const goldens = readGoldens(folder);
    const golden = parseSafetensors(
      new Uint8Array(readFileSync(join(FIXTURES, folder, 'goldens.safetensors'))),
      'goldens.safetensors',
    ).readFloat32('logits');
    const tokenizer = createTokenizer(
      JSON.parse(readFileSync(join(FIXTURES, folder, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(FIXTURES, folder, 'tokenizer_config.json'), 'utf8')),
    );
    const ids = goldens.input_ids[0]!;
    const prompt = tokenizer.decode(ids);
    expect(tokenizer.encode(prompt)).toEqual(ids);

    const runs = await page.evaluate(
      async ({ folder, ids, prompt, path }) => {
        const { engine } = (window as unknown as PageWithEngine).seal;
        const out: Record<string, BackendRun> = {};
        for (const backend of ['webgpu', 'wasm'] as const) {
          await engine.init(backend);
          await engine.model.load(`load-${folder}-${backend}`, {
            kind: 'url',
            baseUrl: `${location.origin}${path}${folder}/`,
          });
          const logits = await engine.logits([ids]);
          const request = {
            prompts: [{ kind: 'completion' as const, text: prompt }],
            maxNewTokens: 10,
            stopStrings: [],
          };
          const greedy = await engine.generate(`greedy-${backend}`, {
            ...request,
            samplesPerPrompt: 1,
            sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 },
          });
          const sampled = await engine.generate(`sampled-${backend}`, {
            ...request,
            samplesPerPrompt: 3,
            sampling: { temperature: 1, topK: 0, topP: 1, seed: 5 },
          });
          out[backend] = {
            logits: Array.from(logits.values),
            greedy: greedy.sequences[0]!.tokens,
            sampled: sampled.sequences.map((s) => s.tokens),
            promptTokens: greedy.promptTokenCounts[0]!,
          };
        }
        await engine.init('webgpu');
        return out;
      },
      { folder, ids, prompt, path: MODELS_PATH },
    );
    const { webgpu, wasm } = runs as Record<'webgpu' | 'wasm', BackendRun>;
    const vocab = webgpu.logits.length / ids.length;
    const maxDifference = (a: number[], b: ArrayLike<number>) =>
      Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
    expect(maxDifference(webgpu.logits, wasm.logits), folder).toBeLessThan(LOGITS_TOLERANCE);
    expect(maxDifference(webgpu.logits, golden.subarray(0, ids.length * vocab))).toBeLessThan(
      LOGITS_TOLERANCE,
    );
    expect(webgpu.promptTokens).toBe(ids.length);
    expect(webgpu.greedy).toEqual(goldens.greedy_continuation[0]);
    expect(wasm.greedy).toEqual(goldens.greedy_continuation[0]);
    expect(webgpu.sampled).toEqual(wasm.sampled);
  }
});

test('GPU memory and tensors stay flat over repeated generations on WebGPU', async ({ page }) => {
  await serveModels(page, { 'tiny-qwen2': fixtureFiles('tiny-qwen2') });
  await openApp(page);
  const memory = await page.evaluate(async (path) => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    await engine.init('webgpu');
    await engine.model.load('load', {
      kind: 'url',
      baseUrl: `${location.origin}${path}tiny-qwen2/`,
    });
    const generateOnce = (seed: number) =>
      engine.generate(`leak-${seed}`, {
        prompts: [{ kind: 'completion', text: 'The fox jumps over the dog.' }],
        samplesPerPrompt: 3,
        maxNewTokens: 6,
        sampling: { temperature: 1, topK: 0, topP: 0.9, seed },
      });
    // The first generations fill the buffer pool with every size a generation needs.
    await generateOnce(1);
    await generateOnce(2);
    const before = await engine.memory();
    for (let seed = 3; seed < 6; seed++) await generateOnce(seed);
    return { before, after: await engine.memory() };
  }, MODELS_PATH);
  expect(memory.before.gpuBytes).toBeGreaterThan(0);
  expect(memory.after.gpuBytes).toBe(memory.before.gpuBytes);
  // A generation gives back the buffers it freed: the device keeps only what is in use.
  expect(memory.after.gpuPooledBytes).toBe(0);
  expect(memory.after.numTensors).toBe(memory.before.numTensors);
  expect(memory.after.numBytes).toBe(memory.before.numBytes);
});

test('the Generate panel streams model output as text, never as markup', async ({ page }) => {
  const model = markupModel();
  await serveModels(page, { markup: model.files });
  await openApp(page);
  await page.evaluate(async (path) => {
    const seal = window as unknown as PageWithEngine & { f?: () => void; markupRan?: boolean };
    seal.f = () => {
      seal.markupRan = true;
    };
    await seal.seal.engine.model.load('load', {
      kind: 'url',
      baseUrl: `${location.origin}${path}markup/`,
    });
  }, MODELS_PATH);

  await page.getByRole('tab', { name: 'Generate' }).click();
  await page.getByTestId('generate-prompt').fill(PROMPT);
  await page.getByLabel('Temperature').fill('0');
  await page.getByTestId('generate-run').click();
  await expect(page.getByTestId('generate-stats')).toBeVisible();

  await expect(page.getByTestId('generate-output')).toHaveText(PAYLOAD);
  await expect(
    page.getByText(`${model.chain.length - 1} tokens, stopped at end of sequence`),
  ).toBeVisible();
  expect(await page.locator('svg[onload], img[onerror]').count()).toBe(0);
  expect(await page.getByRole('tabpanel').locator('svg, img').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { markupRan?: boolean }).markupRan)).toBe(
    undefined,
  );
});

test('generation can be cancelled from the Generate panel', async ({ page }) => {
  await serveModels(page, { markup: markupModel().files });
  await openApp(page);
  await page.evaluate(async (path) => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    await engine.model.load('load', { kind: 'url', baseUrl: `${location.origin}${path}markup/` });
  }, MODELS_PATH);
  await page.getByRole('tab', { name: 'Generate' }).click();
  // A prompt outside the chain: the model then never ends a sequence by itself.
  await page.getByTestId('generate-prompt').fill('Z');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max new tokens').fill('120');
  await page.getByTestId('generate-run').click();
  await page.getByTestId('generate-cancel').click();
  await expect(page.getByTestId('generate-message')).toHaveText('Cancelled.');
  await expect(page.getByTestId('generate-run')).toBeEnabled();
});
