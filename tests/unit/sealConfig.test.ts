import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SEAL_CONFIG,
  resolveSealConfig,
  SELF_EDIT_SELECTIONS,
} from '../../src/engine/seal/config';
import { sealConfigOfRun } from '../../src/engine/seal/restem';
import { LORA_TARGETS } from '../../src/engine/train/targets';
import { freshStore } from './storeHelpers';

/** Resolves `overrides` and returns the message it throws (the test fails if it does not throw). */
function refusal(overrides: unknown): string {
  let message: string | null = null;
  try {
    resolveSealConfig(overrides);
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message, `${JSON.stringify(overrides)} should be refused`).not.toBeNull();
  return message!;
}

describe('SEAL config: wrong types are refused, named as the SEAL panel labels them', () => {
  const cases: [string, unknown, string][] = [
    [
      'an emptied number input (null)',
      { selfEdit: { samples: null } },
      'Self-edits per context (K) must be a whole number ≥ 1, got null (selfEdit.samples)',
    ],
    [
      'a number typed as text',
      { selfEdit: { temperature: '1' } },
      'Temperature must be a number ≥ 0, got "1" (selfEdit.temperature)',
    ],
    [
      'a learning rate typed as text',
      { inner: { learningRate: '0.01' } },
      'Inner learning rate must be a number > 0, got "0.01" (inner.learningRate)',
    ],
    [
      'NaN',
      { inner: { epochs: Number.NaN } },
      'Inner epochs must be a whole number ≥ 1, got NaN (inner.epochs)',
    ],
    [
      'Infinity for a real number',
      { outer: { mStep: { learningRate: Infinity } } },
      'M-step learning rate must be a number > 0, got Infinity (outer.mStep.learningRate)',
    ],
    [
      'Infinity for a count',
      { outer: { contextsPerRound: Infinity } },
      'Contexts per round must be a whole number ≥ 1, got Infinity (outer.contextsPerRound)',
    ],
    ['a seed with a fraction', { seed: 1.5 }, 'Run seed must be a whole number, got 1.5 (seed)'],
    [
      'a text for a switch',
      { outer: { keepOnlyPositive: 'yes' } },
      'Keep only positive rewards must be true or false, got "yes" (outer.keepOnlyPositive)',
    ],
    [
      'a number for a choice',
      { promptStyle: 1 },
      'Prompts must be one of completion, chat, got 1 (promptStyle)',
    ],
    [
      'an unknown grading metric',
      { grading: { metric: 'bleu' } },
      'Grading must be one of exact-match, f1, judge, got "bleu" (grading.metric)',
    ],
    [
      'a prompt that is not text',
      { customPrompt: 42 },
      "Own self-edit prompt must be null or a text with '{context}' (and optionally '{title}') in it, got 42 (customPrompt)",
    ],
  ];
  it.each(cases)('%s', (_case, overrides, message) => {
    expect(refusal(overrides)).toBe(message);
  });
});

describe('SEAL config: out-of-range values are refused', () => {
  const cases: [unknown, string][] = [
    [{ selfEdit: { samples: 0 } }, 'Self-edits per context (K) must be a whole number ≥ 1'],
    [{ selfEdit: { samples: 2.5 } }, 'Self-edits per context (K) must be a whole number ≥ 1'],
    [{ selfEdit: { temperature: -0.1 } }, 'Temperature must be a number ≥ 0'],
    [{ selfEdit: { topP: 0 } }, 'Top-p must be a number in (0, 1]'],
    [{ selfEdit: { topP: 1.01 } }, 'Top-p must be a number in (0, 1]'],
    [{ inner: { learningRate: 0 } }, 'Inner learning rate must be a number > 0'],
    [{ inner: { lora: { rank: 0 } } }, 'Inner LoRA rank must be a whole number ≥ 1'],
    [{ inner: { lora: { alpha: -1 } } }, 'Inner LoRA alpha must be a number > 0'],
    [{ inner: { lora: { dropout: 1 } } }, 'Inner LoRA dropout must be a number in [0, 1)'],
    [{ inner: { maxLength: 1 } }, 'Inner example tokens must be a whole number ≥ 2'],
    [{ inner: { seeds: 0 } }, 'Seeds per self-edit must be a whole number ≥ 1'],
    [{ grading: { maxQuestions: 0 } }, 'Questions per context must be null (every question)'],
    [{ outer: { rounds: -1 } }, 'Rounds must be a whole number ≥ 0, got -1 (outer.rounds)'],
    [{ outer: { mStep: { batchSize: 0 } } }, 'M-step batch size must be a whole number ≥ 1'],
    [{ heldOut: { contexts: -1 } }, 'Held-out contexts must be a whole number ≥ 0'],
    [{ heldOut: { poolSize: 0 } }, 'Held-out pool size must be a whole number ≥ 1'],
    [{ heldOut: { mode: 'batched' } }, 'Held-out mode must be one of single, pooled'],
    [{ customPrompt: 'no passage here' }, "Own self-edit prompt must be null or a text with '{"],
  ];
  it.each(cases)('%j', (overrides, start) => {
    expect(refusal(overrides).startsWith(start)).toBe(true);
  });

  it('accepts the edges of each range', () => {
    const config = resolveSealConfig({
      selfEdit: { temperature: 0, topP: 1 },
      inner: { lora: { dropout: 0 }, maxLength: 2 },
      outer: { rounds: 0 },
      heldOut: { contexts: 0, conditions: [] },
      grading: { maxQuestions: 1 },
    });
    expect(config.selfEdit).toMatchObject({ temperature: 0, topP: 1 });
    expect(config.heldOut).toMatchObject({ contexts: 0, conditions: [] });
  });
});

describe('SEAL config: LoRA targets', () => {
  it('refuses a projection the LoRA code does not know, listing the known ones', () => {
    expect(refusal({ inner: { lora: { targets: ['q_proj', 'embed_tokens'] } } })).toBe(
      `Inner LoRA targets must be a list of projections from ${LORA_TARGETS.join(', ')}, got ["q_proj","embed_tokens"] (inner.lora.targets)`,
    );
  });
  it('refuses an empty list', () => {
    expect(refusal({ outer: { mStep: { lora: { targets: [] } } } })).toBe(
      'M-step LoRA targets must be a list of at least one projection, got [] (outer.mStep.lora.targets)',
    );
  });
  it('refuses a projection listed twice', () => {
    expect(refusal({ inner: { lora: { targets: ['v_proj', 'q_proj', 'v_proj'] } } })).toBe(
      'Inner LoRA targets must be a list that names each projection once, got ["v_proj","q_proj","v_proj"] (inner.lora.targets)',
    );
  });
  it('refuses a list that is not a list, and a target that is not a name', () => {
    expect(refusal({ inner: { lora: { targets: 'q_proj' } } })).toMatch(
      /^Inner LoRA targets must be a list of projections from .*, got "q_proj"/,
    );
    expect(refusal({ inner: { lora: { targets: [null] } } })).toMatch(/, got \[null\] \(/);
  });
  it('refuses a held-out condition asked for twice', () => {
    expect(refusal({ heldOut: { conditions: ['base', 'base'] } })).toMatch(
      /^Held-out conditions must be a list that names each condition once/,
    );
  });
});

describe('SEAL config: overlay over the defaults', () => {
  it('lays overrides key by key and returns a fresh, complete config', () => {
    const config = resolveSealConfig({ inner: { lora: { rank: 4 } }, outer: { rounds: 3 } });
    expect(config.inner.lora).toEqual({ ...DEFAULT_SEAL_CONFIG.inner.lora, rank: 4 });
    expect(config.outer).toEqual({ ...DEFAULT_SEAL_CONFIG.outer, rounds: 3 });
    expect(resolveSealConfig()).toEqual(DEFAULT_SEAL_CONFIG);
  });
  it('names an unknown setting with its path and the known ones', () => {
    expect(refusal({ outer: { selectionMode: 'random' } })).toBe(
      "SEAL config: unknown setting 'outer.selectionMode' (known: rounds, contextsPerRound, keepOnlyPositive, selection, rewardCheckContexts, mStep)",
    );
  });
  it('refuses a group of settings that is not an object', () => {
    expect(refusal({ selfEdit: null })).toBe('SEAL config: selfEdit must be an object');
    expect(refusal([1])).toBe('SEAL config: the config must be an object');
  });
  it('reports each refused setting with its first problem only', () => {
    expect(refusal({ seed: 'x', selfEdit: { samples: 0 } })).toBe(
      'Run seed must be a whole number, got "x" (seed)',
    );
  });
});

describe('SEAL config: the kept self-edit', () => {
  it('defaults to the highest reward and accepts a random draw', () => {
    expect(DEFAULT_SEAL_CONFIG.outer.selection).toBe('reward');
    expect(SELF_EDIT_SELECTIONS).toEqual(['reward', 'random']);
    expect(resolveSealConfig({ outer: { selection: 'random' } }).outer.selection).toBe('random');
  });
  it('refuses any other way of choosing', () => {
    expect(refusal({ outer: { selection: 'best' } })).toBe(
      'Kept self-edit must be one of reward, random, got "best" (outer.selection)',
    );
  });
  it("resolves a stored run's config written before the setting existed", async () => {
    const olderOuter = Object.fromEntries(
      Object.entries({ ...DEFAULT_SEAL_CONFIG.outer, rounds: 1 }).filter(
        ([key]) => key !== 'selection',
      ),
    );
    expect(olderOuter).not.toHaveProperty('selection');
    const olderConfig = { ...DEFAULT_SEAL_CONFIG, seed: 9, outer: olderOuter };
    const store = freshStore();
    const run = await store.createRun({
      kind: 'seal',
      config: { seal: olderConfig },
      seeds: { seal: 9 },
      datasetIds: [],
    });
    const config = sealConfigOfRun(run);
    expect(config.outer).toMatchObject({ selection: 'reward', rounds: 1 });
    expect(config.seed).toBe(9);
  });
});
