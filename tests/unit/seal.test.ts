import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/engine/backend';
import { isCancelledError, JobRegistry } from '../../src/engine/jobs';
import { resolveSealConfig, selfEditPromptOf, type SealConfig } from '../../src/engine/seal/config';
import { worldSealContexts } from '../../src/engine/seal/contexts';
import { mStepJsonl, runForgetting } from '../../src/engine/seal/experiments';
import { heldOutUnits, planRound } from '../../src/engine/seal/plan';
import { roundSummaries, table2Metrics } from '../../src/engine/seal/results';
import { probeClosedBook, promptText, rewardOf, type Probe } from '../../src/engine/seal/innerLoop';
import { createTokenizer } from '../../src/engine/model/tokenizer';
import { packFloat16, unpackFloat16 } from '../../src/engine/model/float16';
import { disposeModelWeights, storedCopy, weightStorageOf } from '../../src/engine/model/weights';
import { FIXTURES } from './llamaFixtures';
import { completeLines } from '../../src/engine/seal/sampleSelfEdits';
import { comparePositions } from '../../src/engine/store';
import {
  resumeSealRun,
  selectAtRandom,
  selectForMStep,
  startSealRun,
  type SealEvent,
} from '../../src/engine/seal/restem';
import { tinySealModel } from '../../src/engine/seal/tinyModel';
import { freshStore } from './storeHelpers';

beforeAll(async () => {
  await selectBackend('wasm');
});

const contexts = worldSealContexts(1);

/** 2 training contexts, K = 2, 1 round, one held-out passage, a few inner steps. */
const TINY: Partial<Record<keyof SealConfig, unknown>> = {
  seed: 7,
  selfEdit: { samples: 2, maxNewTokens: 12 },
  inner: { epochs: 1, maxLength: 64 },
  grading: { maxAnswerTokens: 4 },
  reward: 'likelihood-gain',
  outer: { rounds: 1, contextsPerRound: 2 },
  heldOut: { contexts: 1 },
};

describe('SEAL config', () => {
  it('lays overrides over the defaults and names bad fields', () => {
    const config = resolveSealConfig({ selfEdit: { samples: 5 } });
    expect(config.selfEdit.samples).toBe(5);
    expect(config.selfEdit.topP).toBe(0.95);
    expect(() => resolveSealConfig({ selfEdit: { sample: 5 } })).toThrow(
      /unknown setting 'selfEdit.sample'/,
    );
    expect(() => resolveSealConfig({ outer: { rounds: -1 } })).toThrow(
      'Rounds must be a whole number ≥ 0, got -1 (outer.rounds)',
    );
    expect(() => resolveSealConfig({ reward: 'vibes' })).toThrow(/^Reward must be one of /);
    expect(() => resolveSealConfig({ format: 'poem' })).toThrow(/^Self-edit format must be one of/);
  });

  it("shows the user's own self-edit prompt with the passage filled in", () => {
    const custom = resolveSealConfig({ customPrompt: 'Notes on {title}:\n{context}\nFacts:\n' });
    expect(selfEditPromptOf(custom, 'Kobro Brewery', 'A brewery.')).toBe(
      'Notes on Kobro Brewery:\nA brewery.\nFacts:\n',
    );
    expect(selfEditPromptOf(resolveSealConfig({}), 'T', 'C')).toContain('Passage:\nT\nC');
    expect(() => resolveSealConfig({ customPrompt: 'no passage here' })).toThrow(
      /^Own self-edit prompt must be null or a text with '\{context\}'.*\(customPrompt\)$/,
    );
  });
});

describe('prompt style', () => {
  it("puts a prompt in the user's turn of the model's chat template, or leaves it as is", () => {
    const folder = join(FIXTURES, 'tiny-qwen2-sharded');
    const tokenizer = createTokenizer(
      JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')),
    );
    const chatTemplate = readFileSync(join(folder, 'chat_template.jinja'), 'utf8');
    const model = { ...tinySealModel(1, 1), tokenizer, chatTemplate };
    const prompt = 'Passage:\nT\nC\n\nImplications:\n';
    expect(promptText(model, 'completion', prompt)).toBe(prompt);
    const chat = promptText(model, 'chat', prompt);
    expect(chat).toContain(`<|im_start|>user\n${prompt}<|im_end|>`);
    expect(chat.endsWith('<|im_start|>assistant\n')).toBe(true);
    expect(() => promptText({ ...model, chatTemplate: null }, 'chat', prompt)).toThrow(
      /no chat template/,
    );
    tf.dispose([...model.weights.values()]);
  });
});

describe('grading', () => {
  it('judges answers with the model itself, yes or no, and takes an exact match as right', async () => {
    const model = tinySealModel(3, 1);
    const questions = contexts.train[0]!.questions.slice(0, 3);
    const settings = (metric: string) =>
      resolveSealConfig({ grading: { metric, maxAnswerTokens: 3 } });
    const exact = await probeClosedBook(model, questions, settings('exact-match'));
    // Gold answers equal to the model's own answers: the judge must count them right.
    const own = questions.map((q, i) => ({ ...q, answer: exact.answers[i]! || 'x' }));
    const judged = await probeClosedBook(model, own, settings('judge'));
    expect(judged.answers).toEqual(exact.answers);
    judged.grades.forEach((grade, i) => {
      if (exact.answers[i]) expect(grade).toBe(1);
      expect([0, 1]).toContain(grade);
    });
    const again = await probeClosedBook(model, questions, settings('judge'));
    expect(again.grades).toEqual(
      (await probeClosedBook(model, questions, settings('judge'))).grades,
    );
    tf.dispose([...model.weights.values()]);
  });
});

describe('ReST-EM selection', () => {
  const candidate = (contextIndex: number, sampleIndex: number, reward: number) => ({
    contextIndex,
    sampleIndex,
    reward,
  });

  it('keeps the best self-edit of each context, the earliest on a tie', () => {
    const kept = selectForMStep(
      [
        candidate(3, 0, 0.2),
        candidate(3, 1, 0.7),
        candidate(3, 2, 0.7),
        candidate(1, 0, 0),
        candidate(1, 1, -0.5),
      ],
      false,
    );
    expect(kept).toEqual([candidate(1, 0, 0), candidate(3, 1, 0.7)]);
  });

  it('drops contexts whose best reward is not positive when asked to', () => {
    const kept = selectForMStep(
      [candidate(0, 0, 0), candidate(0, 1, 0), candidate(1, 0, 1), candidate(2, 0, -1)],
      true,
    );
    expect(kept).toEqual([candidate(1, 0, 1)]);
  });

  it('rewards as the configured mode says', () => {
    const probe = (accuracy: number, goldLogLikelihood: number): Probe => ({
      answers: [],
      grades: [],
      accuracy,
      goldLogLikelihood,
    });
    expect(rewardOf('improvement', probe(0.5, -2), probe(0.25, -3))).toBe(1);
    expect(rewardOf('improvement', probe(0.25, -2), probe(0.25, -3))).toBe(0);
    expect(rewardOf('accuracy', probe(0.75, -2), probe(0.25, -3))).toBe(0.75);
    expect(rewardOf('likelihood-gain', probe(0, -2), probe(0, -3))).toBeCloseTo(1);
  });

  it('plans held-out evaluations, then K samples per context, then the M-step', () => {
    const config = resolveSealConfig(TINY);
    const first = planRound(config, contexts, 0);
    expect(
      first.steps.map((s) => [s.kind, s.position.contextIndex, s.position.sampleIndex]),
    ).toEqual([
      ['held-out', 0, 0],
      ['held-out', 0, 1],
      ['held-out', 0, 2],
      ['self-edit', 1, 0],
      ['self-edit', 1, 1],
      ['self-edit', 2, 0],
      ['self-edit', 2, 1],
    ]);
    expect(first.mStepPosition).toEqual({ round: 0, contextIndex: 3, sampleIndex: 0 });
    const last = planRound(config, contexts, 1);
    expect(last.steps.map((s) => s.kind)).toEqual(['held-out']);
    expect(last.mStepPosition).toBeNull();
    // Each round trains on other contexts of one seeded order.
    const second = planRound(
      resolveSealConfig({ ...TINY, outer: { rounds: 2, contextsPerRound: 2 } }),
      contexts,
      1,
    );
    const ids = (plan: typeof first) =>
      plan.steps.flatMap((s) => (s.kind === 'self-edit' ? [s.passage.id] : []));
    expect(new Set([...ids(first), ...ids(second)]).size).toBe(4);
  });
});

describe('the evaluation protocol', () => {
  const config = resolveSealConfig({
    ...TINY,
    outer: { rounds: 2, contextsPerRound: 2, rewardCheckContexts: 1 },
    heldOut: {
      contexts: 2,
      draws: 2,
      subsetContexts: 1,
      crossConditions: true,
      conditions: ['base', 'passage', 'self-edit', 'teacher'],
    },
  });
  const heldOutRows = (round: number) =>
    planRound(config, contexts, round).steps.flatMap((s) =>
      s.kind === 'held-out' ? [[s.unit, s.condition, s.draw, s.weights].join(' ')] : [],
    );

  it('compares every condition on every context first, with draws for the self-edit ones', () => {
    expect(heldOutRows(0)).toEqual([
      '0 base 0 generator',
      '0 passage 0 generator',
      '0 self-edit 0 generator',
      '0 self-edit 1 generator',
      '0 teacher 0 generator',
      '0 teacher 1 generator',
      '1 base 0 generator',
      '1 passage 0 generator',
      '1 self-edit 0 generator',
      '1 self-edit 1 generator',
      '1 teacher 0 generator',
      '1 teacher 1 generator',
    ]);
  });

  it('tracks the rounds in between on the subset, and ends with every context and the cross conditions', () => {
    expect(heldOutRows(1)).toEqual(['0 self-edit 0 generator', '0 self-edit 1 generator']);
    expect(heldOutRows(2)).toEqual([
      '0 self-edit 0 generator',
      '0 self-edit 1 generator',
      '0 passage 0 generator',
      '1 self-edit 0 generator',
      '1 self-edit 1 generator',
      '0 self-edit-on-base 0 base',
      '0 self-edit-on-base 1 base',
    ]);
  });

  it('checks the rewards of the first contexts of a round after its E-step, at increasing positions', () => {
    const plan = planRound(config, contexts, 0);
    const training = plan.steps.filter((s) => s.kind !== 'held-out');
    expect(
      training.map((s) => `${s.kind} ${s.position.contextIndex}/${s.position.sampleIndex}`),
    ).toEqual([
      'self-edit 2/0',
      'self-edit 2/1',
      'self-edit 3/0',
      'self-edit 3/1',
      'reward-check 4/0',
      'reward-check 4/1',
    ]);
    expect(plan.mStepPosition).toEqual({ round: 0, contextIndex: 5, sampleIndex: 0 });
    const positions = plan.steps.map((s) => s.position);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
    }
    const randomControl = resolveSealConfig({
      ...TINY,
      outer: { rounds: 1, contextsPerRound: 2, rewardCheckContexts: 1, selection: 'random' },
    });
    expect(planRound(randomControl, contexts, 0).steps.some((s) => s.kind === 'reward-check')).toBe(
      false,
    );
  });

  it('refuses the teacher condition without the world that writes it', () => {
    const withoutWorld = { train: contexts.train, heldOut: contexts.heldOut };
    expect(() => planRound(config, withoutWorld, 0)).toThrow(/teacher/);
  });

  it("writes the teacher's self-edit from the world's facts: every line agrees with them", () => {
    const passage = contexts.heldOut[0]!;
    const teacher = contexts.world!.teacherSelfEdit(passage, 4);
    const lines = teacher.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) expect(contexts.world!.checkLine(passage, line)).toBe('consistent');
    expect(contexts.world!.teacherSelfEdit(passage, 4)).toBe(teacher);
    expect(contexts.world!.teacherSelfEdit(passage, 5)).not.toBe(teacher);
  });

  it('keeps one self-edit per context at random for the control, the same for the same seed', () => {
    const candidates = [0, 1, 2].flatMap((contextIndex) =>
      [0, 1, 2, 3].map((sampleIndex) => ({ contextIndex, sampleIndex, reward: sampleIndex })),
    );
    const picks = (seed: number) => selectAtRandom(candidates, seed).map((c) => c.sampleIndex);
    expect(selectAtRandom(candidates, 1).map((c) => c.contextIndex)).toEqual([0, 1, 2]);
    expect(picks(1)).toEqual(picks(1));
    const seen = new Set(Array.from({ length: 20 }, (_, seed) => picks(seed).join()));
    expect(seen.size).toBeGreaterThan(1);
    // Selection by reward always takes the best.
    expect(selectForMStep(candidates, false).map((c) => c.sampleIndex)).toEqual([3, 3, 3]);
  });

  it('never trains on a line the token limit cut off', () => {
    expect(completeLines('A is B.\nC is', 'length')).toEqual({
      text: 'A is B.\n',
      truncated: true,
    });
    expect(completeLines('A is B.\n', 'max-lines')).toEqual({
      text: 'A is B.\n',
      truncated: false,
    });
    expect(completeLines('A is B.', 'eos')).toEqual({ text: 'A is B.', truncated: false });
  });
});

describe('a tiny run with the whole protocol', () => {
  it('applies the final self-edits to the base model, then puts everything back', async () => {
    const model = tinySealModel(3, 1);
    const store = freshStore();
    const tensors = tf.memory().numTensors;
    const before = await Promise.all([...model.weights.values()].map((w) => w.data()));
    const config = {
      ...TINY,
      outer: { rounds: 1, contextsPerRound: 2, rewardCheckContexts: 1 },
      heldOut: { contexts: 1, draws: 2, crossConditions: true },
    };
    const run = await new JobRegistry().run('protocol', (checkpoint) =>
      startSealRun(
        { model, contexts, records: store, checkpoint },
        { config, contextsSource: { world: 1 } },
      ),
    );
    expect(run.status).toBe('done');
    const episodes = await store.listEpisodes(run.id);
    const final = episodes.filter((e) => e.round === 1 && e.condition === 'self-edit');
    const onBase = episodes.filter((e) => e.condition === 'self-edit-on-base');
    expect(onBase.map((e) => e.draw)).toEqual([0, 1]);
    expect(onBase.map((e) => e.parsedExamples)).toEqual(final.map((e) => e.parsedExamples));
    expect(episodes.filter((e) => e.kind === 'reward-check')).toHaveLength(2);
    expect(episodes.filter((e) => e.round === 1 && e.condition === 'passage')).toHaveLength(1);
    // The base model's weights are back, and nothing was left allocated.
    const after = await Promise.all([...model.weights.values()].map((w) => w.data()));
    expect(after).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([...model.weights.values()]);
    await store.close();
  });
});

describe('a model with float16 weights', () => {
  it('runs SEAL with LoRA M-steps merged into its halves, and refuses full fine-tuning M-steps up front', async () => {
    const original = tinySealModel(3, 1);
    const model = { ...original, weights: await storedCopy(original.weights, 'float16') };
    disposeModelWeights(original.weights);
    const store = freshStore();
    const before = await Promise.all([...model.weights.values()].map((w) => w.data()));
    const start = (name: string, mStep: Record<string, unknown>) =>
      new JobRegistry().run(name, (checkpoint) =>
        startSealRun(
          { model, contexts, records: store, checkpoint },
          {
            config: { ...TINY, outer: { rounds: 1, contextsPerRound: 2, mStep } },
            contextsSource: { world: 1 },
          },
        ),
      );

    await expect(start('full', { method: 'full' })).rejects.toThrow(
      /full fine-tuning needs float32 weights/,
    );
    expect(await store.listRuns()).toEqual([]);

    const run = await start('lora', { method: 'lora' });
    expect(run.status).toBe('done');
    // The round's generator was kept as float32 values, each one a float16.
    const [kept] = (await store.listCheckpoints(run.id)).filter((c) => c.kind === 'full');
    const { tensors } = await store.loadCheckpoint(kept!.id);
    const matrix = tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
    expect(unpackFloat16(packFloat16(matrix.data))).toEqual(matrix.data);
    // The M-step changed the generator, and the base model's halves are back after the run.
    const base = model.weights.get('model.layers.0.self_attn.q_proj.weight')!;
    expect(unpackFloat16((await base.data()) as Int32Array)).not.toEqual(matrix.data);
    const after = await Promise.all([...model.weights.values()].map((w) => w.data()));
    expect(after).toEqual(before);
    expect(weightStorageOf(model.weights)).toBe('float16');
    disposeModelWeights(model.weights);
    await store.close();
  });
});

describe('held-out evaluation modes', () => {
  it('pools passages for continued pretraining, one update per pool', () => {
    const config = resolveSealConfig({
      ...TINY,
      heldOut: { contexts: 5, mode: 'pooled', poolSize: 2, conditions: ['passage'] },
    });
    expect(heldOutUnits(config, contexts).map((pool) => pool.length)).toEqual([2, 2, 1]);
    const plan = planRound(config, contexts, 0);
    const pooled = plan.steps.filter((s) => s.kind === 'held-out');
    expect(pooled.map((s) => s.position.contextIndex)).toEqual([0, 1, 2]);
  });
});

describe('the forgetting experiment', () => {
  it('edits passages in sequence and asks every passage again after each edit', async () => {
    const model = tinySealModel(3, 1);
    const config = resolveSealConfig({ ...TINY, grading: { maxAnswerTokens: 2, maxQuestions: 2 } });
    const passages = contexts.heldOut.slice(0, 2);
    const rows: number[][] = [];
    const result = await runForgetting(model, passages, config, {
      onEdit: (_, row) => rows.push(row),
    });
    expect(result.before).toHaveLength(2);
    expect(result.accuracy).toEqual(rows);
    expect(result.accuracy.map((row) => row.length)).toEqual([2, 2]);
    expect(result.selfEdits).toHaveLength(2);
    for (const value of result.accuracy.flat()) expect(value >= 0 && value <= 1).toBe(true);
    const again = await runForgetting(model, passages, config);
    expect(again.selfEdits).toEqual(result.selfEdits);
    tf.dispose([...model.weights.values()]);
  });
});

/**
 * A tiny run, optionally interrupted: cancelled after some episodes (paused), or failing right
 * after it kept the round's generator, before moving on; then resumed to its end.
 */
async function tinyRun(interrupt?: { afterEpisodes: number } | 'after-keeping-the-generator') {
  const model = tinySealModel(3, 1);
  const store = freshStore();
  const jobs = new JobRegistry();
  const events: SealEvent[] = [];
  let episodes = 0;
  let interrupted = false;
  const options = (jobId: string) => ({
    model,
    contexts,
    records: store,
    onEvent: (event: SealEvent) => {
      events.push(event);
      if (interrupted) return;
      if (typeof interrupt === 'object' && event.type === 'episode') {
        if (++episodes === interrupt.afterEpisodes) {
          interrupted = true;
          jobs.cancel(jobId);
        }
      } else if (interrupt === 'after-keeping-the-generator' && event.type === 'round') {
        interrupted = true;
        throw new Error('the tab went away');
      }
    },
  });
  let run = await jobs
    .run('first', (checkpoint) =>
      startSealRun(
        { ...options('first'), checkpoint },
        { config: TINY, contextsSource: { world: 1 } },
      ),
    )
    .catch(async (error: unknown) => {
      const [stopped] = await store.listRuns();
      if (isCancelledError(error)) {
        expect(stopped!.status).toBe('paused');
        expect(stopped!.episodeCount).toBe(
          typeof interrupt === 'object' && interrupt.afterEpisodes,
        );
      } else {
        expect((error as Error).message).toBe('the tab went away');
        expect(stopped!.status).toBe('failed');
      }
      return jobs.run('second', (checkpoint) =>
        resumeSealRun({ ...options('second'), checkpoint }, stopped!.id),
      );
    });
  run = (await store.getRun(run.id))!;
  const stored = await store.listEpisodes(run.id);
  const checkpoints = await store.listCheckpoints(run.id);
  tf.dispose([...model.weights.values()]);
  await store.close();
  return { run, stored, checkpoints, events };
}

describe('a tiny SEAL run', () => {
  it('stores every evaluation as an episode, checkpoints the generator, and repeats from its seed', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const first = await tinyRun();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(first.run.status).toBe('done');
    // Round 0: 1 held-out passage × 3 conditions + 2 contexts × 2 samples; round 1: held-out only.
    expect(first.stored).toHaveLength(8);
    expect(first.checkpoints.map((c) => [c.kind, c.round])).toEqual([['full', 0]]);
    const selfEdits = first.stored.filter((e) => e.kind === 'self-edit');
    expect(selfEdits).toHaveLength(4);
    expect(first.stored.filter((e) => e.kind === 'held-out').map((e) => e.condition)).toEqual([
      'base',
      'passage',
      'self-edit',
      'self-edit',
    ]);
    for (const episode of selfEdits) {
      expect(episode.prompt).toContain('Implications:');
      const passage = contexts.train.find((p) => p.id === episode.contextId)!;
      expect(episode.parsedExamples.at(-1)).toBe(`${passage.title}\n${passage.context}`);
      expect(episode.lossCurve.length).toBeGreaterThan(0);
      expect(episode.answers.length).toBe(episode.grades.length);
      expect(Number.isFinite(episode.reward)).toBe(true);
    }
    // Different self-edits of one context get different rewards (a dense reward on a tiny model).
    expect(new Set(selfEdits.map((e) => e.reward)).size).toBeGreaterThan(1);
    const config = resolveSealConfig(TINY);
    const metrics = table2Metrics(config, first.stored);
    for (const row of ['base', 'passage', 'base_self_edits', 'seal_final', 'seal_round_1']) {
      expect(metrics[row]).toBeGreaterThanOrEqual(metrics[`${row}_ci_low`]!);
      expect(metrics[row]).toBeLessThanOrEqual(metrics[`${row}_ci_high`]!);
    }
    expect(metrics.contexts).toBe(1);
    expect(roundSummaries(config, first.stored).map((r) => r.kept)).toEqual([2, 0]);
    expect(mStepJsonl(config, first.stored).trim().split('\n')).toHaveLength(2);
    expect(first.events.some((e) => e.type === 'phase' && e.phase === 'learn')).toBe(true);

    const second = await tinyRun();
    expect(second.stored.map((e) => e.reward)).toEqual(first.stored.map((e) => e.reward));
    expect(second.stored.map((e) => e.selfEdit)).toEqual(first.stored.map((e) => e.selfEdit));

    // Stopped after 5 episodes and resumed: the same episodes, nothing repeated or lost.
    const resumed = await tinyRun({ afterEpisodes: 5 });
    expect(resumed.run.status).toBe('done');
    expect(resumed.stored.map((e) => e.reward)).toEqual(first.stored.map((e) => e.reward));

    // Stopped after keeping round 1's generator but before moving on: resuming reuses it.
    const kept = await tinyRun('after-keeping-the-generator');
    expect(kept.run.status).toBe('done');
    expect(kept.checkpoints).toHaveLength(1);
    expect(kept.stored.map((e) => e.reward)).toEqual(first.stored.map((e) => e.reward));
  });
});
