/**
 * Loading a model end to end: its files (from wherever `sources` finds them), its tokenizer and
 * its weights, then making it the engine's loaded model and describing it for the UI.
 */
import type { Architecture, ModelConfig } from './config';
import { setLoadedModel, type LoadedModel } from './session';
import { loadModelFiles, type LoadFilesOptions, type ModelSource } from './sources';
import { createTokenizer } from './tokenizer';
import { estimateModelMemory, loadModelWeights, type ModelMemoryEstimate } from './weights';

/** The KV-cache estimate assumes this many tokens (or the model's maximum, when smaller). */
export const SUMMARY_CONTEXT_TOKENS = 2048;

export interface ModelSummary {
  id: string;
  architecture: Architecture;
  config: ModelConfig;
  parameters: number;
  /** Size of the model's files. */
  fileBytes: number;
  /** How the weights are stored (they are widened to float32 when loaded). */
  storedDtypes: string[];
  contextTokens: number;
  memory: ModelMemoryEstimate;
  fromCache: boolean;
  warnings: string[];
}

export async function loadModel(
  source: ModelSource,
  options: LoadFilesOptions = {},
): Promise<ModelSummary> {
  const files = await loadModelFiles(source, options);
  // The tokenizer is cheap and often the broken part: check it before building the weights.
  const tokenizer = createTokenizer(files.tokenizerJson, files.tokenizerConfig);
  const tensorCount = files.weightFiles.reduce((total, file) => total + file.entries.size, 0);
  let built = 0;
  const { weights, warnings } = await loadModelWeights(
    files.config,
    files.weightFiles,
    async () => {
      await options.checkpoint?.();
      built += 1;
      options.onProgress?.({
        done: files.totalBytes,
        total: files.totalBytes,
        message: `creating tensors (${Math.min(built, tensorCount)} of ${tensorCount})`,
      });
    },
  );
  const model: LoadedModel = {
    id: files.id,
    config: files.config,
    weights,
    tokenizer,
    generationConfig: files.generationConfig,
    chatTemplate: files.chatTemplate,
  };
  setLoadedModel(model);
  const contextTokens = Math.min(files.config.maxPositionEmbeddings, SUMMARY_CONTEXT_TOKENS);
  const memory = estimateModelMemory(files.config, contextTokens);
  return {
    id: files.id,
    architecture: files.config.architecture,
    config: files.config,
    parameters: memory.parameters,
    fileBytes: files.totalBytes,
    storedDtypes: [
      ...new Set(
        files.weightFiles.flatMap((file) => [...file.entries.values()].map((e) => e.dtype)),
      ),
    ].sort(),
    contextTokens,
    memory,
    fromCache: files.fromCache,
    warnings: [...files.warnings, ...warnings],
  };
}
