/** Entry of a pool worker in a Node worker thread (spawned by `spawnNodePoolWorker`). */
import { parentPort } from 'node:worker_threads';
import type { PoolRequest } from './protocol';
import { createPoolWorkerHandler } from './worker';

const port = parentPort;
if (!port) throw new Error('nodeWorker.ts runs only as a worker thread');
const handle = createPoolWorkerHandler((reply) => port.postMessage(reply));
port.on('message', (request: PoolRequest) => handle(request));
