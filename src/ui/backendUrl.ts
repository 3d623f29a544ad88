/** The `?backend=` URL parameter forces a backend; it survives reloads and can be shared. */
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
