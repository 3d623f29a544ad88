import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WORLD_EVAL_OPTIONS, evaluateWorld } from '../../src/engine/eval/world';
import { countParameters } from '../../src/engine/model/weights';
import { generateWorld } from '../../src/engine/world/generate';
import { SHIPPED_MODEL_FOLDER, useShippedModel } from './shippedModel';

const shippedModel = useShippedModel();

describe('the shipped default model', () => {
  it('is a small Llama in the Hub layout with the world tokenizer', () => {
    const model = shippedModel();
    expect(model.config.architecture).toBe('LlamaForCausalLM');
    expect(countParameters(model.config)).toBeGreaterThan(1_000_000);
    expect(statSync(`${SHIPPED_MODEL_FOLDER}/model.safetensors`).size).toBeLessThan(40 * 2 ** 20);
    expect(model.tokenizer.bosTokenId).toBe(1);
    expect(model.tokenizer.eosTokenId).toBe(2);
  });

  it('reads held-out passages, knows pretraining entities better than held-out ones, and writes varied self-edits', async () => {
    const model = shippedModel();
    const world = generateWorld(1);
    const report = await evaluateWorld(model, world, {
      ...DEFAULT_WORLD_EVAL_OPTIONS,
      limit: 3,
      maxSelfEditTokens: 64,
    });
    const { metrics, examples } = report;
    expect(metrics.questions_heldout).toBeGreaterThanOrEqual(20);
    // A year is answered with a year, from the passage in the prompt or not.
    const years = examples.reading.filter((r) => /^\d{4}$/.test(r.gold));
    expect(years.length).toBeGreaterThan(0);
    for (const { answer } of years) expect(answer).toMatch(/^\d{4}$/);
    // With the passage in the prompt it answers most questions exactly; without it, few.
    expect(metrics.in_context_em).toBeGreaterThanOrEqual(0.8);
    expect(metrics.closed_book_pretrain_em).toBeGreaterThan(metrics.closed_book_heldout_em);
    expect(metrics.closed_book_heldout_em).toBeLessThanOrEqual(0.1);
    expect(metrics.self_edit_lines_mean).toBeGreaterThanOrEqual(3);
    expect(metrics.self_edit_varied_fraction).toBe(1);
    // A self-edit is one block of lines: sampling stops where a blank line would start another.
    for (const sample of examples.selfEdits) expect(sample.text).not.toContain('\n\n');
  });
});
