/**
 * A local stand-in for the Hugging Face Hub serving the fixture models over HTTP on 127.0.0.1:
 * the model API (`/api/models/{repo}/revision/{rev}`), files under `/{repo}/resolve/{rev}/…`,
 * the same files under `/plain/{model}/…` (a URL source) and the app's shipped-model layout
 * under `/app/models/…`. Tests can replace any file's answer and read the request log.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const FIXTURES = new URL('../fixtures/models/', import.meta.url);
export const COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** What to send for a file instead of its bytes. */
export type FileOverride =
  | { kind: 'missing' }
  | { kind: 'bytes'; bytes: Uint8Array }
  /** Announces the full length, sends `sentBytes`, then drops the connection. */
  | { kind: 'cut'; sentBytes: number }
  /** Never answers. */
  | { kind: 'stall' };

export interface FakeHub {
  url: string;
  requests: string[];
  /** Keyed by `${model}/${file}`. */
  overrides: Map<string, FileOverride>;
  /** Files left out of the Hub's file list, keyed like `overrides`. */
  unlisted: Set<string>;
  offline: boolean;
  close(): Promise<void>;
}

export function fixtureFile(model: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`${model}/${file}`, FIXTURES)));
}

/** Only the Hub-layout files; the goldens are test data, not part of a model. */
function modelFiles(model: string): string[] {
  return readdirSync(new URL(`${model}/`, FIXTURES)).filter(
    (file) => !file.startsWith('goldens') && !file.startsWith('tokenizer-goldens'),
  );
}

export async function startFakeHub(): Promise<FakeHub> {
  const hub: FakeHub = {
    url: '',
    requests: [],
    overrides: new Map(),
    unlisted: new Set(),
    offline: false,
    close: () => closeServer(server),
  };
  const server = createServer((request, response) => {
    hub.requests.push(request.url ?? '');
    if (hub.offline) {
      request.socket.destroy();
      return;
    }
    try {
      route(hub, request, response);
    } catch {
      response.writeHead(404).end('Entry not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hub;
}

function route(hub: FakeHub, request: IncomingMessage, response: ServerResponse) {
  const path = new URL(request.url ?? '/', 'http://x').pathname;
  let match = path.match(/^\/api\/models\/test\/([\w.-]+)\/revision\/([\w.-]+)$/);
  if (match) {
    const model = match[1]!;
    const siblings = modelFiles(model)
      .filter((file) => !hub.unlisted.has(`${model}/${file}`))
      .map((file) => {
        const bytes = fixtureFile(model, file);
        const lfs = file.endsWith('.safetensors')
          ? {
              lfs: { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length },
            }
          : {};
        return { rfilename: file, size: bytes.length, ...lfs };
      });
    sendJson(response, { id: `test/${model}`, sha: COMMIT, siblings });
    return;
  }
  match = path.match(/^\/test\/([\w.-]+)\/resolve\/[\w.-]+\/([\w.-]+)$/);
  match ??= path.match(/^\/plain\/([\w.-]+)\/([\w.-]+)$/);
  match ??= path.match(/^\/app\/models\/([\w.-]+)\/([\w.-]+)$/);
  if (match) {
    sendFile(hub, response, match[1]!, match[2]!);
    return;
  }
  if (path === '/app/models/index.json') {
    const models = ['tiny-llama', 'tiny-qwen2-sharded'].map((name) => ({
      name,
      files: modelFiles(name).map((file) => ({ path: file, size: fixtureFile(name, file).length })),
    }));
    sendJson(response, { models });
    return;
  }
  response.writeHead(404).end('Entry not found');
}

function sendFile(hub: FakeHub, response: ServerResponse, model: string, file: string) {
  const override = hub.overrides.get(`${model}/${file}`);
  if (override?.kind === 'stall') return;
  if (override?.kind === 'missing') {
    response.writeHead(404).end('Entry not found');
    return;
  }
  const bytes = override?.kind === 'bytes' ? override.bytes : fixtureFile(model, file);
  response.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(bytes.length),
  });
  if (override?.kind === 'cut') {
    response.write(bytes.subarray(0, override.sentBytes), () => response.socket?.destroy());
    return;
  }
  response.end(bytes);
}

function sendJson(response: ServerResponse, value: unknown) {
  const body = JSON.stringify(value);
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  response.end(body);
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
}
