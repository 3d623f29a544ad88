/** A Web Worker (or a nested one in a worker) as a pool worker. */
import type { PoolWorker } from './executor';
import type { PoolReply } from './protocol';

export function webPoolWorker(worker: Worker): PoolWorker {
  return {
    postMessage: (request) => worker.postMessage(request),
    listen(onReply, onError) {
      worker.addEventListener('message', (event: MessageEvent<PoolReply>) => onReply(event.data));
      worker.addEventListener('error', (event) => {
        // Handled here: the error must not also surface as the engine worker's own.
        event.preventDefault();
        onError(new Error(event.message || 'the pool worker could not start'));
      });
      worker.addEventListener('messageerror', () =>
        onError(new Error('a reply of the pool worker could not be read')),
      );
    },
    terminate: () => worker.terminate(),
  };
}
