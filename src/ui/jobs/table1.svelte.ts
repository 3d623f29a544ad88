/**
 * The Puzzles panel's Table 1 experiment: its settings, the running job with its progress and
 * pace, the table as the store has it so far, and the latest recipes. Kept at app level so that
 * leaving the tab leaves the run going and shows it as it is on return. The table is read from the
 * store (its truth) after episodes arrive, a burst of them folded into one read.
 */
import type {
  Table1Config,
  Table1Event,
  Table1Results,
  Table1RunJobOptions,
} from '../../engine/api';
import type { Grid } from '../../engine/puzzles/grid';
import type { RunRecord, RunSummary } from '../../engine/store';
import { Comlink, newJobId } from '../engineClient';
import { messageOf } from '../errors';
import type { Pace } from '../explain/pace';
import { canResume } from '../runStatus';
import { app, engine, onEngineEvent, refreshMemory } from '../state.svelte';
import { coalesced } from './coalesce';
import { puzzleState } from './puzzles.svelte';
import { followRun, runJobEnd, showingErrors, shownResultsReloader } from './runPanel';
import {
  recipeCardOf,
  RECIPE_CARDS_SHOWN,
  withRecipeCard,
  type RecipeCardData,
} from './table1Cards';
import { presetConfig, TABLE1_PRESETS } from './table1Presets';

export const table1State = $state({
  preset: TABLE1_PRESETS[0]!.id,
  /** The settings of the next run, or of the run shown. */
  config: presetConfig(TABLE1_PRESETS[0]!.id) as Table1Config,
  job: null as { id: string } | null,
  /** Table 1 runs this tab can go on with. */
  resumable: [] as RunSummary[],
  runId: null as string | null,
  done: 0,
  total: 0,
  /** Episodes stored by the running job and the time they took, for the estimate. */
  pace: { episodes: 0, ms: 0 } as Pace,
  results: null as Table1Results | null,
  cards: [] as RecipeCardData[],
  message: null as { text: string; bad: boolean } | null,
});

/** When the running job's first episode started counting, and the count then. */
let paceStart: { at: number; done: number } | null = null;

export function choosePreset(id: string): void {
  table1State.preset = id;
  table1State.config = presetConfig(id);
}

/** Whether a run may start or resume: a puzzle model is loaded and nothing else holds it. */
export function canStartTable1(): boolean {
  return (
    app.modelJob === null &&
    table1State.job === null &&
    puzzleState.job === null &&
    puzzleState.modelProblem === null &&
    app.loadedModel !== null
  );
}

let listening = false;

/** Loads the resumable runs once; every store change, in this tab or another, reloads them. */
export async function openTable1Section(): Promise<void> {
  if (listening) return;
  listening = true;
  onEngineEvent((event) => {
    if (event.type === 'store' && event.change.kind !== 'puzzle') void refreshRuns();
  });
  await refreshRuns();
}

const refreshRuns = coalesced(async () => {
  try {
    const runs = await engine.store.listRuns();
    table1State.resumable = runs.filter((run) => run.kind === 'table1' && canResume(run));
  } catch (error) {
    table1State.message = { text: messageOf(error), bad: true };
  }
});

const refreshResults = shownResultsReloader(table1State, (runId) => engine.table1.results(runId));

/** The true output of each task of the run's world the cards may show, by task id. */
async function truthsOf(config: Table1Config): Promise<Map<string, Grid>> {
  const tasks = await engine.puzzles.listWorldTasks(config.world.seed, [
    'rl',
    config.evaluation.split,
  ]);
  return new Map(tasks.map(({ id, task }) => [id, task.test[0]!.output]));
}

/** Shows a stored run: its settings, progress, table and latest recipes. */
async function showRun(runId: string): Promise<void> {
  const results = await engine.table1.results(runId);
  const { episodeCount } = results.run;
  const [episodes, truths] = await Promise.all([
    // Answers in context get no card, so a few more than the cards shown are read.
    engine.store.listEpisodes(runId, {
      offset: Math.max(0, episodeCount - 3 * RECIPE_CARDS_SHOWN),
    }),
    truthsOf(results.config),
  ]);
  table1State.runId = runId;
  table1State.results = results;
  table1State.config = results.config;
  table1State.done = episodeCount;
  table1State.total = results.totalSteps;
  table1State.cards = episodes.reduce<RecipeCardData[]>(
    (cards, episode) =>
      withRecipeCard(cards, recipeCardOf(episode, truths.get(episode.contextId) ?? null)),
    [],
  );
}

function onEvent(event: Table1Event): void {
  switch (event.type) {
    case 'run':
      followRun(table1State, event);
      paceStart ??= { at: performance.now(), done: event.run.episodeCount };
      void refreshResults();
      break;
    case 'episode': {
      table1State.done += 1;
      if (paceStart) {
        table1State.pace = {
          episodes: table1State.done - paceStart.done,
          ms: performance.now() - paceStart.at,
        };
      }
      const truth = event.step.task.task.test[0]?.output ?? null;
      table1State.cards = withRecipeCard(
        table1State.cards,
        recipeCardOf({ ...event.episode, kind: event.step.kind }, truth),
      );
      void refreshResults();
      break;
    }
    case 'round':
    case 'done':
      void refreshResults();
      break;
  }
}

/** Runs `work` as the section's job; the message says how the run ended. */
async function drive(work: (jobId: string) => Promise<RunRecord>): Promise<void> {
  const id = newJobId('table1');
  table1State.job = { id };
  table1State.pace = { episodes: 0, ms: 0 };
  paceStart = null;
  await runJobEnd(table1State, {
    doneText: 'The run is done: the table is complete.',
    run: () => work(id),
    settle: async () => {
      table1State.job = null;
      paceStart = null;
      await Promise.all([refreshResults(), refreshRuns(), refreshMemory()]);
    },
  });
}

/** What a start or resume may ask of the run besides going on: a pause after some episodes. */
type StepOptions = Pick<Table1RunJobOptions, 'pauseAfterEpisodes'>;

/** Starts a run with the section's settings; `options.pauseAfterEpisodes` pauses it after that many. */
export async function startTable1(options: StepOptions = {}): Promise<void> {
  const config = $state.snapshot(table1State.config);
  const preset = TABLE1_PRESETS.find((p) => p.id === table1State.preset);
  await drive((id) =>
    engine.table1.runTable1(
      id,
      { config, name: `table1-${preset?.id ?? 'custom'}`, ...options },
      Comlink.proxy(onEvent),
    ),
  );
}

export async function showTable1Run(runId: string): Promise<void> {
  await showingErrors(table1State, () => showRun(runId));
}

/** Goes on with a stored run where it stopped, showing what it has stored first. */
export async function resumeTable1(runId: string, options: StepOptions = {}): Promise<void> {
  await drive(async (id) => {
    await showRun(runId);
    return engine.table1.resumeTable1(id, runId, Comlink.proxy(onEvent), options);
  });
}

/** The run a step goes on with: the one shown, if this tab can resume it. */
export function table1RunToStep(): RunSummary | null {
  return table1State.resumable.find((run) => run.id === table1State.runId) ?? null;
}

/**
 * Runs one more episode (one held-out evaluation, or one RL recipe applied and rewarded) and
 * pauses again: of the run shown if it can go on, else of a new run with the section's settings.
 */
export async function stepTable1(): Promise<void> {
  const run = table1RunToStep();
  if (run) await resumeTable1(run.id, { pauseAfterEpisodes: 1 });
  else await startTable1({ pauseAfterEpisodes: 1 });
}

/** Clears the section for a new run with its settings; stored runs stay in History. */
export function resetTable1(): void {
  if (table1State.job !== null) return;
  Object.assign(table1State, {
    runId: null,
    results: null,
    cards: [],
    done: 0,
    total: 0,
    message: null,
  });
}

/** Pauses (the run stays resumable) or cancels the running job. */
export async function stopTable1(status: 'paused' | 'cancelled'): Promise<void> {
  if (table1State.job) await engine.table1.stopRun(table1State.job.id, status);
}
