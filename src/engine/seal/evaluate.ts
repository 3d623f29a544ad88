/**
 * Turning a round's planned steps into episodes. Two kinds of step, two paths:
 *
 * - a held-out evaluation trains a fresh LoRA on what its condition says (nothing, the passage,
 *   the passage and a self-edit, …) and reports the share of right closed-book answers;
 * - a training self-edit (and its reward check) is sampled from the generator, applied with the
 *   configured number of LoRA seeds, and rewarded against the generator's answers before the
 *   update; under random selection it is only sampled.
 *
 * The work runs through an executor (this thread, or a pool of workers). A context's samples and
 * the generator's probe of a context are computed once per round and shared by its steps.
 */
import type { EpisodeRecord, NewEpisode, Passage, RunPosition } from '../store';
import { streamSeed } from '../random';
import type { SealExecutor } from '../pool/executor';
import type { ApplyTask } from '../pool/tasks';
import { selfEditPromptOf, type LoopPhase, type SealConfig } from './config';
import type { SealContexts } from './contexts';
import { episodeCondition, episodeContext, episodeDraw } from './episodes';
import { promptText, type AppliedSelfEdit, type Probe, type SealModel } from './innerLoop';
import type { SelfEditFormat } from '../prompts';
import { seedOf, STREAM, type PlannedStep } from './plan';
import type { SampledSelfEdit } from './sampleSelfEdits';
import { selfEditLines, selfEditTrainingTexts } from './selfEdit';

export interface EvaluatedStep {
  episode: NewEpisode;
  /** The share of right answers after the update (before any, for the base condition). */
  accuracy: number;
}

export interface RoundEvaluatorOptions {
  runId: string;
  round: number;
  config: SealConfig;
  contexts: SealContexts;
  /** For the prompts' text (chat templates); the work itself runs on the executor. */
  model: SealModel;
  executor: SealExecutor;
  /** Episodes stored so far (the cross conditions reuse the final generator's self-edits). */
  storedEpisodes: () => Promise<EpisodeRecord[]>;
  onPhase?: (phase: LoopPhase, position: RunPosition) => void;
}

type HeldOutStep = Extract<PlannedStep, { kind: 'held-out' }>;
type TrainingStep = Exclude<PlannedStep, HeldOutStep>;

function passageText(passage: Passage): string {
  return `${passage.title}\n${passage.context}`;
}

/** Diagnostics of a self-edit's lines: how many, and how many agree with or contradict the world. */
function lineMetrics(
  contexts: SealContexts,
  format: SelfEditFormat,
  passages: readonly Passage[],
  completions: readonly string[],
): Record<string, number> {
  let lines = 0;
  let consistent = 0;
  let contradicting = 0;
  passages.forEach((passage, i) => {
    for (const line of selfEditLines(format, completions[i] ?? '')) {
      lines += 1;
      const verdict = contexts.world?.checkLine(passage, line);
      if (verdict === 'consistent') consistent += 1;
      if (verdict === 'contradicts') contradicting += 1;
    }
  });
  return contexts.world
    ? { lines, consistent_lines: consistent, contradicting_lines: contradicting }
    : { lines };
}

/** The numbers every reward mode is computed from, so any of them can be recomputed later. */
function rewardMetrics(applied: AppliedSelfEdit, before: Probe | null): Record<string, number> {
  const metrics: Record<string, number> = {};
  if (before) {
    metrics.before_accuracy = before.accuracy;
    metrics.before_gold_log_likelihood = before.goldLogLikelihood;
  }
  applied.seedScores.forEach((score, i) => {
    metrics[`seed${i}_accuracy`] = score.accuracy;
    metrics[`seed${i}_gold_log_likelihood`] = score.goldLogLikelihood;
  });
  return metrics;
}

export class RoundEvaluator {
  private readonly samples = new Map<number, Promise<{ sampled: SampledSelfEdit[]; ms: number }>>();
  private readonly probes = new Map<string, Promise<Probe>>();
  private crossSources: Promise<Map<string, EpisodeRecord>> | null = null;

  constructor(private readonly options: RoundEvaluatorOptions) {}

  evaluate(step: PlannedStep): Promise<EvaluatedStep> {
    this.options.onPhase?.('read', step.position);
    return step.kind === 'held-out' ? this.heldOut(step) : this.trainingSelfEdit(step);
  }

  private questionsOf(passages: readonly Passage[]) {
    const limit = this.options.config.grading.maxQuestions ?? undefined;
    return passages.flatMap((p) => p.questions.slice(0, limit));
  }

  private promptOf(passage: Passage): string {
    const { model, config } = this.options;
    return promptText(
      model,
      config.promptStyle,
      selfEditPromptOf(config, passage.title, passage.context),
    );
  }

  /** The generator's answers before any update (once per context and round). */
  private probe(key: string, passages: readonly Passage[]): Promise<Probe> {
    let probe = this.probes.get(key);
    if (!probe) {
      const { config, executor } = this.options;
      probe = executor.run({
        kind: 'probe',
        questions: this.questionsOf(passages),
        config: { grading: config.grading, promptStyle: config.promptStyle },
      });
      this.probes.set(key, probe);
    }
    return probe;
  }

  private sample(passage: Passage, seed: number, count: number): Promise<SampledSelfEdit[]> {
    const { config, executor } = this.options;
    return executor.run({
      kind: 'sample',
      config: {
        selfEdit: config.selfEdit,
        format: config.format,
        customPrompt: config.customPrompt,
        promptStyle: config.promptStyle,
      },
      passage: { title: passage.title, context: passage.context },
      seed,
      count,
    });
  }

  private apply(
    texts: string[],
    passages: readonly Passage[],
    reward: SealConfig['reward'] | 'accuracy',
    before: Probe | null,
    loraSeeds: number[],
  ): Promise<AppliedSelfEdit> {
    const { config, executor } = this.options;
    const task: ApplyTask = {
      kind: 'apply',
      texts,
      questions: this.questionsOf(passages),
      config: {
        inner: config.inner,
        grading: config.grading,
        reward,
        promptStyle: config.promptStyle,
      },
      before,
      loraSeeds,
    };
    return executor.run(task);
  }

  /** The final generator's self-edit episodes of this round, by context and draw. */
  private crossSource(step: HeldOutStep, contextId: string): Promise<EpisodeRecord> {
    this.crossSources ??= this.options
      .storedEpisodes()
      .then(
        (episodes) =>
          new Map(
            episodes
              .filter((e) => e.round === step.position.round && episodeCondition(e) === 'self-edit')
              .map((e) => [`${episodeContext(e)}#${episodeDraw(e)}`, e]),
          ),
      );
    return this.crossSources.then((sources) => {
      const source = sources.get(`${contextId}#${step.draw}`);
      if (!source) {
        throw new Error(
          `the generator's self-edit of ${contextId} (draw ${step.draw}) is not stored: the cross condition has nothing to apply`,
        );
      }
      return source;
    });
  }

  private async heldOut(step: HeldOutStep): Promise<EvaluatedStep> {
    const { config, contexts, runId, onPhase } = this.options;
    const { passages, condition, unit, draw, position } = step;
    const contextId = passages.map((p) => p.id).join('+');
    const started = performance.now();
    let completions: string[] = [];
    let texts: string[] = [];
    let sampleSeed = 0;
    let truncated = 0;
    const writes = condition !== 'base' && condition !== 'passage';
    if (writes) onPhase?.('write', position);
    switch (condition) {
      case 'base':
        break;
      case 'passage':
        texts = passages.map(passageText);
        break;
      case 'self-edit': {
        // No round in the seed: every round draws the same way (common random numbers).
        sampleSeed = seedOf(config.seed, STREAM.heldOutSelfEdit, unit, draw);
        const sampled = await Promise.all(
          passages.map((p, i) => this.sample(p, streamSeed(sampleSeed, i), 1).then((s) => s[0]!)),
        );
        completions = sampled.map((s) => s.text);
        truncated = sampled.filter((s) => s.truncated).length;
        texts = passages.flatMap((p, i) =>
          selfEditTrainingTexts(config.format, p.title, p.context, completions[i]!),
        );
        break;
      }
      case 'teacher': {
        sampleSeed = seedOf(config.seed, STREAM.teacher, unit, draw);
        completions = passages.map((p, i) =>
          contexts.world!.teacherSelfEdit(p, streamSeed(sampleSeed, i)),
        );
        texts = passages.flatMap((p, i) =>
          selfEditTrainingTexts('implications', p.title, p.context, completions[i]!),
        );
        break;
      }
      case 'self-edit-on-base': {
        const source = await this.crossSource(step, contextId);
        completions = source.selfEdit.split('\n\n');
        texts = source.parsedExamples;
        sampleSeed = source.seeds.sample ?? 0;
        break;
      }
    }
    const generateMs = performance.now() - started;
    const loraSeed = seedOf(config.seed, STREAM.heldOutLora, unit, draw);
    onPhase?.(texts.length === 0 ? 'answer' : 'finetune', position);
    const result =
      texts.length === 0
        ? await this.probe(contextId, passages).then((probe) => ({
            ...probe,
            lossCurve: [] as number[],
            trainMs: 0,
            gradeMs: 0,
          }))
        : await this.apply(texts, passages, 'accuracy', null, [loraSeed]);
    onPhase?.('reward', position);
    const episode: NewEpisode = {
      runId,
      round: position.round,
      contextIndex: position.contextIndex,
      sampleIndex: position.sampleIndex,
      kind: 'held-out',
      condition,
      draw,
      contextId: contextId.slice(0, 1000),
      prompt: writes ? passages.map((p) => this.promptOf(p)).join('\n\n') : '',
      selfEdit: completions.join('\n\n'),
      parsedExamples: texts,
      lossCurve: result.lossCurve,
      answers: result.answers,
      grades: result.grades,
      reward: result.accuracy,
      seeds: { run: config.seed, sample: sampleSeed, lora0: loraSeed },
      timings: {
        generateMs,
        trainMs: result.trainMs,
        gradeMs: result.gradeMs,
        totalMs: performance.now() - started,
      },
      metrics: writes
        ? {
            // The teacher writes one statement a line, whatever the run's format.
            ...lineMetrics(
              contexts,
              condition === 'teacher' ? 'implications' : config.format,
              passages,
              completions,
            ),
            truncated,
          }
        : {},
      adapterId: null,
    };
    return { episode, accuracy: result.accuracy };
  }

  /** A context's K self-edits, sampled once as one batch and shared by its steps. */
  private samplesOf(step: TrainingStep): Promise<{ sampled: SampledSelfEdit[]; ms: number }> {
    let samples = this.samples.get(step.batchIndex);
    if (!samples) {
      const { config, round } = this.options;
      const started = performance.now();
      samples = this.sample(
        step.passage,
        seedOf(config.seed, STREAM.selfEdits, round, step.batchIndex),
        config.selfEdit.samples,
      ).then((sampled) => ({ sampled, ms: performance.now() - started }));
      this.samples.set(step.batchIndex, samples);
    }
    return samples;
  }

  private async trainingSelfEdit(step: TrainingStep): Promise<EvaluatedStep> {
    const { config, contexts, runId, round, onPhase } = this.options;
    const { passage, position } = step;
    const started = performance.now();
    onPhase?.('write', position);
    const { sampled, ms } = await this.samplesOf(step);
    const selfEdit = sampled[step.sampleIndex]!;
    const texts = selfEditTrainingTexts(
      config.format,
      passage.title,
      passage.context,
      selfEdit.text,
    );
    const stream = step.kind === 'self-edit' ? STREAM.lora : STREAM.rewardCheckLora;
    const loraSeeds = Array.from({ length: config.inner.seeds }, (_, i) =>
      // The same LoRA seeds for every sample of a context: rewards then differ by the self-edit only.
      seedOf(config.seed, stream, round, step.batchIndex, i),
    );
    const diagnostics = {
      ...lineMetrics(contexts, config.format, [passage], [selfEdit.text]),
      truncated: selfEdit.truncated ? 1 : 0,
    };
    let outcome: { applied: AppliedSelfEdit; before: Probe } | null = null;
    if (config.outer.selection === 'reward') {
      const before = await this.probe(passage.id, [passage]);
      onPhase?.('finetune', position);
      outcome = {
        applied: await this.apply(texts, [passage], config.reward, before, loraSeeds),
        before,
      };
    }
    onPhase?.('reward', position);
    const episode: NewEpisode = {
      runId,
      round,
      contextIndex: position.contextIndex,
      sampleIndex: position.sampleIndex,
      kind: step.kind,
      contextId: passage.id.slice(0, 1000),
      prompt: this.promptOf(passage),
      selfEdit: selfEdit.text,
      parsedExamples: texts,
      lossCurve: outcome?.applied.lossCurve ?? [],
      answers: outcome?.applied.answers ?? [],
      grades: outcome?.applied.grades ?? [],
      // Under random selection nothing is rewarded.
      reward: outcome?.applied.reward ?? 0,
      seeds: {
        run: config.seed,
        sample: seedOf(config.seed, STREAM.selfEdits, round, step.batchIndex),
        ...Object.fromEntries(loraSeeds.map((seed, i) => [`lora${i}`, seed])),
      },
      timings: {
        // Samples of one context are drawn together: each episode carries its share of the time.
        generateMs: ms / config.selfEdit.samples,
        trainMs: outcome?.applied.trainMs ?? 0,
        gradeMs: outcome?.applied.gradeMs ?? 0,
        totalMs: performance.now() - started,
      },
      metrics: outcome
        ? { ...diagnostics, ...rewardMetrics(outcome.applied, outcome.before) }
        : diagnostics,
      adapterId: null,
    };
    return { episode, accuracy: outcome?.applied.accuracy ?? 0 };
  }
}
