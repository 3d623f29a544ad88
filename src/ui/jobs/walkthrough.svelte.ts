/**
 * The guided walkthrough of one SEAL episode: which step is shown, what each step computed, and
 * the engine job computing the next one. It lives at app level so that leaving the tab keeps it.
 * Next computes a step the first time it is shown; Back only shows what was computed; Play goes
 * on to the last step, pausing on each for a moment to be read.
 */
import type {
  SealConfig,
  WalkthroughEvent,
  WalkthroughPassage,
  WalkthroughRequest,
  WalkthroughSelfEdit,
  WalkthroughUpdate,
} from '../../engine/api';
import { Comlink, newJobId } from '../engineClient';
import { isCancelled, messageOf } from '../errors';
import { app, engine, refreshMemory } from '../state.svelte';

export const WALKTHROUGH_STEPS = [
  'Read a passage',
  'Write a self-edit',
  'Fine-tune',
  'Answer closed book',
  'Reward',
  'Learn to self-edit',
] as const;
export const LAST_STEP = WALKTHROUGH_STEPS.length - 1;

/** The world the default model was trained on, whose passages the walkthrough reads. */
export const WALKTHROUGH_WORLD_SEED = 1;

/**
 * 'full': the SEAL panel's default settings, as a run evaluates a self-edit; 'quick': a short
 * self-edit, two epochs and three questions, for a first look (too small an update to teach much).
 */
export type WalkthroughPace = 'full' | 'quick';
const QUICK_SETTINGS = {
  selfEdit: { maxNewTokens: 32, maxLines: 3 },
  inner: { epochs: 2 },
  grading: { maxAnswerTokens: 6, maxQuestions: 3 },
};

/** How long Play shows a finished step before it goes on. */
const PLAY_PAUSE_MS = 2500;

export const walkthrough = $state({
  pace: 'full' as WalkthroughPace,
  seed: 1,
  /** The settings the episode uses. */
  config: null as SealConfig | null,
  /** The step shown (0-based). */
  shown: 0,
  passage: null as WalkthroughPassage | null,
  /** The self-edit as the model writes it, before it is done. */
  writing: '',
  selfEdit: null as WalkthroughSelfEdit | null,
  /** The model the self-edit and the update were computed on. */
  modelId: null as string | null,
  losses: [] as number[],
  totalSteps: 0,
  answering: false,
  update: null as WalkthroughUpdate | null,
  /** The engine job computing a step, and which step. */
  job: null as { id: string; step: number } | null,
  playing: false,
  message: null as { text: string; bad: boolean } | null,
});

function request(): WalkthroughRequest {
  return {
    worldSeed: WALKTHROUGH_WORLD_SEED,
    seed: walkthrough.seed,
    config: walkthrough.pace === 'quick' ? QUICK_SETTINGS : {},
  };
}

/** Whether step `step`'s results are there to be shown. */
export function isComputed(step: number): boolean {
  if (step === 0) return walkthrough.passage !== null;
  if (step === 1) return walkthrough.selfEdit !== null;
  return walkthrough.update !== null;
}

/** Whether showing the next step needs the model (so another model job blocks it). */
export function nextNeedsModel(): boolean {
  return walkthrough.shown < LAST_STEP && !isComputed(walkthrough.shown + 1);
}

export function canGoNext(): boolean {
  if (walkthrough.shown >= LAST_STEP || walkthrough.job !== null) return false;
  if (!isComputed(walkthrough.shown)) return false;
  return !nextNeedsModel() || (app.modelJob === null && app.loadedModel !== null);
}

/** Reads the passage of the current seed (no model needed), when there is none yet. */
export async function openWalkthrough(): Promise<void> {
  if (walkthrough.passage || walkthrough.job) return;
  try {
    [walkthrough.config, walkthrough.passage] = await Promise.all([
      engine.walkthrough.settings(request()),
      engine.walkthrough.passage(request()),
    ]);
  } catch (error) {
    walkthrough.message = { text: messageOf(error), bad: true };
  }
}

function onEvent(event: WalkthroughEvent): void {
  if (event.type === 'self-edit-text') walkthrough.writing = event.text;
  else if (event.type === 'loss') {
    walkthrough.losses = [...walkthrough.losses, event.loss];
    walkthrough.totalSteps = event.totalSteps;
  } else walkthrough.answering = true;
}

/** Runs the engine job of step `step` (1: the self-edit; 2: the update), showing it live. */
async function compute(step: number): Promise<boolean> {
  const id = newJobId('walkthrough');
  walkthrough.job = { id, step };
  walkthrough.message = null;
  const listener = Comlink.proxy(onEvent);
  try {
    if (step === 1) {
      walkthrough.writing = '';
      walkthrough.modelId = app.loadedModel?.id ?? null;
      walkthrough.selfEdit = await engine.walkthrough.writeSelfEdit(id, request(), listener);
    } else {
      Object.assign(walkthrough, { losses: [], totalSteps: 0, answering: false });
      walkthrough.update = await engine.walkthrough.applySelfEdit(
        id,
        request(),
        walkthrough.selfEdit!.text,
        listener,
      );
    }
    return true;
  } catch (error) {
    walkthrough.message = isCancelled(error)
      ? { text: 'Cancelled: press Next to compute this step again.', bad: false }
      : { text: messageOf(error), bad: true };
    walkthrough.shown = step - 1;
    return false;
  } finally {
    walkthrough.job = null;
    await refreshMemory();
  }
}

/** Shows the next step, computing it the first time. Resolves whether it is shown and done. */
export async function nextStep(): Promise<boolean> {
  if (!canGoNext()) return false;
  const step = walkthrough.shown + 1;
  walkthrough.shown = step;
  return isComputed(step) || compute(step);
}

export function previousStep(): void {
  walkthrough.playing = false;
  walkthrough.shown = Math.max(0, walkthrough.shown - 1);
}

export function showStep(step: number): void {
  if (step <= walkthrough.shown || isComputed(step)) {
    walkthrough.playing = false;
    walkthrough.shown = step;
  }
}

/** Goes through the remaining steps in turn, until the last one, a failure or Pause. */
export async function play(): Promise<void> {
  if (walkthrough.playing) return;
  walkthrough.playing = true;
  try {
    while (walkthrough.playing && walkthrough.shown < LAST_STEP) {
      if (!(await nextStep())) break;
      if (walkthrough.shown < LAST_STEP && walkthrough.playing) {
        await new Promise((resolve) => setTimeout(resolve, PLAY_PAUSE_MS));
      }
    }
  } finally {
    walkthrough.playing = false;
  }
}

/** Stops Play after the step it is on. */
export function pause(): void {
  walkthrough.playing = false;
}

export async function cancelStep(): Promise<void> {
  walkthrough.playing = false;
  if (walkthrough.job) await engine.cancel(walkthrough.job.id);
}

/** Starts over on another passage (the next seed) or with another pace. */
export async function restart(changes: { seed?: number; pace?: WalkthroughPace } = {}) {
  if (walkthrough.job) return;
  Object.assign(walkthrough, {
    ...changes,
    shown: 0,
    passage: null,
    writing: '',
    selfEdit: null,
    modelId: null,
    losses: [],
    totalSteps: 0,
    answering: false,
    update: null,
    playing: false,
    message: null,
  });
  await openWalkthrough();
}
