/**
 * Loading a model end to end: its files (from wherever `sources` finds them), its tokenizer and
 * its weights, then making it the engine's loaded model and describing it for the UI.
 */
import type { Architecture, ModelConfig } from './config';
import { generationDefaults, type GenerationDefaults } from './generateText';
import { standaloneSession, type LoadedModel, type ModelSession } from './session';
import { loadModelFiles, type LoadFilesOptions, type ModelSource } from './sources';
import type { WeightStorage } from './float16';
import { createTokenizer, type Tokenizer } from './tokenizer';
import {
  checkWeightFiles,
  estimateModelMemory,
  loadModelWeights,
  weightStorageOf,
  type ModelMemoryEstimate,
} from './weights';

/** The KV-cache estimate assumes this many tokens (or the model's maximum, when smaller). */
const SUMMARY_CONTEXT_TOKENS = 2048;

export interface ModelSummary {
  id: string;
  architecture: Architecture;
  config: ModelConfig;
  parameters: number;
  /** Size of the model's files. */
  fileBytes: number;
  /** How the weights are stored in the files. */
  storedDtypes: string[];
  /** How the loaded model keeps its matrices in memory. */
  weightStorage: WeightStorage;
  contextTokens: number;
  memory: ModelMemoryEstimate;
  fromCache: boolean;
  /** The Generate panel's starting settings, from generation_config.json. */
  generationDefaults: GenerationDefaults;
  /** Whether the tokenizer has a chat template, without which chat prompts cannot be rendered. */
  hasChatTemplate: boolean;
  warnings: string[];
}

export interface LoadModelOptions extends LoadFilesOptions {
  /** Where the model is loaded into; scripts without an engine use the standalone one. */
  session?: ModelSession;
}

export async function loadModel(
  source: ModelSource,
  options: LoadModelOptions = {},
): Promise<ModelSummary> {
  const checked: { tokenizer?: Tokenizer } = {};
  const files = await loadModelFiles(source, {
    ...options,
    validate(candidate) {
      // The tokenizer is cheap and often the broken part: check it before the weights.
      checked.tokenizer = createTokenizer(candidate.tokenizerJson, candidate.tokenizerConfig);
      checkTokenizerFitsVocabulary(candidate.tokenizerJson, candidate.config.vocabSize);
      checkWeightFiles(candidate.config, candidate.weightFiles);
    },
  });
  const tokenizer = checked.tokenizer!;
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
    options.weightStorage,
  );
  const model: LoadedModel = {
    id: files.id,
    config: files.config,
    weights,
    tokenizer,
    generationConfig: files.generationConfig,
    chatTemplate: files.chatTemplate,
  };
  (options.session ?? standaloneSession).replace(model);
  return describeModel(model, {
    fileBytes: files.totalBytes,
    storedDtypes: [
      ...new Set(
        files.weightFiles.flatMap((file) => [...file.entries.values()].map((e) => e.dtype)),
      ),
    ].sort(),
    fromCache: files.fromCache,
    warnings: [...files.warnings, ...warnings],
  });
}

/** A loaded model's summary; what its files were is for the caller to say. */
export function describeModel(
  model: LoadedModel,
  files: Pick<ModelSummary, 'fileBytes' | 'storedDtypes' | 'fromCache' | 'warnings'>,
): ModelSummary {
  const contextTokens = Math.min(model.config.maxPositionEmbeddings, SUMMARY_CONTEXT_TOKENS);
  const weightStorage = weightStorageOf(model.weights);
  const memory = estimateModelMemory(model.config, contextTokens, 1, weightStorage);
  return {
    weightStorage,
    id: model.id,
    architecture: model.config.architecture,
    config: model.config,
    parameters: memory.parameters,
    contextTokens,
    memory,
    generationDefaults: generationDefaults(model.generationConfig),
    hasChatTemplate: model.chatTemplate !== null,
    ...files,
  };
}

/** Every token id the tokenizer can produce needs a row in the embedding matrix. */
function checkTokenizerFitsVocabulary(tokenizerJson: Record<string, unknown>, vocabSize: number) {
  const model = tokenizerJson.model as { vocab?: unknown } | undefined;
  const ids: [string, number][] = [];
  if (Array.isArray(model?.vocab)) {
    // Unigram: a list of [piece, score], ids are positions.
    model.vocab.forEach((entry, id) => ids.push([String((entry as unknown[])[0]), id]));
  } else if (typeof model?.vocab === 'object' && model.vocab !== null) {
    for (const [token, id] of Object.entries(model.vocab)) ids.push([token, Number(id)]);
  }
  const addedTokens = Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [];
  for (const added of addedTokens as { id?: unknown; content?: unknown }[]) {
    ids.push([String(added.content), Number(added.id)]);
  }
  const [token, id] = ids.reduce((max, entry) => (entry[1] > max[1] ? entry : max), ['', -1]);
  if (id >= vocabSize) {
    throw new Error(
      `tokenizer.json has token ${JSON.stringify(token)} with id ${id}, but config.json's vocab_size is ${vocabSize}: the embedding has no row for it`,
    );
  }
}
