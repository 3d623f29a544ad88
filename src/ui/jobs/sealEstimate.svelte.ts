/**
 * How long the SEAL form's run would take on this machine: a speed probe of the loaded model
 * (once per model and backend, a model job of a few seconds the user can skip) prices the work the
 * form's settings plan, which the engine counts again whenever the settings change.
 */
import type { RunWork, SpeedProbe } from '../../engine/api';
import { estimateRun, type RunEstimate } from '../../engine/seal/estimate';
import { newJobId } from '../engineClient';
import { isCancelled, messageOf } from '../errors';
import { app, engine } from '../state.svelte';
import type { SealForm } from './seal.svelte';

export const estimateState = $state({
  /** A preset was picked or linked to: probe each loaded model by itself. */
  wanted: false,
  probe: null as SpeedProbe | null,
  /** The probe job under way. */
  probing: null as string | null,
  /** The model and backend a probe was skipped or failed on: it is not tried again by itself. */
  declined: null as string | null,
  probeError: null as string | null,
  work: null as RunWork | null,
  /** Why the form's settings have no plan (a setting breaks its rule). */
  workError: null as string | null,
});

function machineKey(): string | null {
  const model = app.loadedModel?.id;
  const backend = app.backend?.active;
  return model && backend ? `${model} on ${backend}` : null;
}

/** Whether the probe in hand was measured on the loaded model and the active backend. */
export function probeIsCurrent(): boolean {
  const { probe } = estimateState;
  return probe !== null && machineKey() === `${probe.modelId} on ${probe.backend}`;
}

/**
 * Probes the loaded model unless a current probe is in hand, one is under way, the model is busy,
 * or (unless `asked`) the user skipped it for this model and backend.
 */
export async function probeSpeed({ asked = false } = {}): Promise<void> {
  const key = machineKey();
  if (key === null || estimateState.probing !== null || app.modelJob !== null) return;
  if (probeIsCurrent() || (!asked && estimateState.declined === key)) return;
  const id = newJobId('speed-probe');
  estimateState.probing = id;
  estimateState.probeError = null;
  try {
    estimateState.probe = await engine.seal.probeSpeed(id);
  } catch (error) {
    estimateState.declined = key;
    if (!isCancelled(error)) estimateState.probeError = messageOf(error);
  } finally {
    estimateState.probing = null;
  }
}

export async function skipProbe(): Promise<void> {
  if (estimateState.probing !== null) await engine.cancel(estimateState.probing);
}

let latestPlan = 0;

/** Counts the work of the form's run again; only the latest request's answer is kept. */
export async function planForm(form: SealForm): Promise<void> {
  const request = ++latestPlan;
  const source =
    form.datasetId === null ? { worldSeed: form.worldSeed } : { datasetId: form.datasetId };
  try {
    const work = await engine.seal.plannedWork({ config: $state.snapshot(form.config), ...source });
    if (request === latestPlan) [estimateState.work, estimateState.workError] = [work, null];
  } catch (error) {
    if (request === latestPlan)
      [estimateState.work, estimateState.workError] = [null, messageOf(error)];
  }
}

/** The form's run's duration, once the probe and the plan are in. */
export function formEstimate(form: SealForm): (RunEstimate & { workers: number }) | null {
  const { probe, work, workError } = estimateState;
  if (!probe || !work || workError !== null || !probeIsCurrent()) return null;
  return {
    ...estimateRun(form.config, work, probe.timings, probe.workers),
    workers: probe.workers,
  };
}
