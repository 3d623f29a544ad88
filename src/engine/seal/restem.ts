/**
 * The outer loop, ReST-EM (the paper's Algorithm 1), with every self-edit evaluation kept as an
 * episode of a stored run. Each round (plan.ts lists its steps):
 *
 *   0. evaluate the current generator on held-out contexts (in round 0, whose generator is the
 *      base model, this also measures the base model alone, training on the passage alone and a
 *      teacher's self-edits: Table 2's rows);
 *   1. E-step: for each context of the round's batch, sample K self-edits from the generator;
 *   2. apply each self-edit to a fresh LoRA on the generator (the inner loop) and reward it;
 *   3. M-step: keep the best self-edit of each context and fine-tune the generator on
 *      (self-edit prompt → kept self-edit), merging the update: the next round's generator.
 *
 * The generator of self-edits and the model they update are the same model. After the last
 * round only step 0 runs, so the held-out accuracy after every round is measured.
 *
 * Independent steps run together on an executor (a pool of workers, or this thread); their
 * episodes are stored in run order. A run's position (round, context, sample) is that of its next
 * episode; the store moves it in the same transaction that stores an episode, and everything is
 * seeded, so a run resumed after a reload redoes exactly the work that was not yet stored and gets
 * the same numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { Checkpoint } from '../jobs';
import type { SealExecutor } from '../pool/executor';
import {
  comparePositions,
  type EpisodeRecord,
  type NewEpisode,
  type RunPosition,
  type RunRecord,
  type SealStore,
} from '../store';
import {
  driveStoredRun,
  evaluateAndStore,
  keepRoundModel,
  nextRound,
  positionsAfter,
  restoreRoundModel,
  stepWindows,
  storedRunToResume,
  type StoredRunOptions,
} from '../storedRun';
import { tokenizeExamples } from '../train/dataset';
import { checkFullyTrainable, withFreshLora } from '../train/lora';
import { DEFAULT_SFT_OPTIONS, trainSft } from '../train/sft';
import { resolveSealConfig, type LoopPhase, type SealConfig } from './config';
import type { SealContexts } from './contexts';
import { episodeKind } from './episodes';
import { RoundEvaluator } from './evaluate';
import type { SealModel } from './innerLoop';
import { planRound, seedOf, STREAM, type PlannedStep, type StepWeights } from './plan';
import { keptSelfEdits } from './selection';
import { mean } from './statistics';

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

export { keptSelfEdits, selectAtRandom, selectForMStep, type Candidate } from './selection';

export type SealEvent =
  | {
      type: 'run';
      run: RunRecord;
      /** Episodes the whole run stores (known once the run has started). */
      totalSteps?: number;
    }
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

export interface SealRunOptions extends StoredRunOptions {
  model: SealModel & { id: string };
  contexts: SealContexts;
  records: SealRecords;
  onEvent?: (event: SealEvent) => void;
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
  // Refused now rather than at the first M-step, after a whole E-step's work.
  if (config.outer.mStep.method === 'full') checkFullyTrainable(options.model.weights);
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
  const config = sealConfigOfRun(await storedRunToResume(options, runId));
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
  return driveStoredRun(options, run, {
    totalSteps: () => totalSteps(config, options.contexts),
    restore: (round) => restoreRoundModel(options, run.id, round),
    runRounds: async (executor, base) => {
      const weights = new WeightSwitch(options.model, base, executor);
      try {
        await runRounds(options, run, config, weights);
      } finally {
        weights.dispose();
      }
    },
  });
}

/**
 * Puts the weights a step needs into the model (and the executor's copies): the round's generator,
 * or the base model for the cross conditions. The generator is kept aside meanwhile.
 */
class WeightSwitch {
  private loaded: StepWeights = 'generator';
  private generator: Map<string, tf.Tensor> | null = null;

  constructor(
    private readonly model: SealModel,
    private readonly base: ReadonlyMap<string, tf.Tensor>,
    readonly executor: SealExecutor,
  ) {}

  async use(weights: StepWeights): Promise<void> {
    if (weights === this.loaded) return;
    const { model } = this;
    if (weights === 'base') {
      this.generator = new Map([...model.weights].map(([name, v]) => [name, tf.keep(v.clone())]));
      for (const [name, variable] of model.weights) variable.assign(this.base.get(name)!);
    } else {
      for (const [name, variable] of model.weights) variable.assign(this.generator!.get(name)!);
      tf.dispose([...this.generator!.values()]);
      this.generator = null;
    }
    this.loaded = weights;
    await this.executor.syncWeights();
  }

  /** Frees the generator kept aside, if a stop came while the base model was in place. */
  dispose(): void {
    if (this.generator) tf.dispose([...this.generator.values()]);
    this.generator = null;
  }
}

/** Episodes a run of `config` stores from start to end. */
export function totalSteps(config: SealConfig, contexts: SealContexts): number {
  let total = 0;
  for (let round = 0; round <= config.outer.rounds; round++) {
    total += planRound(config, contexts, round).steps.length;
  }
  return total;
}

/** The paper's Algorithm 1, resumed at `run.progress`. */
async function runRounds(
  options: SealRunOptions,
  run: RunRecord,
  config: SealConfig,
  weights: WeightSwitch,
): Promise<void> {
  const { records, model, contexts } = options;
  const { executor } = weights;
  let position = run.progress;
  for (let round = position.round; round <= config.outer.rounds; round++) {
    const plan = planRound(config, contexts, round);
    const evaluator = new RoundEvaluator({
      runId: run.id,
      round,
      config,
      contexts,
      model,
      executor,
      storedEpisodes: () => records.listEpisodes(run.id),
      onPhase: (phase: LoopPhase, at: RunPosition) =>
        options.onEvent?.({ type: 'phase', phase, position: at }),
    });
    const nextOf = positionsAfter(plan.steps, plan.mStepPosition ?? nextRound(round));
    // Held-out evaluations, then the E-step: each planned step is one stored episode.
    const pending = plan.steps.filter((step) => comparePositions(step.position, position) >= 0);
    // A round may not begin at its first position (a control run evaluates nothing held out
    // before its first round): the run moves to where its next episode will be.
    if (pending.length > 0 && comparePositions(pending[0]!.position, position) > 0) {
      position = pending[0]!.position;
      await records.advanceRun(run.id, position);
    }
    await evaluateAndStore(
      stepWindows(pending, executor.parallelism, (a, b) => a.weights === b.weights),
      {
        beforeWindow: (first) => weights.use(first.weights),
        evaluate: (step) => evaluator.evaluate(step),
        store: async (step, { episode, accuracy }) => {
          position = nextOf.get(step)!;
          await records.appendEpisode(episode, position);
          options.onEvent?.({ type: 'episode', step, episode, accuracy });
        },
        checkpoint: options.checkpoint,
      },
    );
    await weights.use('generator');
    if (plan.mStepPosition === null) break;
    // M-step: fine-tune the generator on the kept self-edit of each context, then keep it.
    options.onEvent?.({ type: 'phase', phase: 'learn', position: plan.mStepPosition });
    const episodes = (await records.listEpisodes(run.id)).filter(
      (e: EpisodeRecord) => e.round === round && episodeKind(e) === 'self-edit',
    );
    const kept = keptSelfEdits(config, round, episodes);
    await keepRoundModel(
      options,
      run.id,
      round,
      // Round r's generator has had r M-steps: this one writes round round + 1's self-edits.
      `round ${round + 1} generator (after round ${round}'s M-step)`,
      () =>
        updateGenerator(
          model,
          kept,
          config,
          seedOf(config.seed, STREAM.mStep, round),
          options.checkpoint,
        ),
    );
    await executor.syncWeights();
    options.onEvent?.({
      type: 'round',
      round,
      kept: kept.length,
      meanReward:
        config.outer.selection === 'reward' && episodes.length > 0
          ? mean(episodes.map((e) => e.reward))
          : null,
    });
    position = nextRound(round);
    await records.advanceRun(run.id, position);
  }
}

/** SFT of the generator on (self-edit prompt → kept self-edit), merged into its weights. */
export async function updateGenerator(
  model: SealModel,
  kept: readonly Pick<EpisodeRecord, 'prompt' | 'selfEdit'>[],
  config: { outer: Pick<SealConfig['outer'], 'mStep'> },
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
  await withFreshLora(model.weights, mStep.lora, seed, async (adapter) => {
    await trainSft(model, sequences, { kind: 'lora', adapter }, options, { checkpoint });
    adapter.mergeInto(model.weights);
  });
}
