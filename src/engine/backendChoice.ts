/** Backend names and the parsing of a user's choice; free of tfjs so the page can import it. */
export const BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendRequest = BackendName | 'auto';

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === 'string' && (BACKENDS as readonly string[]).includes(value);
}

export function parseBackendRequest(value: string | null | undefined): BackendRequest {
  return isBackendName(value) ? value : 'auto';
}
