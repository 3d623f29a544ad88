/**
 * The SEAL panel's jobs and what they show, kept at app level so that they outlive the panel:
 * leaving the tab and coming back shows the live job with its controls, and finished results stay
 * until another run replaces them. Runs are read from the store, their truth (when a run is
 * opened or resumed); a running job's events extend what was read.
 */
import { strToU8, zipSync } from 'fflate';
import type {
  RecordedRunLabel,
  RecordedRunView,
  SealConfig,
  SealEvent,
  SealResults,
  SealRunJobOptions,
} from '../../engine/api';
import { LOOP_PHASES } from '../../engine/seal/config';
import {
  DEFAULT_PRESET_ID,
  presetConfig,
  sameSettings,
  sealPreset,
} from '../../engine/seal/presets';
import { trainingSelfEdit, type TrainingSelfEdit } from '../../engine/seal/episodes';
import type { DatasetSummary, RunRecord, RunSummary } from '../../engine/store';
import { downloadFile } from '../download';
import { Comlink, newJobId } from '../engineClient';
import { isCancelled, messageOf } from '../errors';
import { canResume } from '../runStatus';
import {
  formOfLink,
  hasSettings,
  linkOfForm,
  RECORDED_RUN_LINK,
  sealLinkFromUrl,
  type SealLink,
} from '../sealUrl';
import { estimateState } from './sealEstimate.svelte';
import { app, engine, onEngineEvent, refreshMemory } from '../state.svelte';
import { coalesced } from './coalesce';
import { followRun, runJobEnd, showingErrors, shownResultsReloader } from './runPanel';
import { cardsOf, withSelfEdit, type SelfEditCardData } from './sealCards';

/** How far a started or resumed run goes before it pauses by itself (unset: to its end). */
export type RunStepOptions = Pick<SealRunJobOptions, 'pauseAfterEpisodes'>;

/** What a run starts with: its settings and where its contexts come from. */
export interface SealForm {
  config: SealConfig;
  worldSeed: number;
  /** A stored passage dataset to use instead of the synthetic world's contexts. */
  datasetId: string | null;
}

/** Table 6 compares these formats, one run each. */
export const COMPARED_FORMATS = ['implications', 'rewrite', 'self-qa'] as const;

export interface ForgettingTable {
  titles: string[];
  /** Accuracy on each passage before any edit. */
  before: number[];
  /** Row i: accuracy on each passage after editing passages 1 … i + 1. */
  rows: number[][];
}

export const sealState = $state({
  /** The paper's value of each setting, shown beside it. */
  paper: {} as Record<string, string | number>,
  /** The settings of the next run, or of the run shown (opened, resumed, running). */
  form: null as SealForm | null,
  /** The preset the form was last filled from (the user may have edited it since). */
  presetId: DEFAULT_PRESET_ID,
  datasets: [] as DatasetSummary[],
  /** SEAL runs this tab can go on with. */
  resumable: [] as RunSummary[],
  /** The engine job the panel drives: a run, or the forgetting measurement. */
  job: null as { id: string; kind: 'run' | 'forgetting' } | null,
  /** The format comparison goes on, between its runs too. */
  comparing: false,
  /** The stored run shown. */
  runId: null as string | null,
  /** The recorded run shipped with the app, when it is the run shown (it is not in the store). */
  recorded: null as RecordedRunLabel | null,
  /** The loop diagram's active step. */
  phase: null as number | null,
  done: 0,
  total: 0,
  cards: [] as SelfEditCardData[],
  results: null as SealResults | null,
  message: null as { text: string; bad: boolean } | null,
  formatTable: [] as { format: string; accuracy: (number | null)[] }[],
  forgettingPassages: 4,
  forgetting: null as ForgettingTable | null,
});

/** The model runs use: the engine's loaded model (the tiny demo model too). */
export function sealModelId(): string | null {
  return app.loadedModel?.id ?? null;
}

/** The panel's own job goes on: its settings are locked and its Pause and Cancel work. */
export function sealBusy(): boolean {
  return sealState.job !== null || sealState.comparing;
}

/** Whether a new model job may start from the panel: one job uses the model at a time. */
export function canStartModelJob(): boolean {
  return app.modelJob === null && !sealBusy();
}

/** Whether a run or the forgetting measurement may start now. */
export function canRun(): boolean {
  return canStartModelJob() && sealState.form !== null && sealModelId() !== null;
}

let listening = false;

/**
 * Loads the defaults and the runs and datasets when the panel first opens; from then on every
 * store change (in this tab or another) reloads the runs and datasets.
 */
export async function openSealPanel(): Promise<void> {
  if (listening) return;
  listening = true;
  onEngineEvent((event) => {
    if (event.type !== 'store') return;
    void refreshRuns();
    // A running job reloads the results with its own events; a rename in another tab does not.
    if (event.change.id === sealState.runId && sealState.job === null) void refreshResults();
  });
  const defaults = await engine.seal.defaults();
  sealState.paper = defaults.paper;
  if (!sealState.form) {
    const link = sealLinkFromUrl();
    // A link to a run shows the run's own settings: the link's settings are for a new run only.
    const { config, worldSeed, presetId } = formOfLink(
      link.run === null ? link : { run: null, preset: null, settings: {}, world: null },
    );
    sealState.form = { config, worldSeed, datasetId: null };
    sealState.presetId = presetId;
    estimateState.wanted = link.run === null && (link.preset !== null || hasSettings(link));
    if (link.run === RECORDED_RUN_LINK) await openRecordedRun();
    else if (link.run !== null) await openRun(link.run);
  }
  await refreshRuns();
}

/** Fills the form with a preset's settings and world. */
export function choosePreset(id: string): void {
  const preset = sealPreset(id);
  if (!preset || !sealState.form) return;
  sealState.form = { config: presetConfig(preset), worldSeed: preset.worldSeed, datasetId: null };
  sealState.presetId = id;
}

/** The run shown (or the recorded run's link), while the form still holds its settings; else null. */
function runOfForm(): string | null {
  const { form, results, runId, recorded } = sealState;
  const shown = recorded ? RECORDED_RUN_LINK : runId;
  const showsRun =
    form !== null &&
    shown !== null &&
    results !== null &&
    (recorded !== null || results.run.id === runId) &&
    sameSettings(results.config, form.config) &&
    ('world' in results.contexts
      ? form.datasetId === null && results.contexts.world === form.worldSeed
      : form.datasetId === results.contexts.dataset);
  return showsRun ? shown : null;
}

/** What the address says of the panel: the run shown while the form holds its settings, else the form. */
export function sealLink(): SealLink | null {
  const { form } = sealState;
  return form ? linkOfForm(form, sealState.presetId, runOfForm()) : null;
}

const refreshRuns = coalesced(async () => {
  try {
    const [datasets, runs] = await Promise.all([
      engine.store.listDatasets(),
      engine.store.listRuns(),
    ]);
    sealState.datasets = datasets;
    sealState.resumable = runs.filter((run) => run.kind === 'seal' && canResume(run));
  } catch (error) {
    sealState.message = { text: messageOf(error), bad: true };
  }
});

/** Reloads the shown run's results. */
const refreshResults = shownResultsReloader(sealState, (runId) => engine.seal.results(runId));

/** Shows a run as the store has it: its settings, progress, results and self-edits. */
async function showRun(runId: string): Promise<void> {
  const [results, edits] = await Promise.all([
    engine.seal.results(runId),
    engine.seal.selfEdits(runId),
  ]);
  sealState.runId = runId;
  sealState.recorded = null;
  sealState.done = results.run.episodeCount;
  sealState.total = results.totalSteps;
  showResults(results, edits);
}

/** Shows a run's results, every one of its self-edits and its settings (the form holds them). */
function showResults(results: SealResults, edits: TrainingSelfEdit[]): void {
  const { contexts } = results;
  sealState.results = results;
  sealState.cards = cardsOf(edits, Number.POSITIVE_INFINITY);
  sealState.form = {
    config: results.config,
    worldSeed: 'world' in contexts ? contexts.world : (sealState.form?.worldSeed ?? 1),
    datasetId: 'dataset' in contexts ? contexts.dataset : null,
  };
}

function onEvent(event: SealEvent): void {
  switch (event.type) {
    case 'run':
      if (followRun(sealState, event)) sealState.recorded = null;
      break;
    case 'phase':
      sealState.phase = LOOP_PHASES.indexOf(event.phase);
      break;
    case 'episode':
      sealState.done += 1;
      if (event.step.kind === 'self-edit') {
        sealState.cards = withSelfEdit(
          sealState.cards,
          trainingSelfEdit(event.episode, event.step.passage, event.accuracy),
        );
      }
      void refreshResults();
      break;
    case 'round':
    case 'done':
      void refreshResults();
      break;
  }
}

/** Runs `work` as the panel's run job; resolves to the run as it ended (null on an error). */
async function drive(work: (jobId: string) => Promise<RunRecord>): Promise<RunRecord | null> {
  const id = newJobId('seal');
  sealState.job = { id, kind: 'run' };
  return runJobEnd(sealState, {
    doneText: 'The run is done.',
    run: () => work(id),
    settle: async () => {
      sealState.job = null;
      sealState.phase = null;
      await Promise.all([refreshResults(), refreshRuns(), refreshMemory()]);
    },
  });
}

export async function useTinyModel(): Promise<void> {
  await showingErrors(sealState, async () => {
    await engine.seal.loadTinyModel(3, sealState.form?.worldSeed ?? 1);
    app.loadedModel = await engine.model.current();
  });
}

/**
 * Starts a run with the form's settings and `overrides`, which the form then shows too;
 * `options.pauseAfterEpisodes` pauses it after that many episodes.
 */
export async function startRun(
  overrides: Partial<SealConfig> = {},
  options: RunStepOptions = {},
): Promise<RunRecord | null> {
  const { form } = sealState;
  if (!form) return null;
  form.config = { ...$state.snapshot(form.config), ...overrides };
  const config = $state.snapshot(form.config);
  const request =
    form.datasetId === null
      ? { config, worldSeed: form.worldSeed, ...options }
      : { config, datasetId: form.datasetId, ...options };
  return drive((id) => engine.seal.startRun(id, request, Comlink.proxy(onEvent)));
}

export async function openRun(runId: string): Promise<void> {
  await showingErrors(sealState, () => showRun(runId));
}

/** The recorded run shipped with the app (npm run record:run), precached for offline use. */
export const RECORDED_RUN_URL = `${import.meta.env.BASE_URL}recorded/table2.json.gz`;

async function fetchRecordedRun(): Promise<RecordedRunView> {
  const failed = (why: string) =>
    new Error(`The recorded run could not be read from ${RECORDED_RUN_URL}: ${why}.`);
  const response = await fetch(RECORDED_RUN_URL).catch((error: unknown) => {
    throw failed(messageOf(error));
  });
  if (!response.ok) throw failed(`the server answered ${response.status} ${response.statusText}`);
  const file = new Uint8Array(await response.arrayBuffer());
  return engine.seal.recordedRun(Comlink.transfer(file, [file.buffer]));
}

/**
 * Shows the recorded run: read from its file, held in this tab only (never written to the store),
 * with nothing to resume, delete or export.
 */
export async function openRecordedRun(): Promise<void> {
  await showingErrors(sealState, async () => {
    const { label, results, selfEdits } = await fetchRecordedRun();
    sealState.runId = null;
    sealState.recorded = label;
    sealState.done = 0;
    sealState.total = 0;
    showResults(results, selfEdits);
  });
}

/** Goes on with a stored run where it stopped, showing what it has stored so far first. */
export async function resumeRun(runId: string, options: RunStepOptions = {}): Promise<void> {
  await drive(async (id) => {
    await showRun(runId);
    return engine.seal.resumeRun(id, runId, Comlink.proxy(onEvent), options);
  });
}

/** The run a step goes on with: the one shown, if this tab can resume it and the form shows it. */
export function runToStep(): RunSummary | null {
  const runId = runOfForm();
  return sealState.resumable.find((run) => run.id === runId) ?? null;
}

/**
 * Runs one more episode (one self-edit evaluation) and pauses again: of the run shown if it can go
 * on, else of a new run with the form's settings.
 */
export async function stepRun(): Promise<void> {
  const run = runToStep();
  if (run) await resumeRun(run.id, { pauseAfterEpisodes: 1 });
  else await startRun({}, { pauseAfterEpisodes: 1 });
}

/** Clears the panel for a new run with the form's settings; stored runs stay in History. */
export function resetPanel(): void {
  if (sealBusy()) return;
  Object.assign(sealState, {
    runId: null,
    recorded: null,
    results: null,
    cards: [],
    done: 0,
    total: 0,
    phase: null,
    message: null,
  });
}

/** Renames the run shown (an invalid name throws, saying why). */
export async function renameShownRun(name: string): Promise<void> {
  const { runId } = sealState;
  if (runId === null) return;
  await engine.store.renameRun(runId, name);
  await refreshResults();
}

/** Table 6: one run per format, the held-out accuracy of its self-edits after each round. */
export async function compareFormats(): Promise<void> {
  const { form } = sealState;
  if (!form) return;
  sealState.comparing = true;
  sealState.formatTable = [];
  try {
    for (const format of COMPARED_FORMATS) {
      const run = await startRun({
        format,
        customPrompt: null,
        heldOut: { ...$state.snapshot(form.config.heldOut), conditions: ['self-edit'] },
      });
      if (run === null) break;
      const { results } = sealState;
      if (results?.run.id === run.id) {
        sealState.formatTable = [
          ...sealState.formatTable,
          { format, accuracy: results.rounds.map((r) => r.heldOutAccuracy) },
        ];
      }
      if (run.status !== 'done') break;
    }
  } finally {
    sealState.comparing = false;
  }
}

/** Pauses (a run stays resumable) or cancels the panel's job. */
export async function stopJob(status: 'paused' | 'cancelled'): Promise<void> {
  const { job } = sealState;
  if (!job) return;
  if (job.kind === 'forgetting') await engine.cancel(job.id);
  else await engine.seal.stopRun(job.id, status);
}

/** Edits held-out passages one after another and asks them all again after each edit. */
export async function measureForgetting(): Promise<void> {
  const { form } = sealState;
  if (!form) return;
  const id = newJobId('forgetting');
  sealState.job = { id, kind: 'forgetting' };
  sealState.message = null;
  sealState.forgetting = { titles: [], before: [], rows: [] };
  try {
    const result = await engine.seal.runForgetting(
      id,
      {
        config: $state.snapshot(form.config),
        worldSeed: form.worldSeed,
        passages: sealState.forgettingPassages,
      },
      Comlink.proxy((_: number, row: number[]) => {
        if (sealState.job?.id === id) sealState.forgetting?.rows.push(row);
      }),
    );
    sealState.forgetting = { titles: result.titles, before: result.before, rows: result.accuracy };
  } catch (error) {
    sealState.message = isCancelled(error)
      ? { text: 'The forgetting experiment was cancelled.', bad: false }
      : { text: messageOf(error), bad: true };
  } finally {
    sealState.job = null;
    await refreshMemory();
  }
}

/** The shown run's contexts and M-step data in the layouts the official SEAL code reads. */
export async function downloadForOfficialCode(): Promise<void> {
  const { runId } = sealState;
  if (!runId) return;
  const files = await engine.seal.exportFiles(runId);
  const zip = zipSync(
    Object.fromEntries(
      Object.entries(files).map(([name, text]) => [`${runId}/${name}`, strToU8(text)]),
    ),
  );
  downloadFile(`${runId}-seal-files.zip`, zip);
}
