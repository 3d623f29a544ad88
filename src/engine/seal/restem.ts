/**
 * The outer loop, ReST-EM (the paper's Algorithm 1), with every self-edit evaluation kept as an
 * episode of a stored run. Each round:
 *
 *   0. evaluate the current generator on held-out contexts (before round 1 this also measures the
 *      base model and training on the passage alone: the rows of the paper's Table 2);
 *   1. E-step: for each context of the round's batch, sample K self-edits from the generator;
 *   2. apply each self-edit to a fresh LoRA on the generator (the inner loop) and reward it;
 *   3. M-step: keep the best self-edit of each context and fine-tune the generator on
 *      (self-edit prompt → kept self-edit), merging the update: the next round's generator.
 *
 * The generator of self-edits and the model they update are the same model. After the last
 * round only step 0 runs, so the held-out accuracy after every round is measured.
 *
 * A run's position (round, context, sample) is that of its next episode; the store moves it in
 * the same transaction that stores an episode, and everything is seeded, so a run resumed after a
 * reload redoes exactly the work that was not yet stored and gets the same numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { isCancelledError, type Checkpoint } from '../jobs';
import { generate } from '../model/generate';
import { streamSeed } from '../random';
import {
  comparePositions,
  type CheckpointRecord,
  type EpisodeRecord,
  type NewEpisode,
  type Passage,
  type RunPosition,
  type RunRecord,
  type SealStore,
} from '../store';
import { tokenizeExamples } from '../train/dataset';
import { LoraAdapter } from '../train/lora';
import { hubConfig } from '../train/peft';
import { DEFAULT_SFT_OPTIONS, trainSft } from '../train/sft';
import {
  resolveSealConfig,
  selfEditPromptOf,
  type HeldOutCondition,
  type LoopPhase,
  type SealConfig,
} from './config';
import {
  applyTrainingTexts,
  probeClosedBook,
  promptText,
  stopIdsOf,
  type Probe,
  type SealModel,
} from './innerLoop';
import { selfEditStopStrings } from './prompts';
import { selfEditTrainingTexts } from './selfEdit';

/** What a run reads and writes of the store. */
export type SealRecords = Pick<
  SealStore,
  | 'createRun'
  | 'resumeRun'
  | 'stopRun'
  | 'getRun'
  | 'appendEpisode'
  | 'advanceRun'
  | 'listEpisodes'
  | 'saveCheckpoint'
  | 'listCheckpoints'
  | 'loadCheckpoint'
>;

export interface SealContexts {
  /** Contexts the outer loop trains on. */
  train: Passage[];
  /** Contexts only ever evaluated on. */
  heldOut: Passage[];
}

/** One planned evaluation: a position of the run and what runs there. */
export type PlannedStep =
  | {
      kind: 'held-out';
      position: RunPosition;
      condition: HeldOutCondition;
      /** One passage, or a pool of them trained on together. */
      passages: Passage[];
    }
  | { kind: 'self-edit'; position: RunPosition; passage: Passage };

export interface RoundPlan {
  round: number;
  steps: PlannedStep[];
  /** Where the M-step sits (null after the last round, which only evaluates). */
  mStepPosition: RunPosition | null;
}

export type SealEvent =
  | { type: 'run'; run: RunRecord }
  | { type: 'phase'; phase: LoopPhase; position: RunPosition }
  | {
      type: 'episode';
      step: PlannedStep;
      episode: NewEpisode;
      /** The share of right answers after the update (before any, for the base condition). */
      accuracy: number;
    }
  | { type: 'round'; round: number; kept: number; meanReward: number | null }
  | { type: 'done'; run: RunRecord };

/** The held-out units of a run: single passages, or pools of `poolSize` passages. */
export function heldOutUnits(config: SealConfig, contexts: SealContexts): Passage[][] {
  const passages = contexts.heldOut.slice(0, config.heldOut.contexts);
  if (config.heldOut.mode === 'single') return passages.map((p) => [p]);
  const pools: Passage[][] = [];
  for (let i = 0; i < passages.length; i += config.heldOut.poolSize) {
    pools.push(passages.slice(i, i + config.heldOut.poolSize));
  }
  return pools;
}

/** Seeds of the run: one independent stream per purpose and index path. */
export function seedOf(seed: number, ...path: number[]): number {
  return path.reduce((current, index) => streamSeed(current, index), seed >>> 0);
}

const STREAM = { batch: 1, selfEdits: 2, lora: 3, heldOutSelfEdit: 4, mStep: 5 } as const;

/** The training contexts of `round`: consecutive slices of one seeded shuffle of them all. */
export function roundBatch(config: SealConfig, contexts: SealContexts, round: number): Passage[] {
  const order = contexts.train.map((_, i) => i);
  let state = seedOf(config.seed, STREAM.batch);
  for (let i = order.length - 1; i > 0; i--) {
    state = streamSeed(state, i);
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const size = Math.min(config.outer.contextsPerRound, order.length);
  return Array.from(
    { length: size },
    (_, i) => contexts.train[order[(round * size + i) % order.length]!]!,
  );
}

/** Every step of `round`, in run order: held-out evaluations, then the E-step, then the M-step. */
export function planRound(config: SealConfig, contexts: SealContexts, round: number): RoundPlan {
  const units = heldOutUnits(config, contexts);
  const conditions: HeldOutCondition[] = round === 0 ? config.heldOut.conditions : ['self-edit'];
  const steps: PlannedStep[] = [];
  units.forEach((passages, contextIndex) => {
    conditions.forEach((condition, sampleIndex) => {
      steps.push({
        kind: 'held-out',
        position: { round, contextIndex, sampleIndex },
        condition,
        passages,
      });
    });
  });
  if (round >= config.outer.rounds) return { round, steps, mStepPosition: null };
  roundBatch(config, contexts, round).forEach((passage, i) => {
    for (let sampleIndex = 0; sampleIndex < config.selfEdit.samples; sampleIndex++) {
      steps.push({
        kind: 'self-edit',
        position: { round, contextIndex: units.length + i, sampleIndex },
        passage,
      });
    }
  });
  const mStepIndex = units.length + Math.min(config.outer.contextsPerRound, contexts.train.length);
  return { round, steps, mStepPosition: { round, contextIndex: mStepIndex, sampleIndex: 0 } };
}

export interface Candidate {
  contextIndex: number;
  sampleIndex: number;
  reward: number;
}

/**
 * The M-step's data: per context, its highest-reward self-edit (the earliest sample on a tie),
 * dropped when `keepOnlyPositive` and its reward is not above zero. In context order.
 */
export function selectForMStep<T extends Candidate>(
  candidates: readonly T[],
  keepOnlyPositive: boolean,
): T[] {
  const best = new Map<number, T>();
  for (const candidate of candidates) {
    const current = best.get(candidate.contextIndex);
    const better =
      !current ||
      candidate.reward > current.reward ||
      (candidate.reward === current.reward && candidate.sampleIndex < current.sampleIndex);
    if (better) best.set(candidate.contextIndex, candidate);
  }
  return [...best.values()]
    .filter((c) => !keepOnlyPositive || c.reward > 0)
    .sort((a, b) => a.contextIndex - b.contextIndex);
}

function passageText(passage: Passage): string {
  return `${passage.title}\n${passage.context}`;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, x) => sum + x, 0) / values.length;
}

/** The model's weights as checkpoint tensors. */
async function weightTensors(model: SealModel) {
  const tensors = [];
  for (const [name, variable] of model.weights) {
    tensors.push({
      name,
      shape: [...variable.shape],
      data: (await variable.data()) as Float32Array,
    });
  }
  return tensors;
}

export interface SealRunOptions {
  model: SealModel & { id: string };
  contexts: SealContexts;
  records: SealRecords;
  checkpoint?: Checkpoint;
  onEvent?: (event: SealEvent) => void;
  /** Says what a stop (cancel) of the job means for the run; default 'paused'. */
  stopStatus?: () => 'paused' | 'cancelled';
}

export interface NewSealRun {
  config: unknown;
  name?: string;
  /** Stored in the run so that it can be resumed with the same contexts. */
  contextsSource: Record<string, number | string>;
  /** Stored datasets the contexts come from. */
  datasetIds?: string[];
}

/** Starts a run: stores it (status running), then runs it to its end or a stop. */
export async function startSealRun(options: SealRunOptions, input: NewSealRun): Promise<RunRecord> {
  const config = resolveSealConfig(input.config);
  const run = await options.records.createRun({
    kind: 'seal',
    name: input.name,
    config: {
      seal: config as unknown as Record<string, never>,
      model: options.model.id,
      contexts: input.contextsSource,
    },
    seeds: { run: config.seed },
    datasetIds: input.datasetIds ?? [],
  });
  return driveRun(options, run, config);
}

/** Resumes a paused (or interrupted) run at its stored position. */
export async function resumeSealRun(options: SealRunOptions, runId: string): Promise<RunRecord> {
  const stored = await options.records.getRun(runId);
  if (!stored) throw new Error(`There is no run ${runId} to resume.`);
  const modelId = (stored.config as { model?: string }).model;
  if (modelId !== options.model.id) {
    throw new Error(
      `Run ${runId} was made with model '${modelId}'; load it first (loaded: '${options.model.id}').`,
    );
  }
  const config = sealConfigOfRun(stored);
  const run = await options.records.resumeRun(runId);
  return driveRun(options, run, config);
}

export function sealConfigOfRun(run: RunRecord): SealConfig {
  return resolveSealConfig((run.config as { seal?: unknown }).seal);
}

/**
 * Runs the run from its position to the end, restoring the generator of its round first; the
 * model's weights are the base model's again afterwards, whatever happens.
 */
async function driveRun(
  options: SealRunOptions,
  run: RunRecord,
  config: SealConfig,
): Promise<RunRecord> {
  const { model, records } = options;
  const base = new Map([...model.weights].map(([name, v]) => [name, tf.keep(v.clone())]));
  try {
    if (run.progress.round > 0) await restoreGenerator(options, run.id, run.progress.round - 1);
    options.onEvent?.({ type: 'run', run });
    await runRounds(options, run, config);
    const done = await records.stopRun(run.id, 'done');
    options.onEvent?.({ type: 'done', run: done });
    return done;
  } catch (error) {
    const status = isCancelledError(error) ? (options.stopStatus?.() ?? 'paused') : 'failed';
    const message = isCancelledError(error)
      ? null
      : String((error as Error).message ?? error).slice(0, 1000);
    const stopped = await records.stopRun(run.id, status, message).catch(() => null);
    if (stopped) options.onEvent?.({ type: 'run', run: stopped });
    throw error;
  } finally {
    for (const [name, variable] of model.weights) variable.assign(base.get(name)!);
    tf.dispose([...base.values()]);
  }
}

/** The generator a run kept after `round`, if it got that far. */
async function savedGenerator(
  records: SealRecords,
  runId: string,
  round: number,
): Promise<CheckpointRecord | undefined> {
  return (await records.listCheckpoints(runId)).find((c) => c.round === round && c.kind === 'full');
}

async function loadGenerator(options: SealRunOptions, checkpointId: string): Promise<void> {
  const { tensors } = await options.records.loadCheckpoint(checkpointId);
  for (const { name, shape, data } of tensors) {
    const variable = options.model.weights.get(name);
    if (!variable) {
      throw new Error(`checkpoint ${checkpointId} has '${name}', which the model lacks`);
    }
    tf.tidy(() => variable.assign(tf.tensor(data, shape)));
  }
}

async function restoreGenerator(
  options: SealRunOptions,
  runId: string,
  round: number,
): Promise<void> {
  const saved = await savedGenerator(options.records, runId, round);
  if (!saved) {
    throw new Error(
      `Run ${runId} has no generator checkpoint for round ${round + 1}; it cannot resume.`,
    );
  }
  await loadGenerator(options, saved.id);
}

/** The paper's Algorithm 1, resumed at `run.progress`. */
async function runRounds(
  options: SealRunOptions,
  run: RunRecord,
  config: SealConfig,
): Promise<void> {
  const { records, model, contexts } = options;
  let position = run.progress;
  for (let round = position.round; round <= config.outer.rounds; round++) {
    const plan = planRound(config, contexts, round);
    const runner = new RoundRunner(options, run.id, config);
    // Held-out evaluations, then the E-step: each planned step is one stored episode.
    for (const [index, step] of plan.steps.entries()) {
      if (comparePositions(step.position, position) < 0) continue;
      const next = plan.steps[index + 1]?.position ?? plan.mStepPosition ?? nextRound(round);
      await runner.evaluate(step, next);
      position = next;
    }
    if (plan.mStepPosition === null) break;
    // M-step: fine-tune the generator on the best self-edit of each context, then keep it.
    options.onEvent?.({ type: 'phase', phase: 'learn', position: plan.mStepPosition });
    const episodes = (await records.listEpisodes(run.id)).filter(
      (e: EpisodeRecord) =>
        e.round === round && e.contextIndex >= heldOutUnits(config, contexts).length,
    );
    const kept = selectForMStep(episodes, config.outer.keepOnlyPositive);
    // A run stopped between keeping the generator and moving on reuses the one it kept.
    const saved = await savedGenerator(records, run.id, round);
    if (saved) {
      await loadGenerator(options, saved.id);
    } else {
      await updateGenerator(
        model,
        kept,
        config,
        seedOf(config.seed, STREAM.mStep, round),
        options.checkpoint,
      );
      await records.saveCheckpoint({
        kind: 'full',
        name: `generator after round ${round + 1}`,
        runId: run.id,
        round,
        config: hubConfig(model.config) as Record<string, never>,
        tensors: await weightTensors(model),
      });
    }
    options.onEvent?.({
      type: 'round',
      round,
      kept: kept.length,
      meanReward: episodes.length > 0 ? mean(episodes.map((e) => e.reward)) : null,
    });
    position = nextRound(round);
    await records.advanceRun(run.id, position);
  }
}

function nextRound(round: number): RunPosition {
  return { round: round + 1, contextIndex: 0, sampleIndex: 0 };
}

/** SFT of the generator on (self-edit prompt → kept self-edit), merged into its weights. */
export async function updateGenerator(
  model: SealModel,
  kept: readonly Pick<EpisodeRecord, 'prompt' | 'selfEdit'>[],
  config: SealConfig,
  seed: number,
  checkpoint?: Checkpoint,
): Promise<void> {
  if (kept.length === 0) return;
  const { mStep } = config.outer;
  const { sequences } = tokenizeExamples(
    kept.map((e) => ({ prompt: e.prompt, completion: e.selfEdit })),
    model.tokenizer,
    { lossOn: 'completion', maxLength: model.config.maxPositionEmbeddings, overflow: 'truncate' },
  );
  const options = {
    ...DEFAULT_SFT_OPTIONS,
    epochs: mStep.epochs,
    batchSize: mStep.batchSize,
    learningRate: mStep.learningRate,
    seed,
    reportEvery: Number.MAX_SAFE_INTEGER,
  };
  if (mStep.method === 'full') {
    await trainSft(model, sequences, { kind: 'full' }, options, { checkpoint });
    return;
  }
  const adapter = LoraAdapter.create(model.weights, mStep.lora, seed);
  try {
    await trainSft(model, sequences, { kind: 'lora', adapter }, options, { checkpoint });
    adapter.mergeInto(model.weights);
  } finally {
    adapter.dispose();
  }
}

/** `count` self-edits of a passage, sampled as one batch; each row has its own seeded stream. */
export async function sampleSelfEdits(
  model: SealModel,
  config: Pick<SealConfig, 'selfEdit' | 'format' | 'customPrompt' | 'promptStyle'>,
  passage: Pick<Passage, 'title' | 'context'>,
  seed: number,
  count: number,
  checkpoint?: Checkpoint,
): Promise<string[]> {
  const prompt = model.tokenizer.encode(
    promptText(model, config.promptStyle, selfEditPromptOf(config, passage.title, passage.context)),
  );
  const result = await generate(
    model,
    Array.from({ length: count }, () => prompt),
    {
      maxNewTokens: config.selfEdit.maxNewTokens,
      sampling: {
        temperature: config.selfEdit.temperature,
        topK: 0,
        topP: config.selfEdit.topP,
        seed,
      },
      stopTokenIds: stopIdsOf(model),
      stopStrings: selfEditStopStrings(config.promptStyle),
      decode: (ids) => model.tokenizer.decode(ids),
      checkpoint,
    },
  );
  return result.sequences.map((s) => s.text);
}

/** Evaluates the steps of one round, sharing each context's samples and unadapted probe. */
class RoundRunner {
  private readonly selfEdits = new Map<number, Promise<string[]>>();
  private readonly before = new Map<string, Promise<Probe>>();

  constructor(
    private readonly options: SealRunOptions,
    private readonly runId: string,
    private readonly config: SealConfig,
  ) {}

  private phase(phase: LoopPhase, position: RunPosition) {
    this.options.onEvent?.({ type: 'phase', phase, position });
  }

  /** The unadapted generator's probe on some questions (once per round and context). */
  private probeBefore(key: string, questions: Passage['questions']): Promise<Probe> {
    let probe = this.before.get(key);
    if (!probe) {
      probe = probeClosedBook(
        this.options.model,
        questions,
        this.config,
        undefined,
        this.options.checkpoint,
      );
      this.before.set(key, probe);
    }
    return probe;
  }

  private sample(passage: Passage, seed: number, count: number): Promise<string[]> {
    const { model, checkpoint } = this.options;
    return sampleSelfEdits(model, this.config, passage, seed, count, checkpoint);
  }

  async evaluate(step: PlannedStep, next: RunPosition): Promise<void> {
    const { config, options } = this;
    const { round, contextIndex, sampleIndex } = step.position;
    const started = performance.now();
    this.phase('read', step.position);
    const passages = step.kind === 'held-out' ? step.passages : [step.passage];
    const questions = passages.flatMap((p) =>
      p.questions.slice(0, config.grading.maxQuestions ?? undefined),
    );
    const contextId = passages.map((p) => p.id).join('+');

    // Write: the self-edit (none for the base and passage-only conditions).
    const condition = step.kind === 'held-out' ? step.condition : 'self-edit';
    let completions: string[] = [];
    let sampleSeed = 0;
    const generateStart = performance.now();
    if (condition === 'self-edit') {
      this.phase('write', step.position);
      if (step.kind === 'self-edit') {
        sampleSeed = seedOf(config.seed, STREAM.selfEdits, round, contextIndex);
        let samples = this.selfEdits.get(contextIndex);
        if (!samples) {
          samples = this.sample(step.passage, sampleSeed, config.selfEdit.samples);
          this.selfEdits.set(contextIndex, samples);
        }
        completions = [(await samples)[sampleIndex]!];
      } else {
        sampleSeed = seedOf(config.seed, STREAM.heldOutSelfEdit, round, contextIndex);
        completions = await Promise.all(
          passages.map((p, i) => this.sample(p, streamSeed(sampleSeed, i), 1).then((s) => s[0]!)),
        );
      }
    }
    // Samples of one context are drawn together: each episode carries its share of the time.
    const generateMs =
      (performance.now() - generateStart) /
      (step.kind === 'self-edit' && sampleIndex === 0 ? config.selfEdit.samples : 1);

    const prompts = passages.map((p) =>
      promptText(options.model, config.promptStyle, selfEditPromptOf(config, p.title, p.context)),
    );
    const texts =
      condition === 'base'
        ? []
        : condition === 'passage'
          ? passages.map(passageText)
          : passages.flatMap((p, i) =>
              selfEditTrainingTexts(config.format, p.title, p.context, completions[i]!),
            );

    const loraSeeds = Array.from({ length: config.inner.seeds }, (_, i) =>
      // The same LoRA seeds for every sample of a context: rewards then differ by the self-edit only.
      seedOf(config.seed, STREAM.lora, round, contextIndex, i),
    );
    let result: {
      answers: string[];
      grades: number[];
      accuracy: number;
      reward: number;
      lossCurve: number[];
      trainMs: number;
      gradeMs: number;
    };
    if (texts.length === 0) {
      this.phase('answer', step.position);
      const gradeStart = performance.now();
      const before = await this.probeBefore(contextId, questions);
      result = {
        ...before,
        reward: before.accuracy,
        lossCurve: [],
        trainMs: 0,
        gradeMs: performance.now() - gradeStart,
      };
    } else {
      // Held-out evaluations report accuracy; training self-edits get the configured reward,
      // which may compare with the model's answers before the update.
      const reward = step.kind === 'held-out' ? 'accuracy' : config.reward;
      const before = reward === 'accuracy' ? null : await this.probeBefore(contextId, questions);
      this.phase('finetune', step.position);
      result = await applyTrainingTexts(
        options.model,
        texts,
        questions,
        { ...config, reward },
        before,
        loraSeeds,
        {
          checkpoint: options.checkpoint,
          onAnswering: () => this.phase('answer', step.position),
        },
      );
    }
    this.phase('reward', step.position);
    const episode: NewEpisode = {
      runId: this.runId,
      round,
      contextIndex,
      sampleIndex,
      contextId:
        `${step.kind === 'held-out' ? `held-out/${condition}` : 'train'}/${contextId}`.slice(
          0,
          1000,
        ),
      prompt: condition === 'self-edit' ? prompts.join('\n\n') : '',
      selfEdit: completions.join('\n\n'),
      parsedExamples: texts,
      lossCurve: result.lossCurve,
      answers: result.answers,
      grades: result.grades,
      reward: result.reward,
      seeds: {
        run: config.seed,
        sample: sampleSeed,
        ...Object.fromEntries(loraSeeds.map((seed, i) => [`lora${i}`, seed])),
      },
      timings: {
        generateMs,
        trainMs: result.trainMs,
        gradeMs: result.gradeMs,
        totalMs: performance.now() - started,
      },
      adapterId: null,
    };
    await options.records.appendEpisode(episode, next);
    options.onEvent?.({ type: 'episode', step, episode, accuracy: result.accuracy });
  }
}
