/**
 * The Puzzles panel's tasks, recipe, running job and results, kept at app level so that they
 * outlive the panel: leaving the tab and coming back shows the task, the job and its answer as
 * they were.
 */
import type {
  BrowsableSplit,
  PuzzleAnswer,
  RecipeEvent,
  RecipeOutcome,
  WorldTaskView,
} from '../../engine/api';
import { arcTaskJson } from '../../engine/puzzles/arc';
import type { PuzzleTask } from '../../engine/puzzles/grid';
import type { Recipe } from '../../engine/puzzles/recipe';
import { STARTING_RECIPE } from '../../engine/puzzles/tryout';
import type { PuzzleTaskRecord } from '../../engine/store';
import { downloadFile } from '../download';
import { Comlink, newJobId } from '../engineClient';
import { isCancelled, messageOf } from '../errors';
import { app, engine, onEngineEvent, refreshMemory } from '../state.svelte';
import { coalesced } from './coalesce';

/** A task the panel can show: one of the world's, or one imported from an ARC file. */
export interface ShownTask {
  /** `world:<id>` or `stored:<id>`, unique across both. */
  key: string;
  name: string;
  task: PuzzleTask;
  /** The world's split; null for an imported task. */
  split: BrowsableSplit | null;
  /** The world's rule in words; null for an imported task. */
  rule: string | null;
  /** The store's id of an imported task. */
  storedId: string | null;
}

export interface TttRun {
  /** Examples and optimizer steps the recipe made of the task, once the engine has planned them. */
  planned: { exampleCount: number; steps: number; maxSteps: number } | null;
  losses: number[];
  outcome: RecipeOutcome | null;
}

export const puzzleState = $state({
  worldSeed: 1,
  /** Evaluation tasks are held out of everything the model learns from; shown only on request. */
  showHeldOut: false,
  worldTasks: [] as WorldTaskView[],
  storedTasks: [] as PuzzleTaskRecord[],
  selectedKey: null as string | null,
  showRule: false,
  importMessage: null as { text: string; bad: boolean } | null,
  recipe: { ...STARTING_RECIPE } as Recipe,
  recipeSeed: 1,
  /** Why the loaded model cannot try puzzles, or null when it can. */
  modelProblem: null as string | null,
  job: null as { id: string; kind: 'in-context' | 'ttt' } | null,
  inContext: null as PuzzleAnswer | null,
  ttt: null as TttRun | null,
  message: null as { text: string; bad: boolean } | null,
});

function worldTaskShown({ id, split, rule, task }: WorldTaskView): ShownTask {
  return { key: `world:${id}`, name: id, task, split, rule, storedId: null };
}

function storedTaskShown(record: PuzzleTaskRecord): ShownTask {
  return {
    key: `stored:${record.id}`,
    name: record.name,
    task: record.task,
    split: null,
    rule: null,
    storedId: record.id,
  };
}

export function shownTasks(): ShownTask[] {
  return [
    ...puzzleState.worldTasks.map(worldTaskShown),
    ...puzzleState.storedTasks.map(storedTaskShown),
  ];
}

export function selectedTask(): ShownTask | null {
  return shownTasks().find((task) => task.key === puzzleState.selectedKey) ?? null;
}

/** Whether the panel may start a model job: its model reads puzzles and no job holds the model. */
export function canTry(): boolean {
  return (
    app.modelJob === null &&
    puzzleState.job === null &&
    puzzleState.modelProblem === null &&
    selectedTask() !== null
  );
}

let listening = false;

/**
 * Loads the world's and the imported tasks when the panel first opens; from then on a store
 * change reloads the imported ones and a model change says again whether it reads puzzles.
 */
export async function openPuzzlesPanel(): Promise<void> {
  if (listening) return;
  listening = true;
  onEngineEvent((event) => {
    if (event.type === 'store' && event.change.kind === 'puzzle') void refreshStored();
    if (event.type === 'model') void refreshModelProblem();
  });
  await Promise.all([refreshWorld(), refreshStored(), refreshModelProblem()]);
}

export const refreshWorld = coalesced(async () => {
  const splits: BrowsableSplit[] = ['rl', 'validation'];
  if (puzzleState.showHeldOut) splits.push('evaluation');
  try {
    puzzleState.worldTasks = await engine.puzzles.listWorldTasks(puzzleState.worldSeed, splits);
    if (selectedTask() === null) selectTask(shownTasks()[0]?.key ?? null);
  } catch (error) {
    puzzleState.message = { text: messageOf(error), bad: true };
  }
});

const refreshStored = coalesced(async () => {
  puzzleState.storedTasks = await engine.puzzles.storedTasks();
  if (selectedTask() === null) selectTask(shownTasks()[0]?.key ?? null);
});

const refreshModelProblem = coalesced(async () => {
  puzzleState.modelProblem = await engine.puzzles.modelProblem();
});

/** Shows another task; its answers from the last task are cleared (they are not its answers). */
export function selectTask(key: string | null): void {
  if (key === puzzleState.selectedKey) return;
  puzzleState.selectedKey = key;
  puzzleState.showRule = false;
  puzzleState.inContext = null;
  puzzleState.ttt = null;
  puzzleState.message = null;
}

export async function importArcFile(file: File): Promise<void> {
  puzzleState.importMessage = null;
  try {
    const records = await engine.puzzles.importArcFile(file.name, await file.text());
    await refreshStored();
    selectTask(`stored:${records[0]!.id}`);
    const count = records.length === 1 ? '1 task' : `${records.length} tasks`;
    puzzleState.importMessage = { text: `Imported ${count} from ${file.name}.`, bad: false };
  } catch (error) {
    puzzleState.importMessage = {
      text: `${messageOf(error)}. Nothing was stored.`,
      bad: true,
    };
  }
}

export async function deleteStoredTask(id: string): Promise<void> {
  try {
    await engine.puzzles.deleteTask(id);
    if (puzzleState.selectedKey === `stored:${id}`) selectTask(null);
    await refreshStored();
  } catch (error) {
    puzzleState.importMessage = { text: messageOf(error), bad: true };
  }
}

export function exportTask(shown: ShownTask): void {
  const name = shown.name.replace(/[^A-Za-z0-9._-]+/g, '_');
  downloadFile(`${name}.json`, new TextEncoder().encode(arcTaskJson(shown.task)));
}

export async function useTinyPuzzleModel(): Promise<void> {
  puzzleState.message = null;
  try {
    await engine.puzzles.loadTinyModel(3);
    app.loadedModel = await engine.model.current();
    await refreshModelProblem();
  } catch (error) {
    puzzleState.message = { text: messageOf(error), bad: true };
  }
}

/** Runs one of the panel's model jobs, keeping its id, failure or cancellation in the state. */
async function drive(kind: 'in-context' | 'ttt', work: (jobId: string) => Promise<void>) {
  const id = newJobId(`puzzle-${kind}`);
  puzzleState.job = { id, kind };
  puzzleState.message = null;
  try {
    await work(id);
  } catch (error) {
    puzzleState.message = isCancelled(error)
      ? { text: 'Cancelled.', bad: false }
      : { text: messageOf(error), bad: true };
  } finally {
    puzzleState.job = null;
    await refreshMemory();
  }
}

export async function answerInContext(): Promise<void> {
  const shown = selectedTask();
  if (!shown) return;
  puzzleState.inContext = null;
  const task = $state.snapshot(shown.task);
  await drive('in-context', async (id) => {
    puzzleState.inContext = await engine.puzzles.answerInContext(id, task);
  });
}

export async function startTestTimeTraining(): Promise<void> {
  const shown = selectedTask();
  if (!shown) return;
  const run: TttRun = { planned: null, losses: [], outcome: null };
  puzzleState.ttt = run;
  const request = {
    task: $state.snapshot(shown.task),
    recipe: $state.snapshot(puzzleState.recipe),
    seed: puzzleState.recipeSeed,
  };
  await drive('ttt', async (id) => {
    const outcome = await engine.puzzles.applyRecipe(
      id,
      request,
      Comlink.proxy((event: RecipeEvent) => {
        if (puzzleState.job?.id !== id || !puzzleState.ttt) return;
        if (event.type === 'planned') puzzleState.ttt.planned = event;
        else puzzleState.ttt.losses = event.losses;
      }),
    );
    if (puzzleState.ttt) puzzleState.ttt.outcome = outcome;
  });
}

export async function cancelPuzzleJob(): Promise<void> {
  if (puzzleState.job) await engine.cancel(puzzleState.job.id);
}
