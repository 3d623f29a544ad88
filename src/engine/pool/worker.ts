/**
 * The inside of a pool worker, whatever hosts it (a Node worker thread or a Web Worker): it
 * selects the wasm backend, builds its copy of the model, takes new weights, and runs tasks.
 * Requests run one after another, so a weight update never lands in the middle of a task; a
 * cancel is handled at once and stops the running task at its next checkpoint.
 */
import { selectBackend, type WasmPaths } from '../backend';
import { CancelledError, JobRegistry } from '../jobs';
import { disposeModelWeights } from '../model/weights';
import { createTokenizer } from '../model/tokenizer';
import type { SealModel } from '../seal/innerLoop';
import {
  assignWeightValues,
  variablesOf,
  type ModelSnapshot,
  type PoolReply,
  type PoolRequest,
} from './protocol';
import { runSealTask } from './tasks';

export interface PoolWorkerOptions {
  wasmPaths?: WasmPaths;
}

/** Returns the function to call with each request; `reply` sends a reply back to the pool. */
export function createPoolWorkerHandler(
  reply: (message: PoolReply) => void,
  options: PoolWorkerOptions = {},
): (request: PoolRequest) => void {
  const jobs = new JobRegistry();
  // A cancel can arrive while its run still waits behind other requests.
  const cancelled = new Set<number>();
  let model: SealModel | null = null;

  const requireModel = (): SealModel => {
    if (!model) throw new Error('the pool worker has no model yet');
    return model;
  };

  const build = async (snapshot: ModelSnapshot): Promise<void> => {
    // The pool promises the in-process results, so no other backend may stand in for wasm.
    const backend = await selectBackend('wasm', { wasmPaths: options.wasmPaths });
    if (backend.active !== 'wasm') {
      throw new Error(`the wasm backend did not start: ${backend.fallbackReasons.join('; ')}`);
    }
    if (model) disposeModelWeights(model.weights);
    model = {
      config: snapshot.config,
      tokenizer: createTokenizer(
        snapshot.tokenizer.tokenizerJson,
        snapshot.tokenizer.tokenizerConfig,
      ),
      chatTemplate: snapshot.chatTemplate,
      weights: variablesOf(snapshot.weights),
    };
  };

  const handle = async (request: Exclude<PoolRequest, { type: 'cancel' }>): Promise<unknown> => {
    switch (request.type) {
      case 'init':
        return build(request.model);
      case 'weights':
        return assignWeightValues(requireModel().weights, request.weights);
      case 'run': {
        const jobId = `pool-task-${request.id}`;
        if (cancelled.delete(request.id)) throw new CancelledError(jobId);
        return jobs.run(jobId, (checkpoint) =>
          runSealTask(requireModel(), request.task, checkpoint),
        );
      }
    }
  };

  let queue: Promise<void> = Promise.resolve();
  return (request) => {
    if (request.type === 'cancel') {
      if (!jobs.cancel(`pool-task-${request.id}`)) cancelled.add(request.id);
      return;
    }
    queue = queue.then(async () => {
      try {
        reply({ id: request.id, ok: true, result: await handle(request) });
      } catch (error) {
        const { name, message } =
          error instanceof Error ? error : { name: 'Error', message: String(error) };
        reply({ id: request.id, ok: false, error: { name, message } });
      } finally {
        cancelled.delete(request.id);
      }
    });
  };
}
