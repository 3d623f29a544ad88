/// <reference lib="webworker" />
/** The Web Worker that hosts the engine; the page reaches it through Comlink. */
import * as Comlink from 'comlink';
import { createEngine } from './engine/engine';
import { webPoolWorker } from './engine/pool/web';
import { WASM_PATHS } from './wasmPaths';

Comlink.expose(
  createEngine({
    appBaseUrl: new URL(import.meta.env.BASE_URL, self.location.origin).href,
    wasmPaths: WASM_PATHS,
    spawnPoolWorker: () =>
      webPoolWorker(new Worker(new URL('./poolWorker.ts', import.meta.url), { type: 'module' })),
  }),
);
