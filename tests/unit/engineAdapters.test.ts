import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdapterInfo } from '../../src/engine/api';
import { createEngine } from '../../src/engine/engine';
import { createModelSession } from '../../src/engine/model/session';
import type { FinetuneRequest } from '../../src/engine/train/service';
import { loadFixtureModel } from './llamaFixtures';

const session = createModelSession();
afterAll(() => session.replace(null));

async function placeTinyLlama(id: string): Promise<number> {
  const fixture = await loadFixtureModel('tiny-llama');
  session.replace({ id, ...fixture, generationConfig: null, chatTemplate: null });
  return fixture.weights.size;
}

const request: FinetuneRequest = {
  dataset: { source: 'The sea is salty.', format: 'text' },
  method: {
    kind: 'lora',
    adapter: 'sea',
    settings: { targets: ['q_proj', 'v_proj'], rank: 4, alpha: 8, dropout: 0 },
  },
  lossOn: 'all',
  options: { epochs: 2 },
};

describe("the engine's adapters", () => {
  it('are freed as soon as the model is unloaded or replaced, and the UI hears of it', async () => {
    const engine = createEngine({ session });
    await engine.init('wasm');
    const lists: string[][] = [];
    engine.subscribe((event) => {
      if (event.type === 'adapters') lists.push(event.adapters.map(label));
    });
    const withoutModel = tf.memory().numTensors;

    const modelTensors = await placeTinyLlama('first');
    await engine.train.finetune('train-1', request);
    await engine.train.activateAdapter('sea');
    expect(tf.memory().numTensors).toBeGreaterThan(withoutModel + modelTensors);
    await engine.model.unload();
    expect(tf.memory().numTensors).toBe(withoutModel);

    await placeTinyLlama('second');
    await engine.train.finetune('train-2', request);
    await placeTinyLlama('third');
    expect(tf.memory().numTensors).toBe(withoutModel + modelTensors);
    expect(lists).toEqual([['sea'], ['sea (applied)'], [], ['sea'], []]);
  });
});

function label(adapter: AdapterInfo): string {
  return adapter.active ? `${adapter.name} (applied)` : adapter.name;
}
