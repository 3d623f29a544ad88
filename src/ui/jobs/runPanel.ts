/**
 * What the panels that run stored experiments (SEAL, Table 1) share: a run job whose end the
 * panel's message tells, the run it shows following the job's, the shown run's results reloaded as
 * its episodes arrive, and errors of the panel's other actions shown in its message.
 */
import type { RunRecord } from '../../engine/store';
import { messageOf } from '../errors';
import { coalesced } from './coalesce';

export interface PanelMessage {
  text: string;
  bad: boolean;
}

interface RunPanel<Results> {
  runId: string | null;
  results: Results | null;
  message: PanelMessage | null;
}

/** Reloads the shown run's results; a burst of calls folds into one more reload. */
export function shownResultsReloader<Results>(
  panel: RunPanel<Results>,
  read: (runId: string) => Promise<Results>,
): () => Promise<void> {
  return coalesced(async () => {
    const { runId } = panel;
    if (runId === null) return;
    try {
      const results = await read(runId);
      // Another run may have been shown meanwhile.
      if (panel.runId === runId) panel.results = results;
    } catch (error) {
      panel.message = { text: messageOf(error), bad: true };
    }
  });
}

/**
 * Follows a run job's `run` event: a run new to the panel replaces what it showed, and the counts
 * become the run's. Returns whether the run is new.
 */
export function followRun(
  panel: RunPanel<unknown> & { cards: unknown[]; done: number; total: number },
  event: { run: Pick<RunRecord, 'id' | 'episodeCount'>; totalSteps?: number },
): boolean {
  const isNew = event.run.id !== panel.runId;
  if (isNew) {
    panel.runId = event.run.id;
    panel.results = null;
    panel.cards = [];
  }
  panel.done = event.run.episodeCount;
  if (event.totalSteps !== undefined) panel.total = event.totalSteps;
  return isNew;
}

/** Runs `work` with the panel's message cleared; its error, if any, becomes the message. */
export async function showingErrors(
  panel: Pick<RunPanel<unknown>, 'message'>,
  work: () => Promise<void>,
): Promise<void> {
  panel.message = null;
  try {
    await work();
  } catch (error) {
    panel.message = { text: messageOf(error), bad: true };
  }
}

/**
 * Awaits a run job's `run`; the panel's message says how the run ended. `settle` frees the panel
 * whatever happened. Resolves to the run as it ended, null on an error.
 */
export async function runJobEnd(
  panel: Pick<RunPanel<unknown>, 'message'>,
  {
    doneText,
    run,
    settle,
  }: { doneText: string; run: () => Promise<RunRecord>; settle: () => Promise<void> },
): Promise<RunRecord | null> {
  panel.message = null;
  try {
    const ended = await run();
    panel.message = {
      text:
        ended.status === 'done'
          ? doneText
          : `The run is ${ended.status}${ended.statusMessage ? `: ${ended.statusMessage}` : ''}.`,
      bad: false,
    };
    return ended;
  } catch (error) {
    panel.message = { text: messageOf(error), bad: true };
    return null;
  } finally {
    await settle();
  }
}
