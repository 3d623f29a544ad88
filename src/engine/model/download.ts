/**
 * Reading one HTTP response body in full, reporting bytes as they arrive, and refusing a body
 * that ends before its announced length or does not hash to its announced SHA-256.
 */
import type { Checkpoint } from '../jobs';

/** Called with the bytes received so far for the current file. */
export type BytesListener = (received: number) => void;

/** `null` for a 404, so callers can treat optional files as absent; other failures throw. */
export async function openUrl(
  url: string,
  fileName: string,
  signal: AbortSignal,
): Promise<Response | null> {
  let response: Response;
  try {
    response = await fetch(url, { signal, credentials: 'omit' });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Error(`could not download ${fileName} from ${url}: ${describe(error)}`, {
      cause: error,
    });
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    const hint =
      response.status === 401 || response.status === 403
        ? ' (the repository may be private or gated, or may not exist)'
        : '';
    throw new Error(`could not download ${fileName} from ${url}: HTTP ${response.status}${hint}`);
  }
  return response;
}

/** The announced body length, or null when the server does not say. */
export function announcedLength(response: Response): number | null {
  const header = response.headers.get('content-length');
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  return Number(header);
}

/**
 * Reads the whole body. A body shorter than Content-Length is a cut-off download. (A longer one
 * is allowed: a compressed response announces its compressed length.)
 */
export async function readBody(
  response: Response,
  fileName: string,
  checkpoint: Checkpoint,
  onBytes: BytesListener,
): Promise<Uint8Array> {
  const expected = announcedLength(response);
  // Filled in place when the length is announced, so a large file is never held twice.
  const body = new GrowingBytes(expected ?? 0);
  let received = 0;
  try {
    if (!response.body) throw new Error('the response has no body');
    const reader = response.body.getReader();
    try {
      for (;;) {
        await checkpoint();
        const { done, value } = await reader.read();
        if (done) break;
        body.append(value);
        received += value.byteLength;
        onBytes(received);
      }
    } finally {
      reader.releaseLock();
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'CancelledError') throw error;
    throw new Error(
      `download of ${fileName} broke off after ${received} bytes: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }
  if (expected !== null && received < expected) {
    throw new Error(`download of ${fileName} is incomplete: got ${received} of ${expected} bytes`);
  }
  return body.bytes();
}

export async function checkSha256(bytes: Uint8Array, expectedHex: string, fileName: string) {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>),
  );
  const actual = [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  if (actual !== expectedHex.toLowerCase()) {
    throw new Error(
      `${fileName} is corrupt: its SHA-256 is ${actual}, the repository says ${expectedHex}`,
    );
  }
}

class GrowingBytes {
  private buffer: Uint8Array;
  private length = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity);
  }

  append(chunk: Uint8Array): void {
    if (this.length + chunk.byteLength > this.buffer.byteLength) {
      const grown = new Uint8Array(
        Math.max(2 * this.buffer.byteLength, this.length + chunk.byteLength),
      );
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length += chunk.byteLength;
  }

  bytes(): Uint8Array {
    return this.length === this.buffer.byteLength
      ? this.buffer
      : this.buffer.subarray(0, this.length);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
