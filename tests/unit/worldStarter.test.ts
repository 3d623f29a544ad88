import { describe, expect, it } from 'vitest';
import { JobRegistry } from '../../src/engine/jobs';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { worldSeedOfModel, worldStarter } from '../../src/engine/seal/starter';
import { tokenizeExamples } from '../../src/engine/train/dataset';
import { FinetuneService } from '../../src/engine/train/service';
import { evaluateLoss } from '../../src/engine/train/sft';
import { generateWorld } from '../../src/engine/world';
import { useShippedModel } from './shippedModel';

const shippedModel = useShippedModel();

describe('the starting texts of the world model', () => {
  it('belong to a validation context, never an evaluation one, for the shipped model only', () => {
    expect(worldSeedOfModel('seal-world-1m')).toBe(1);
    expect(worldSeedOfModel('Qwen/Qwen2.5-0.5B@main')).toBeNull();
    const starter = worldStarter(1);
    const world = generateWorld(1);
    expect(world.splits.rl).toContain(starter.entityId);
    expect(world.splits.eval).not.toContain(starter.entityId);
    const validation = worldSealContexts(1, 'validation').heldOut.map((p) => p.id);
    expect(validation).toContain(starter.entityId);
    expect(starter.passage).toContain(starter.title);
    expect(starter.prompt).toContain(starter.question);
  });

  it('teach the model on the first click: the loss on the passage falls and the answer turns right', async () => {
    const model = shippedModel();
    const starter = worldStarter(1);
    const service = new FinetuneService(() => model, new JobRegistry());
    const { sequences } = tokenizeExamples([{ text: starter.passage }], model.tokenizer, {
      lossOn: 'all',
      maxLength: model.config.maxPositionEmbeddings,
      overflow: 'truncate',
    });
    const { targets, rank, alpha, learningRate, epochs } = starter.finetune;
    // The Fine-tune panel's request with the form as the world model's starter leaves it.
    await service.finetune('starter', {
      dataset: { source: starter.passage, format: 'text' },
      method: {
        kind: 'lora',
        adapter: 'starter',
        settings: { targets: [...targets], rank, alpha, dropout: 0 },
        seed: 0,
      },
      lossOn: 'all',
      options: {
        epochs,
        learningRate,
        batchSize: 1,
        gradientAccumulation: 1,
        schedule: 'cosine',
        seed: 0,
      },
    });
    const adapter = (await service.listAdapters()).find((a) => a.name === 'starter');
    expect(adapter).toBeDefined();
    const before = await evaluateLoss(model, sequences);
    await service.activateAdapter('starter');
    const after = await evaluateLoss(model, sequences, service.activeAdapter() ?? undefined);
    const answers = await service.compareAnswers('compare', {
      prompt: starter.prompt,
      adapter: 'starter',
      maxNewTokens: 12,
    });
    const firstLine = (text: string) => text.split('\n')[0]!.trim();
    console.info(
      `starter ${starter.entityId}: loss ${before.toFixed(3)} → ${after.toFixed(3)}; ` +
        `"${starter.question}" (gold ${starter.answer}): ` +
        `"${firstLine(answers.base)}" → "${firstLine(answers.adapted)}"`,
    );
    expect(after).toBeLessThan(before / 2);
    expect(firstLine(answers.base)).not.toBe(starter.answer);
    expect(firstLine(answers.adapted)).toBe(starter.answer);
    await service.deleteAdapter('starter');
  });
});
