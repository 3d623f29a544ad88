/// <reference lib="webworker" />
/** A pool worker in the browser: a module Web Worker started by the engine's own worker. */
import type { PoolRequest } from './engine/pool/protocol';
import { createPoolWorkerHandler } from './engine/pool/worker';
import { WASM_PATHS } from './wasmPaths';

const handle = createPoolWorkerHandler((reply) => self.postMessage(reply), {
  wasmPaths: WASM_PATHS,
});
self.onmessage = (event: MessageEvent<PoolRequest>) => handle(event.data);
