/**
 * Pool workers as Node worker threads. The entry is TypeScript: each thread starts from a small
 * JavaScript module that registers tsx's loader in that thread, which works the same under
 * `tsx scripts/….ts` and under vitest (a worker does not inherit its parent's loader hooks).
 */
import { Worker } from 'node:worker_threads';
import type { PoolWorker } from './executor';

export function spawnNodePoolWorker(): PoolWorker {
  const worker = new Worker(new URL('./nodeWorker.mjs', import.meta.url), { execArgv: [] });
  return {
    postMessage: (request) => worker.postMessage(request),
    listen(onReply, onError) {
      worker.on('message', onReply);
      worker.on('error', onError);
      worker.on('exit', (code) => onError(new Error(`the pool worker exited with code ${code}`)));
    },
    terminate: () => void worker.terminate(),
  };
}
