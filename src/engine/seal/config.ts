/**
 * Settings of a SEAL run. The defaults are scaled for a model of a few million parameters that
 * must finish a run on a laptop; `PAPER_SETTINGS` holds the values the paper used for
 * Qwen2.5-7B, so the UI and the docs can show both side by side.
 */
import { LORA_TARGETS } from '../train/targets';
import type { LoraSettings } from '../train/lora';
import type { GradeMetric } from './grade';
import { SELF_EDIT_FORMATS, selfEditPrompt, type SelfEditFormat } from './prompts';

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

export interface SealConfig {
  /** Every random choice of the run derives from it. */
  seed: number;
  format: SelfEditFormat;
  /**
   * A prompt of the user's own instead of the format's, with `{title}` and `{context}` where the
   * passage goes; completions are still split as `format` says. Null: the format's prompt.
   */
  customPrompt: string | null;
  /**
   * 'completion': prompts go to the model as plain text (a base model, as the paper); 'chat':
   * each prompt is the user's turn of the model's chat template (an instruct model).
   */
  promptStyle: 'completion' | 'chat';
  /**
   * Sampling of self-edits from the generator. A self-edit ends at the model's end of text, at the
   * start of another document, after `maxLines` lines or after `maxNewTokens` tokens; a line cut
   * off by the token limit is dropped.
   */
  selfEdit: {
    samples: number;
    temperature: number;
    topP: number;
    maxNewTokens: number;
    maxLines: number;
  };
  /** Applying one self-edit: a fresh LoRA fine-tuned on its examples. */
  inner: {
    lora: LoraSettings;
    epochs: number;
    learningRate: number;
    batchSize: number;
    /** Fine-tunes per self-edit, each from its own LoRA seed; their rewards are averaged. */
    seeds: number;
    /** Longest training example in tokens. */
    maxLength: number;
  };
  grading: {
    metric: SealGradeMetric;
    maxAnswerTokens: number;
    /** Ask only the first this many questions of each passage (null: all, as the paper). */
    maxQuestions: number | null;
  };
  reward: RewardMode;
  /** ReST-EM. */
  outer: {
    rounds: number;
    contextsPerRound: number;
    /** Keep only a best self-edit whose reward is above zero. */
    keepOnlyPositive: boolean;
    /**
     * How the M-step picks each context's kept self-edit: the highest reward (ReST-EM), or one at
     * random, a control that trains on the model's own samples without selecting them.
     */
    selection: 'reward' | 'random';
    /**
     * Of each round's contexts, how many have their self-edits' rewards measured a second time
     * with other seeds, to report how reliably the reward ranks them (0: none).
     */
    rewardCheckContexts: number;
    /** SFT of the generator on (prompt → kept self-edit); a LoRA is merged afterwards. */
    mStep: {
      method: 'lora' | 'full';
      lora: LoraSettings;
      epochs: number;
      learningRate: number;
      batchSize: number;
    };
  };
  /**
   * Evaluation on contexts never trained on, before the first round and after each round. Every
   * condition and round uses the same sampling and LoRA seeds for a context and draw, so their
   * differences are not drowned by the noise of different draws.
   */
  heldOut: {
    contexts: number;
    /** 'single': one update per passage; 'pooled': `poolSize` passages in one update (CPT). */
    mode: 'single' | 'pooled';
    poolSize: number;
    /** Compared before the first round (later rounds evaluate self-edits only). */
    conditions: HeldOutCondition[];
    /** Independent self-edit draws (a sample and a LoRA seed) per context and condition. */
    draws: number;
    /**
     * Rounds between the first and the last evaluate only the first this many contexts (null:
     * all), which still shows the curve; the first and the last evaluate all of them.
     */
    subsetContexts: number | null;
    /**
     * After the last round, on the subset: the final generator's self-edits applied to the base
     * model, and the passage alone trained into the final generator, so that a gain can be told
     * apart into better self-edits and a better learner.
     */
    crossConditions: boolean;
  };
}

const ALL_PROJECTIONS = [...LORA_TARGETS];

export const DEFAULT_SEAL_CONFIG: SealConfig = {
  seed: 1,
  format: 'implications',
  customPrompt: null,
  promptStyle: 'completion',
  // The default model was trained on 256-token rows and its self-edit prompts take up to 136 of
  // them; the self-edits it ends by itself have 3–8 lines, and longer ones drift into other
  // documents.
  selfEdit: { samples: 5, temperature: 1, topP: 0.95, maxNewTokens: 120, maxLines: 8 },
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
function overlay(base: unknown, overrides: unknown, path: string): unknown {
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

function check(condition: boolean, field: string, rule: string, value: unknown): void {
  if (!condition) {
    throw new Error(`SEAL config: ${field} must be ${rule}, got ${JSON.stringify(value)}`);
  }
}

const isCount = (value: number) => Number.isInteger(value) && value >= 1;

function checkLora(lora: LoraSettings, field: string): void {
  check(isCount(lora.rank), `${field}.rank`, 'a positive whole number', lora.rank);
  check(lora.alpha > 0, `${field}.alpha`, 'positive', lora.alpha);
  check(lora.dropout >= 0 && lora.dropout < 1, `${field}.dropout`, 'in [0, 1)', lora.dropout);
  check(
    Array.isArray(lora.targets) && lora.targets.length > 0,
    `${field}.targets`,
    'a non-empty list of projection names',
    lora.targets,
  );
}

/** The defaults with `overrides` laid over them, checked; every bad field is named. */
export function resolveSealConfig(overrides: unknown = {}): SealConfig {
  const config = overlay(DEFAULT_SEAL_CONFIG, overrides, '') as SealConfig;
  check(Number.isInteger(config.seed), 'seed', 'a whole number', config.seed);
  check(
    (SELF_EDIT_FORMATS as readonly string[]).includes(config.format),
    'format',
    `one of ${SELF_EDIT_FORMATS.join(', ')}`,
    config.format,
  );
  check(
    config.customPrompt === null ||
      (typeof config.customPrompt === 'string' && config.customPrompt.includes('{context}')),
    'customPrompt',
    "null or a text with '{context}' (and optionally '{title}') in it",
    config.customPrompt,
  );
  check(
    config.promptStyle === 'completion' || config.promptStyle === 'chat',
    'promptStyle',
    "'completion' or 'chat'",
    config.promptStyle,
  );
  const { selfEdit, inner, grading, outer, heldOut } = config;
  check(isCount(selfEdit.samples), 'selfEdit.samples', 'a positive whole number', selfEdit.samples);
  check(selfEdit.temperature >= 0, 'selfEdit.temperature', '≥ 0', selfEdit.temperature);
  check(selfEdit.topP > 0 && selfEdit.topP <= 1, 'selfEdit.topP', 'in (0, 1]', selfEdit.topP);
  check(
    isCount(selfEdit.maxNewTokens),
    'selfEdit.maxNewTokens',
    'a positive whole number',
    selfEdit.maxNewTokens,
  );
  check(
    isCount(selfEdit.maxLines),
    'selfEdit.maxLines',
    'a positive whole number',
    selfEdit.maxLines,
  );
  checkLora(inner.lora, 'inner.lora');
  check(isCount(inner.epochs), 'inner.epochs', 'a positive whole number', inner.epochs);
  check(inner.learningRate > 0, 'inner.learningRate', 'positive', inner.learningRate);
  check(isCount(inner.batchSize), 'inner.batchSize', 'a positive whole number', inner.batchSize);
  check(isCount(inner.seeds), 'inner.seeds', 'a positive whole number', inner.seeds);
  check(inner.maxLength >= 2, 'inner.maxLength', 'at least 2', inner.maxLength);
  check(
    (GRADE_METRICS as readonly string[]).includes(grading.metric),
    'grading.metric',
    `one of ${GRADE_METRICS.join(', ')}`,
    grading.metric,
  );
  check(
    isCount(grading.maxAnswerTokens),
    'grading.maxAnswerTokens',
    'a positive whole number',
    grading.maxAnswerTokens,
  );
  check(
    grading.maxQuestions === null || isCount(grading.maxQuestions),
    'grading.maxQuestions',
    'null or a positive whole number',
    grading.maxQuestions,
  );
  check(
    (REWARD_MODES as readonly string[]).includes(config.reward),
    'reward',
    `one of ${REWARD_MODES.join(', ')}`,
    config.reward,
  );
  check(
    Number.isInteger(outer.rounds) && outer.rounds >= 0,
    'outer.rounds',
    'a whole number ≥ 0',
    outer.rounds,
  );
  check(
    isCount(outer.contextsPerRound),
    'outer.contextsPerRound',
    'a positive whole number',
    outer.contextsPerRound,
  );
  check(
    outer.mStep.method === 'lora' || outer.mStep.method === 'full',
    'outer.mStep.method',
    "'lora' or 'full'",
    outer.mStep.method,
  );
  checkLora(outer.mStep.lora, 'outer.mStep.lora');
  check(
    isCount(outer.mStep.epochs),
    'outer.mStep.epochs',
    'a positive whole number',
    outer.mStep.epochs,
  );
  check(
    outer.mStep.learningRate > 0,
    'outer.mStep.learningRate',
    'positive',
    outer.mStep.learningRate,
  );
  check(
    isCount(outer.mStep.batchSize),
    'outer.mStep.batchSize',
    'a positive whole number',
    outer.mStep.batchSize,
  );
  check(
    Number.isInteger(heldOut.contexts) && heldOut.contexts >= 0,
    'heldOut.contexts',
    'a whole number ≥ 0',
    heldOut.contexts,
  );
  check(
    heldOut.mode === 'single' || heldOut.mode === 'pooled',
    'heldOut.mode',
    "'single' or 'pooled'",
    heldOut.mode,
  );
  check(isCount(heldOut.poolSize), 'heldOut.poolSize', 'a positive whole number', heldOut.poolSize);
  check(isCount(heldOut.draws), 'heldOut.draws', 'a positive whole number', heldOut.draws);
  check(
    heldOut.subsetContexts === null || isCount(heldOut.subsetContexts),
    'heldOut.subsetContexts',
    'null or a positive whole number',
    heldOut.subsetContexts,
  );
  check(
    typeof heldOut.crossConditions === 'boolean',
    'heldOut.crossConditions',
    'true or false',
    heldOut.crossConditions,
  );
  check(
    outer.selection === 'reward' || outer.selection === 'random',
    'outer.selection',
    "'reward' or 'random'",
    outer.selection,
  );
  check(
    Number.isInteger(outer.rewardCheckContexts) && outer.rewardCheckContexts >= 0,
    'outer.rewardCheckContexts',
    'a whole number ≥ 0',
    outer.rewardCheckContexts,
  );
  check(
    Array.isArray(heldOut.conditions) &&
      heldOut.conditions.every((c) => (HELD_OUT_CONDITIONS as readonly string[]).includes(c)),
    'heldOut.conditions',
    `a list of ${HELD_OUT_CONDITIONS.join(', ')}`,
    heldOut.conditions,
  );
  return config;
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
