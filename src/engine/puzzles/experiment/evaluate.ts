/**
 * Turning a Table 1 round's planned steps into episodes. A recipe step (held-out or E-step)
 * samples the task's recipes from the round's model — one batch per task and attempt, shared by
 * the task's steps — takes its own row, resampled while invalid, and applies it; an 'oracle' step
 * applies the fixed recipe; an 'icl' step answers in context. The reward is 1 when an attempt of
 * the vote is the test output. Invalid and over-budget recipes are stored too, with reward 0.
 */
import type { SealExecutor } from '../../pool/executor';
import type { NewEpisode, PuzzleEpisode } from '../../store';
import { renderGrid } from '../text';
import { sampleRecipeUntilValid, recipeText, type Recipe, type RecipeSampling } from '../recipe';
import type { PuzzleAnswer, RecipeOutcome } from '../testTimeTraining';
import { recipePrompt } from '../text';
import { oracleRecipe, testTimeTrainingSettings, type Table1Config } from './config';
import { recipeSeeds, type PuzzleStep } from './plan';
import { streamSeed } from '../../random';

export interface PuzzleEvaluatorOptions {
  runId: string;
  round: number;
  config: Table1Config;
  executor: SealExecutor;
}

type Sampled = { sampling: RecipeSampling; ms: number };

const MAX_REASON_LENGTH = 1000;

export class PuzzleRoundEvaluator {
  /** Per task and attempt: the batch of recipe texts (attempt a is sampled only if needed). */
  private readonly batches = new Map<string, Promise<string[]>>();

  constructor(private readonly options: PuzzleEvaluatorOptions) {}

  evaluate(step: PuzzleStep): Promise<NewEpisode> {
    if (step.kind === 'puzzle-eval' && step.condition === 'icl') return this.inContext(step);
    return this.withRecipe(step);
  }

  private samplesPerTask(step: PuzzleStep): number {
    const { config } = this.options;
    return step.kind === 'recipe' ? config.rl.samples : config.evaluation.samples;
  }

  private batch(step: PuzzleStep, sampleSeed: number, attempt: number): Promise<string[]> {
    const key = `${step.kind}/${step.taskIndex}/${attempt}`;
    let batch = this.batches.get(key);
    if (!batch) {
      batch = this.options.executor.run({
        kind: 'recipe-sample',
        prompt: recipePrompt(step.task.task.train),
        sampling: this.options.config.recipes,
        seed: streamSeed(sampleSeed, attempt),
        count: this.samplesPerTask(step),
      });
      this.batches.set(key, batch);
    }
    return batch;
  }

  private async sampleRecipe(step: PuzzleStep, sampleSeed: number): Promise<Sampled> {
    const start = performance.now();
    const sampling = await sampleRecipeUntilValid(
      async (attempt) => (await this.batch(step, sampleSeed, attempt))[step.sampleIndex]!,
      this.options.config.recipes.maxAttempts,
    );
    return { sampling, ms: performance.now() - start };
  }

  private async withRecipe(step: PuzzleStep): Promise<NewEpisode> {
    const { config } = this.options;
    const seeds = recipeSeeds(config, step, this.options.round);
    const oracle = step.kind === 'puzzle-eval' && step.condition === 'oracle';
    const sampled: Sampled = oracle
      ? { sampling: { recipe: oracleRecipe(config), attempts: [] }, ms: 0 }
      : await this.sampleRecipe(step, seeds.sample);
    const recipe = sampled.sampling.recipe;
    const outcome: RecipeOutcome | null = recipe
      ? await this.options.executor.run({
          kind: 'recipe-apply',
          task: step.task.task,
          recipe,
          settings: testTimeTrainingSettings(config),
          seed: seeds.training,
        })
      : null;
    const selfEdit = oracle ? recipeText(recipe!) : (sampled.sampling.attempts.at(-1)?.text ?? '');
    return this.episode(step, {
      selfEdit,
      recipe,
      sampling: sampled.sampling,
      outcome,
      seeds: oracle ? { training: seeds.training } : { ...seeds },
      timings: {
        sampleMs: sampled.ms,
        ...(outcome?.status === 'applied'
          ? { trainMs: outcome.trainMs, answerMs: outcome.answerMs }
          : {}),
      },
    });
  }

  private async inContext(step: PuzzleStep): Promise<NewEpisode> {
    const answer = await this.options.executor.run({
      kind: 'puzzle-answer',
      task: step.task.task,
      settings: testTimeTrainingSettings(this.options.config),
    });
    return this.episode(step, {
      selfEdit: '',
      recipe: null,
      sampling: null,
      outcome: null,
      answer,
      seeds: {},
      timings: { answerMs: answer.answerMs },
    });
  }

  private episode(
    step: PuzzleStep,
    parts: {
      selfEdit: string;
      recipe: Recipe | null;
      sampling: RecipeSampling | null;
      outcome: RecipeOutcome | null;
      answer?: PuzzleAnswer;
      seeds: Record<string, number>;
      timings: Record<string, number>;
    },
  ): NewEpisode {
    const { outcome } = parts;
    const answer = parts.answer ?? (outcome?.status === 'applied' ? outcome : null);
    const status: PuzzleEpisode['status'] = parts.answer
      ? 'in-context'
      : (outcome?.status ?? 'invalid');
    const solved = answer?.solved ?? false;
    const resamples = Math.max(0, (parts.sampling?.attempts.length ?? 0) - 1);
    return {
      runId: this.options.runId,
      ...step.position,
      contextId: step.task.id,
      prompt: parts.sampling ? recipePrompt(step.task.task.train) : '',
      selfEdit: parts.selfEdit,
      parsedExamples: parts.recipe ? [recipeText(parts.recipe)] : [],
      lossCurve: outcome?.status === 'applied' ? outcome.losses : [],
      answers: answer ? answer.vote.attempts.map(renderGrid) : [],
      grades: [solved ? 1 : 0],
      reward: solved ? 1 : 0,
      seeds: parts.seeds,
      timings: parts.timings,
      adapterId: null,
      kind: step.kind,
      metrics: {
        examples: outcome?.exampleCount ?? 0,
        steps: outcome?.steps ?? 0,
        resamples,
      },
      puzzle: {
        ...(step.kind === 'puzzle-eval' ? { condition: step.condition } : {}),
        status,
        // A reason is a short message; a parser's quote of a long text is cut to fit the record.
        samples: (parts.sampling?.attempts ?? []).map(({ text, reason }) => ({
          text,
          reason: reason === null ? null : reason.slice(0, MAX_REASON_LENGTH),
        })),
        examples: outcome?.exampleCount ?? 0,
        steps: outcome?.steps ?? 0,
        ballots: answer?.vote.ballots ?? [],
        attempts: answer?.vote.attempts ?? [],
        solved,
      },
    };
  }
}
