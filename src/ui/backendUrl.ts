/**
 * URL parameters that choose how the app opens; they survive reloads and can be shared:
 * `?backend=` forces a backend, `?model=` names the shipped model to load (`none`: no model),
 * `?weights=float16` keeps the models loaded from then on as float16, `?tab=` names the panel
 * shown; sealUrl.ts adds the SEAL panel's run, preset and settings.
 */
import type { WeightStorage } from '../engine/api';
import { parseBackendRequest, type BackendRequest } from '../engine/backendChoice';

export function requestedBackendFromUrl(): BackendRequest {
  return parseBackendRequest(new URL(location.href).searchParams.get('backend'));
}

/** Sets (or, for null, removes) parameters in place, without a new history entry. */
export function setUrlParameters(values: Record<string, string | null>): void {
  const url = new URL(location.href);
  for (const [name, value] of Object.entries(values)) {
    if (value === null) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  if (url.href !== location.href) history.replaceState(null, '', url);
}

function setUrlParameter(name: string, value: string | null): void {
  setUrlParameters({ [name]: value });
}

export function rememberBackendInUrl(request: BackendRequest): void {
  setUrlParameter('backend', request === 'auto' ? null : request);
}

/** The panel `?tab=` names, if it is one of `tabs`; otherwise `fallback`. */
export function requestedTabFromUrl<T extends string>(tabs: readonly T[], fallback: T): T {
  const requested = new URL(location.href).searchParams.get('tab');
  return tabs.find((tab) => tab === requested) ?? fallback;
}

export function rememberTabInUrl(tab: string): void {
  setUrlParameter('tab', tab);
}

export function requestedModelFromUrl(): string | null {
  return new URL(location.href).searchParams.get('model');
}

/** How models load their weights: float16 when `?weights=float16`, float32 otherwise. */
export function requestedWeightStorageFromUrl(): WeightStorage {
  return new URL(location.href).searchParams.get('weights') === 'float16' ? 'float16' : 'float32';
}

export function rememberWeightStorageInUrl(storage: WeightStorage): void {
  setUrlParameter('weights', storage === 'float32' ? null : storage);
}
