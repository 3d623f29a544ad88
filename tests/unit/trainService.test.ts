import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { isCancelledError, JobRegistry } from '../../src/engine/jobs';
import { parseModelConfig } from '../../src/engine/model/config';
import { generate } from '../../src/engine/model/generate';
import { GREEDY } from '../../src/engine/model/sampling';
import { parseSafetensors } from '../../src/engine/model/safetensors';
import { createTokenizer } from '../../src/engine/model/tokenizer';
import { disposeModelWeights, loadModelWeights } from '../../src/engine/model/weights';
import { FinetuneService, type TrainableLoadedModel } from '../../src/engine/train/service';
import { freshStore } from './storeHelpers';

const read = (path: string) =>
  readFileSync(new URL(`../fixtures/models/tiny-llama/${path}`, import.meta.url));

async function loadTinyLlama(id: string): Promise<TrainableLoadedModel> {
  const config = parseModelConfig(JSON.parse(read('config.json').toString('utf8')));
  const file = parseSafetensors(new Uint8Array(read('model.safetensors')), 'model.safetensors');
  const tokenizer = createTokenizer(
    JSON.parse(read('tokenizer.json').toString('utf8')),
    JSON.parse(read('tokenizer_config.json').toString('utf8')),
  );
  return { id, config, tokenizer, weights: (await loadModelWeights(config, [file])).weights };
}

let model: TrainableLoadedModel | null;
let service: FinetuneService;
let jobs: JobRegistry;

beforeAll(async () => {
  await selectBackend('wasm');
  model = await loadTinyLlama('tiny-llama');
  jobs = new JobRegistry();
  service = new FinetuneService(() => model, jobs);
});

const ALL_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const settings = { targets: ['q_proj', 'v_proj'], rank: 4, alpha: 8, dropout: 0 };

describe('fine-tuning service', () => {
  it('manages named adapters: create, clone, activate, reset, delete', async () => {
    const created = await service.createAdapter('a', settings, 1);
    expect(created).toMatchObject({ name: 'a', modules: 4, active: false });
    expect(created.parameters).toBe(2 * (4 * 32 + 32 * 4) + 2 * (4 * 32 + 16 * 4));
    await service.cloneAdapter('a', 'b');
    await service.activateAdapter('b');
    expect(service.activeAdapter()).not.toBeNull();
    expect((await service.listAdapters()).map((a) => [a.name, a.active])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    await expect(service.createAdapter('a', settings, 1)).rejects.toThrow(
      "an adapter named 'a' already exists",
    );
    await expect(service.resetAdapter('zzz', 1)).rejects.toThrow(
      "no adapter named 'zzz' (adapters: a, b)",
    );
    await service.deleteAdapter('b');
    expect(service.activeAdapter()).toBeNull();
    await service.deleteAdapter('a');
    expect(await service.listAdapters()).toEqual([]);
  });

  it('fine-tunes from JSONL, creating the adapter, with completion-only loss', async () => {
    const lines = [
      '{"prompt": "Q: capital of France?\\nA:", "completion": " Paris"}',
      '{"prompt": "Q: capital of Italy?\\nA:", "completion": " Rome"}',
    ];
    const progress: number[] = [];
    const result = await service.finetune(
      'ft',
      {
        dataset: { source: lines.join('\n'), format: 'jsonl', fileName: 'qa.jsonl' },
        method: { kind: 'lora', adapter: 'qa', settings, seed: 2 },
        lossOn: 'completion',
        options: { epochs: 30, batchSize: 2, learningRate: 2e-2, reportEvery: 10 },
      },
      (p) => progress.push(p.loss),
    );
    expect(result.examples).toBe(2);
    expect(result.steps).toBe(30);
    expect(progress).toHaveLength(30);
    expect(progress.at(-1)!).toBeLessThan(progress[0]! / 2);
    expect((await service.listAdapters()).map((a) => a.name)).toEqual(['qa']);
    await service.deleteAdapter('qa');
  });

  // The fixture's lm_head rows have norm ≈ 1 and its final norm keeps |h| ≈ √32, so no adapter
  // on the decoder layers can push a logit much past the 399 others: the loss floor is ≈ 1.2.
  // Memorising shows as greedy reproduction (the random-model tests bound the loss at 0.1).
  it('memorises a sentence (loss < 1.4), which greedy generation then reproduces', async () => {
    const text = 'Rivers carry water from the mountains to the sea.';
    const tokenizer = model!.tokenizer;
    const greedy = async () => {
      const prompt = tokenizer.encode('Rivers');
      const result = await generate(model!, [prompt], {
        maxNewTokens: tokenizer.encode(text).length,
        sampling: GREEDY,
        stopTokenIds: [tokenizer.eosTokenId!],
        adapter: service.activeAdapter() ?? undefined,
      });
      return tokenizer.decode([...prompt, ...result.sequences[0]!.tokens]);
    };
    expect(await greedy()).not.toBe(text);
    const result = await service.finetune('memorise', {
      dataset: { source: text, format: 'text' },
      method: {
        kind: 'lora',
        adapter: 'memory',
        settings: { targets: ALL_TARGETS, rank: 8, alpha: 16, dropout: 0 },
        seed: 3,
      },
      lossOn: 'all',
      options: { epochs: 60, learningRate: 1e-2 },
    });
    expect(result.losses[0]).toBeGreaterThan(4);
    expect(result.losses.at(-1)).toBeLessThan(1.4);
    await service.activateAdapter('memory');
    expect(await greedy()).toBe(text);
    const answers = await service.compareAnswers('compare', {
      prompt: 'Rivers',
      adapter: 'memory',
      maxNewTokens: 30,
    });
    expect('Rivers' + answers.adapted).toBe(text);
    expect('Rivers' + answers.base).not.toBe(text);
    await service.deleteAdapter('memory');
  });

  it('refuses a malformed JSONL line before training anything', async () => {
    const before = tf.memory().numTensors;
    await expect(
      service.finetune('bad', {
        dataset: { source: '{"text": "ok"}\n{"text": oops}', format: 'jsonl', fileName: 'd.jsonl' },
        method: { kind: 'lora', adapter: 'never', settings, seed: 1 },
        lossOn: 'all',
      }),
    ).rejects.toThrow(/^d\.jsonl line 2: not valid JSON/);
    expect(await service.listAdapters()).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names a LoRA target the model lacks, and leaves no adapter behind', async () => {
    await expect(
      service.finetune('bad', {
        dataset: { source: 'some text', format: 'text' },
        method: { kind: 'lora', adapter: 'x', settings: { ...settings, targets: ['c_attn'] } },
        lossOn: 'all',
      }),
    ).rejects.toThrow("LoRA target 'c_attn' is not a linear of this model; it has: q_proj");
    expect(await service.listAdapters()).toEqual([]);
  });

  it('truncates sequences longer than the context with a warning', async () => {
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(30);
    const result = await service.finetune('long', {
      dataset: { source: long, format: 'text' },
      method: { kind: 'lora', adapter: 'long', settings, seed: 1 },
      lossOn: 'all',
      options: { epochs: 1 },
    });
    expect(result.warnings).toEqual([
      expect.stringMatching(/^example 1: \d+ tokens, truncated to 128$/),
    ]);
    await expect(
      service.finetune('long', {
        dataset: { source: long, format: 'text' },
        method: { kind: 'lora', adapter: 'long' },
        lossOn: 'all',
        overflow: 'refuse',
      }),
    ).rejects.toThrow(/^example 1 has \d+ tokens, more than the limit of 128$/);
    await service.deleteAdapter('long');
  });

  it('keeps a cancelled run’s adapter, as trained up to its last step', async () => {
    const run = service.finetune(
      'cancel-me',
      {
        dataset: { source: 'a short text to learn', format: 'text' },
        method: { kind: 'lora', adapter: 'c', settings, seed: 1 },
        lossOn: 'all',
        options: { epochs: 10_000, reportEvery: 1 },
      },
      (p) => p.step === 3 && void jobs.cancel('cancel-me'),
    );
    expect(isCancelledError(await run.catch((e: unknown) => e))).toBe(true);
    expect((await service.listAdapters()).map((a) => a.name)).toEqual(['c']);
    await service.deleteAdapter('c');
  });

  it('exports and imports PEFT files naming the base model by its Hub repo', async () => {
    const previous = model!;
    model = { ...previous, id: 'Org/tiny-llama@main' };
    await service.createAdapter('out', settings, 4);
    const files = await service.exportAdapter('out');
    expect(JSON.parse(files.config).base_model_name_or_path).toBe('Org/tiny-llama');
    expect(await service.importAdapter('in', files)).toMatchObject({ name: 'in', modules: 4 });
    await service.deleteAdapter('out');
    await service.deleteAdapter('in');
    model = previous;
  });

  it('keeps an adapter in the store and restores it, exactly, for the same base model only', async () => {
    const kept = new FinetuneService(() => model, jobs, freshStore());
    await expect(service.keepAdapter('x')).rejects.toThrow('no store to keep adapters in');
    await kept.createAdapter('notes', settings, 5);
    await kept.finetune('keep-train', {
      dataset: { source: 'The fox jumps over the dog.', format: 'text' },
      method: { kind: 'lora', adapter: 'notes' },
      lossOn: 'all',
      options: { epochs: 2 },
    });
    const trained = await kept.exportAdapter('notes');
    const checkpoint = await kept.keepAdapter('notes');
    expect(checkpoint).toMatchObject({ name: 'notes', kind: 'adapter', runId: null });
    await kept.deleteAdapter('notes');
    expect((await kept.keptAdapters()).map((c) => c.id)).toEqual([checkpoint.id]);
    expect(await kept.restoreAdapter(checkpoint.id)).toMatchObject({ name: 'notes', modules: 4 });
    expect((await kept.exportAdapter('notes')).weights).toEqual(trained.weights);
    await kept.deleteAdapter('notes');

    const previous = model!;
    model = { ...previous, id: 'Org/other-model' };
    expect(await kept.keptAdapters()).toEqual([]);
    model = previous;
  });

  it('drops adapters when another model is loaded, and says when none is', async () => {
    await service.createAdapter('old', settings, 1);
    const previous = model!;
    model = await loadTinyLlama('another');
    expect(await service.listAdapters()).toEqual([]);
    disposeModelWeights(model.weights);
    model = null;
    await expect(service.listAdapters()).rejects.toThrow('no model is loaded');
    model = previous;
  });
});
