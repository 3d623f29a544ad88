/**
 * URL parameters that choose how the app opens; they survive reloads and can be shared:
 * `?backend=` forces a backend, `?model=` names the shipped model to load (`none`: no model).
 */
import { parseBackendRequest, type BackendRequest } from '../engine/backendChoice';

export function requestedBackendFromUrl(): BackendRequest {
  return parseBackendRequest(new URL(location.href).searchParams.get('backend'));
}

export function rememberBackendInUrl(request: BackendRequest): void {
  const url = new URL(location.href);
  if (request === 'auto') url.searchParams.delete('backend');
  else url.searchParams.set('backend', request);
  history.replaceState(null, '', url);
}

export function requestedModelFromUrl(): string | null {
  return new URL(location.href).searchParams.get('model');
}
