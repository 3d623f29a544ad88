/**
 * Settings of a SEAL run. The defaults are scaled for a model of a few million parameters that
 * must finish a run on a laptop; `PAPER_SETTINGS` holds the values the paper used for
 * Qwen2.5-7B, so the UI and the docs can show both side by side.
 */
import * as v from 'valibot';
import { LORA_TARGETS } from '../train/targets';
import {
  dropoutSchema,
  isDistinct,
  positiveNumberSchema,
  shownValue,
  wholeNumberSchema,
} from '../validation';
import type { GradeMetric } from './grade';
import { SELF_EDIT_FORMATS, selfEditPrompt } from '../prompts';

/**
 * - `improvement`: 1 when the adapted model answers more questions right than the model before
 *   the update, else 0 (the paper's reward).
 * - `accuracy`: the adapted model's share of right answers.
 * - `likelihood-gain`: how much the update raised the mean log-likelihood of the gold answers
 *   (dense, so a tiny model that rarely gets an answer exactly right still gets a signal).
 */
export const REWARD_MODES = ['improvement', 'accuracy', 'likelihood-gain'] as const;
export type RewardMode = (typeof REWARD_MODES)[number];

/**
 * SQuAD's exact match and token F1, or 'judge': the loaded model itself, without the update,
 * asked yes/no against the gold answer (the paper's GPT-4.1 judge, for instruct models).
 */
export type SealGradeMetric = GradeMetric | 'judge';
export const GRADE_METRICS: readonly SealGradeMetric[] = ['exact-match', 'f1', 'judge'];

/**
 * What the held-out evaluation compares before the first round: the base model, training on the
 * passage, on the passage and the generator's self-edits, and on the passage and a teacher's
 * self-edits (synthetic-world contexts only).
 */
export const HELD_OUT_CONDITIONS = ['base', 'passage', 'self-edit', 'teacher'] as const;
export type HeldOutCondition = (typeof HELD_OUT_CONDITIONS)[number];

/** The steps of the loop, as the loop diagram numbers them. */
export const LOOP_PHASES = ['read', 'write', 'finetune', 'answer', 'reward', 'learn'] as const;
export type LoopPhase = (typeof LOOP_PHASES)[number];

const CUSTOM_PROMPT_RULE = "null or a text with '{context}' (and optionally '{title}') in it";
/** Longest own self-edit prompt, in characters (the passage it wraps is not counted). */
const MAX_CUSTOM_PROMPT_LENGTH = 100_000;

/**
 * How the M-step picks the one self-edit of each context it trains on: 'reward', the highest
 * reward (ReST-EM); 'random', one drawn with the run's seed, a control that separates selecting
 * by reward from the sharpening that training on the model's own samples brings by itself.
 */
export const SELF_EDIT_SELECTIONS = ['reward', 'random'] as const;
export type SelfEditSelection = (typeof SELF_EDIT_SELECTIONS)[number];

/** Each schema's message is the rule the value breaks; `resolveSealConfig` adds label and value. */
const wholeNumber = (min: number, rule = `a whole number ≥ ${min}`) => wholeNumberSchema(rule, min);
const positiveNumber = () => positiveNumberSchema('a number > 0');
const oneOf = <const Options extends readonly string[]>(options: Options) =>
  v.picklist(options, `one of ${options.join(', ')}`);

const PROJECTIONS_RULE = `a list of projections from ${LORA_TARGETS.join(', ')}`;
const LoraTargetsSchema = v.pipe(
  v.array(v.picklist(LORA_TARGETS, PROJECTIONS_RULE), PROJECTIONS_RULE),
  v.nonEmpty('a list of at least one projection'),
  v.check((targets) => isDistinct(targets), 'a list that names each projection once'),
);

/** Sampling settings, shared by every experiment that samples from the model. */
export const TemperatureSchema = v.pipe(
  v.number('a number ≥ 0'),
  v.finite('a number ≥ 0'),
  v.minValue(0, 'a number ≥ 0'),
);
export const TopPSchema = v.pipe(
  v.number('a number in (0, 1]'),
  v.gtValue(0, 'a number in (0, 1]'),
  v.maxValue(1, 'a number in (0, 1]'),
);

export const LoraSchema = v.strictObject({
  /** Projection names, as in PEFT's `target_modules`. */
  targets: LoraTargetsSchema,
  rank: wholeNumber(1),
  alpha: positiveNumber(),
  dropout: dropoutSchema('a number in [0, 1)'),
});

const SealConfigSchema = v.strictObject({
  /** Every random choice of the run derives from it. */
  seed: v.pipe(v.number('a whole number'), v.safeInteger('a whole number')),
  format: oneOf(SELF_EDIT_FORMATS),
  /**
   * A prompt of the user's own instead of the format's, with `{title}` and `{context}` where the
   * passage goes; completions are still split as `format` says. Null: the format's prompt.
   */
  customPrompt: v.nullable(
    v.pipe(
      v.string(CUSTOM_PROMPT_RULE),
      v.includes('{context}', CUSTOM_PROMPT_RULE),
      v.maxLength(MAX_CUSTOM_PROMPT_LENGTH, `at most ${MAX_CUSTOM_PROMPT_LENGTH} characters`),
    ),
  ),
  /**
   * 'completion': prompts go to the model as plain text (a base model, as the paper); 'chat':
   * each prompt is the user's turn of the model's chat template (an instruct model).
   */
  promptStyle: oneOf(['completion', 'chat']),
  /**
   * Sampling of self-edits from the generator. A self-edit ends at the model's end of text, at the
   * start of another document, after `maxLines` lines or after `maxNewTokens` tokens; a line cut
   * off by the token limit is dropped.
   */
  selfEdit: v.strictObject({
    samples: wholeNumber(1),
    temperature: TemperatureSchema,
    topP: TopPSchema,
    maxNewTokens: wholeNumber(1),
    maxLines: wholeNumber(1),
  }),
  /** Applying one self-edit: a fresh LoRA fine-tuned on its examples. */
  inner: v.strictObject({
    lora: LoraSchema,
    epochs: wholeNumber(1),
    learningRate: positiveNumber(),
    batchSize: wholeNumber(1),
    /** Fine-tunes per self-edit, each from its own LoRA seed; their rewards are averaged. */
    seeds: wholeNumber(1),
    /** Longest training example in tokens. */
    maxLength: wholeNumber(2),
  }),
  grading: v.strictObject({
    metric: oneOf(GRADE_METRICS),
    maxAnswerTokens: wholeNumber(1),
    /** Ask only the first this many questions of each passage (null: all, as the paper). */
    maxQuestions: v.nullable(wholeNumber(1, 'null (every question) or a whole number ≥ 1')),
  }),
  reward: oneOf(REWARD_MODES),
  /** ReST-EM. */
  outer: v.strictObject({
    rounds: wholeNumber(0),
    contextsPerRound: wholeNumber(1),
    /** Keep only a best self-edit whose reward is above zero. */
    keepOnlyPositive: v.boolean('true or false'),
    selection: oneOf(SELF_EDIT_SELECTIONS),
    /**
     * Of each round's contexts, how many have their self-edits' rewards measured a second time
     * with other seeds, to report how reliably the reward ranks them (0: none).
     */
    rewardCheckContexts: wholeNumber(0),
    /** SFT of the generator on (prompt → kept self-edit); a LoRA is merged afterwards. */
    mStep: v.strictObject({
      method: oneOf(['lora', 'full']),
      lora: LoraSchema,
      epochs: wholeNumber(1),
      learningRate: positiveNumber(),
      batchSize: wholeNumber(1),
    }),
  }),
  /**
   * Evaluation on contexts never trained on, before the first round and after each round. Every
   * condition and round uses the same sampling and LoRA seeds for a context and draw, so their
   * differences are not drowned by the noise of different draws.
   */
  heldOut: v.strictObject({
    contexts: wholeNumber(0),
    /** 'single': one update per passage; 'pooled': `poolSize` passages in one update (CPT). */
    mode: oneOf(['single', 'pooled']),
    poolSize: wholeNumber(1),
    /** Compared before the first round (later rounds evaluate self-edits only). */
    conditions: v.pipe(
      v.array(oneOf(HELD_OUT_CONDITIONS), `a list of ${HELD_OUT_CONDITIONS.join(', ')}`),
      v.check((conditions) => isDistinct(conditions), 'a list that names each condition once'),
    ),
    /** Independent self-edit draws (a sample and a LoRA seed) per context and condition. */
    draws: wholeNumber(1),
    /**
     * Rounds between the first and the last evaluate only the first this many contexts (null:
     * all), which still shows the curve; the first and the last evaluate all of them.
     */
    subsetContexts: v.nullable(wholeNumber(1, 'null (every context) or a whole number ≥ 1')),
    /**
     * After the last round, on the subset: the final generator's self-edits applied to the base
     * model, and the passage alone trained into the final generator, so that a gain can be told
     * apart into better self-edits and a better learner.
     */
    crossConditions: v.boolean('true or false'),
  }),
});

export type SealConfig = v.InferOutput<typeof SealConfigSchema>;

/** Dotted paths of the settings that hold a value (not a group of settings). */
type SettingPath<T> = {
  [K in keyof T & string]: T[K] extends readonly unknown[] | string | number | boolean | null
    ? K
    : `${K}.${SettingPath<T[K]>}`;
}[keyof T & string];

/**
 * Each setting as the SEAL panel labels it, so that an error names what the user sees; settings
 * the panel does not show are named in the same style.
 */
const SETTING_LABELS: Record<SettingPath<SealConfig>, string> = {
  seed: 'Run seed',
  format: 'Self-edit format',
  customPrompt: 'Own self-edit prompt',
  promptStyle: 'Prompts',
  'selfEdit.samples': 'Self-edits per context (K)',
  'selfEdit.temperature': 'Temperature',
  'selfEdit.topP': 'Top-p',
  'selfEdit.maxNewTokens': 'Self-edit tokens',
  'selfEdit.maxLines': 'Self-edit lines',
  'inner.lora.targets': 'Inner LoRA targets',
  'inner.lora.rank': 'Inner LoRA rank',
  'inner.lora.alpha': 'Inner LoRA alpha',
  'inner.lora.dropout': 'Inner LoRA dropout',
  'inner.epochs': 'Inner epochs',
  'inner.learningRate': 'Inner learning rate',
  'inner.batchSize': 'Inner batch size',
  'inner.seeds': 'Seeds per self-edit',
  'inner.maxLength': 'Inner example tokens',
  'grading.metric': 'Grading',
  'grading.maxAnswerTokens': 'Answer tokens',
  'grading.maxQuestions': 'Questions per context',
  reward: 'Reward',
  'outer.rounds': 'Rounds',
  'outer.contextsPerRound': 'Contexts per round',
  'outer.keepOnlyPositive': 'Keep only positive rewards',
  'outer.selection': 'Kept self-edit',
  'outer.rewardCheckContexts': 'Reward checks per round',
  'outer.mStep.method': 'M-step',
  'outer.mStep.lora.targets': 'M-step LoRA targets',
  'outer.mStep.lora.rank': 'M-step LoRA rank',
  'outer.mStep.lora.alpha': 'M-step LoRA alpha',
  'outer.mStep.lora.dropout': 'M-step LoRA dropout',
  'outer.mStep.epochs': 'M-step epochs',
  'outer.mStep.learningRate': 'M-step learning rate',
  'outer.mStep.batchSize': 'M-step batch size',
  'heldOut.contexts': 'Held-out contexts',
  'heldOut.mode': 'Held-out mode',
  'heldOut.poolSize': 'Held-out pool size',
  'heldOut.conditions': 'Held-out conditions',
  'heldOut.draws': 'Draws per held-out context',
  'heldOut.subsetContexts': 'Curve contexts',
  'heldOut.crossConditions': 'Cross conditions',
};

const ALL_PROJECTIONS = [...LORA_TARGETS];

export const DEFAULT_SEAL_CONFIG: SealConfig = {
  seed: 1,
  format: 'implications',
  customPrompt: null,
  promptStyle: 'completion',
  // The default model was trained on 256-token rows and its self-edit prompts take up to 136 of
  // them. The lists it learned from have 3–6 lines; the ones it writes past that drift into other
  // documents, and at 8 lines a third of them still reached the token limit (validation contexts).
  selfEdit: { samples: 5, temperature: 1, topP: 0.95, maxNewTokens: 120, maxLines: 6 },
  // Chosen on validation contexts (half the RL split) with the default model: at 1e-3 an update
  // barely moves its answers; from 5e-3 on, training on self-edits drives it below the base model.
  inner: {
    lora: { targets: ALL_PROJECTIONS, rank: 16, alpha: 32, dropout: 0 },
    epochs: 10,
    learningRate: 3e-3,
    batchSize: 1,
    seeds: 1,
    maxLength: 512,
  },
  grading: { metric: 'exact-match', maxAnswerTokens: 16, maxQuestions: null },
  // An update of a million-parameter model turns few answers exactly right, so the paper's
  // binary reward ties most samples of a passage; the gold answers' likelihood ranks them all.
  reward: 'likelihood-gain',
  outer: {
    rounds: 2,
    contextsPerRound: 24,
    keepOnlyPositive: false,
    selection: 'reward',
    rewardCheckContexts: 0,
    mStep: {
      method: 'lora',
      lora: { targets: ALL_PROJECTIONS, rank: 16, alpha: 32, dropout: 0 },
      epochs: 2,
      learningRate: 3e-4,
      batchSize: 1,
    },
  },
  heldOut: {
    contexts: 12,
    mode: 'single',
    poolSize: 4,
    conditions: ['base', 'passage', 'self-edit'],
    draws: 1,
    subsetContexts: null,
    crossConditions: false,
  },
};

/** The paper's values (Qwen2.5-7B, SQuAD), for display beside the defaults. */
export const PAPER_SETTINGS = {
  'selfEdit.samples': 5,
  'selfEdit.temperature': 1,
  'selfEdit.topP': 0.95,
  'inner.lora.rank': 32,
  'inner.lora.alpha': 64,
  'inner.lora.targets': 'q_proj, v_proj',
  'inner.epochs': 10,
  'inner.learningRate': 1e-3,
  'inner.batchSize': 1,
  'inner.seeds': 3,
  'grading.maxAnswerTokens': 64,
  'grading.metric': 'GPT-4.1 yes/no judge',
  reward: 'improvement',
  'outer.rounds': 2,
  'outer.contextsPerRound': 50,
  'outer.mStep.lora.rank': 64,
  'outer.mStep.lora.alpha': 128,
  'outer.mStep.learningRate': 3e-4,
  'outer.mStep.epochs': 2,
  'outer.mStep.batchSize': 10,
  'heldOut.contexts': 200,
} as const;

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `overrides` laid over `base`, key by key; unknown keys are errors naming their path. */
export function overlay(base: unknown, overrides: unknown, path: string): unknown {
  if (overrides === undefined) return base;
  if (!isPlain(base)) return overrides;
  if (!isPlain(overrides))
    throw new Error(`SEAL config: ${path || 'the config'} must be an object`);
  const result: Plain = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const where = path ? `${path}.${key}` : key;
    if (!(key in base)) {
      throw new Error(
        `SEAL config: unknown setting '${where}' (known: ${Object.keys(base).join(', ')})`,
      );
    }
    result[key] = overlay(base[key], value, where);
  }
  return result;
}

/**
 * The defaults with `overrides` laid over them, checked. An error names the first bad setting
 * as the SEAL panel labels it, the rule it breaks, the value, and its path in the config.
 */
export function resolveSealConfig(overrides: unknown = {}): SealConfig {
  const config = overlay(DEFAULT_SEAL_CONFIG, overrides, '');
  const result = v.safeParse(SealConfigSchema, config, { abortEarly: true });
  if (result.success) return result.output;
  const [issue] = result.issues;
  // An issue inside a list (one bad target) is reported on the whole setting.
  const keys = (issue.path ?? []).map((item) => String(item.key));
  while (keys.length > 0 && !(keys.join('.') in SETTING_LABELS)) keys.pop();
  const path = keys.join('.') as SettingPath<SealConfig>;
  const value = keys.reduce<unknown>((group, key) => (group as Plain)[key], config);
  throw new Error(
    `${SETTING_LABELS[path]} must be ${issue.message}, got ${shownValue(value)} (${path})`,
  );
}

/** The self-edit prompt a run shows for a passage: the user's own, or the format's. */
export function selfEditPromptOf(
  config: Pick<SealConfig, 'format' | 'customPrompt'>,
  title: string,
  context: string,
): string {
  if (config.customPrompt === null) return selfEditPrompt(config.format, title, context);
  return config.customPrompt.replaceAll('{title}', title).replaceAll('{context}', context);
}
