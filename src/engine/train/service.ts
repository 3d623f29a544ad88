/**
 * Fine-tuning as the engine serves it: named LoRA adapters on the loaded model (create, reset,
 * clone, switch, merge, delete), SFT jobs on text or JSONL, and PEFT / Hub files in and out.
 * Adapters belong to the model they were made for and are freed when the model is replaced or
 * unloaded.
 */
import { isCancelledError, type JobRegistry } from '../jobs';
import type { ModelConfig } from '../model/config';
import { generate } from '../model/generate';
import { GREEDY } from '../model/sampling';
import type { Tokenizer } from '../model/tokenizer';
import type { ModelWeights } from '../model/weights';
import { parseSafetensors, serializeSafetensors } from '../model/safetensors';
import type { CheckpointRecord, CheckpointWithTensors, NewCheckpoint } from '../store';
import {
  parseDataset,
  tokenizeExamples,
  type DatasetFormat,
  type LossOn,
  type TokenizeOptions,
} from './dataset';
import { LoraAdapter, type LoraSettings } from './lora';
import {
  ADAPTER_WEIGHTS_FILE,
  exportMergedModel,
  exportPeftAdapter,
  importPeftAdapter,
  type AdapterFiles,
  type HubModelFiles,
} from './peft';
import {
  DEFAULT_SFT_OPTIONS,
  trainSft,
  type SftOptions,
  type SftResult,
  type TrainingProgress,
} from './sft';

/** What fine-tuning needs of a loaded model. */
export interface TrainableLoadedModel {
  id: string;
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer;
}

export interface AdapterInfo {
  name: string;
  settings: LoraSettings;
  /** Adapted linears. */
  modules: number;
  /** Trainable numbers (all A and B entries). */
  parameters: number;
  /** Whether generation applies this adapter. */
  active: boolean;
}

export interface FinetuneRequest {
  dataset: { source: string; format: DatasetFormat; fileName?: string };
  /** LoRA on a named adapter (created with `settings` and `seed` if it does not exist yet), or
   *  every weight of the model. */
  method:
    { kind: 'lora'; adapter: string; settings?: LoraSettings; seed?: number } | { kind: 'full' };
  lossOn: LossOn;
  /** Longest sequence in tokens; default and upper bound: the model's context. */
  maxLength?: number;
  overflow?: TokenizeOptions['overflow'];
  options?: Partial<SftOptions>;
}

export interface FinetuneResult extends SftResult {
  /** Examples truncated or skipped while preparing the data. */
  warnings: string[];
  examples: number;
}

export interface AnswerComparison {
  /** Greedy continuation of the prompt by the base model alone. */
  base: string;
  /** The same with the adapter applied. */
  adapted: string;
}

export interface TrainApi {
  createAdapter(name: string, settings: LoraSettings, seed: number): Promise<AdapterInfo>;
  listAdapters(): Promise<AdapterInfo[]>;
  /** Fresh A (from `seed`) and zero B, keeping the adapter's name and settings. */
  resetAdapter(name: string, seed: number): Promise<AdapterInfo>;
  cloneAdapter(name: string, cloneName: string): Promise<AdapterInfo>;
  deleteAdapter(name: string): Promise<void>;
  /** The adapter generation applies from now on; null for the base model alone. */
  activateAdapter(name: string | null): Promise<void>;
  /** Folds the adapter into the base weights for good, then deletes it. */
  mergeAdapter(name: string): Promise<void>;
  finetune(
    jobId: string,
    request: FinetuneRequest,
    onProgress?: (progress: TrainingProgress) => void,
  ): Promise<FinetuneResult>;
  /** adapter_config.json + adapter_model.safetensors, as PEFT writes them. */
  exportAdapter(name: string): Promise<AdapterFiles>;
  importAdapter(name: string, files: AdapterFiles): Promise<AdapterInfo>;
  /** Keeps the adapter in this browser's store (a checkpoint of kind 'adapter'), PEFT's way. */
  keepAdapter(name: string): Promise<CheckpointRecord>;
  /** Adapters kept in this browser for the loaded model (by its Hub repo), newest first. */
  keptAdapters(): Promise<CheckpointRecord[]>;
  /** Makes a kept adapter one of the loaded model's adapters again, under its kept name. */
  restoreAdapter(checkpointId: string): Promise<AdapterInfo>;
  /** config.json + model.safetensors of the model with `adapter` merged in (or as it is). */
  exportMergedModel(adapter: string | null): Promise<HubModelFiles>;
  /** How the model continues `prompt` (greedily) without and with the adapter. */
  compareAnswers(
    jobId: string,
    request: { prompt: string; adapter: string; maxNewTokens: number },
  ): Promise<AnswerComparison>;
}

/** The part of the store that keeps adapters. */
export interface AdapterStore {
  saveCheckpoint(input: NewCheckpoint): Promise<CheckpointRecord>;
  listCheckpoints(): Promise<CheckpointRecord[]>;
  loadCheckpoint(id: string): Promise<CheckpointWithTensors>;
}

export class FinetuneService implements TrainApi {
  private readonly adapters = new Map<string, LoraAdapter>();
  /** The weights the adapters were made for: a new model (even of the same id) drops them. */
  private adaptersWeights: ModelWeights | null = null;
  private activeName: string | null = null;
  private readonly changeListeners: ((adapters: AdapterInfo[]) => void)[] = [];

  constructor(
    private readonly currentModel: () => TrainableLoadedModel | null,
    private readonly jobs: JobRegistry,
    /** Where kept adapters go; without one (scripts, some tests) nothing can be kept. */
    private readonly store: AdapterStore | null = null,
  ) {}

  /** The adapter generation should pass to the forward pass, if any. */
  activeAdapter(): LoraAdapter | null {
    this.model();
    return this.activeName === null ? null : (this.adapters.get(this.activeName) ?? null);
  }

  /** Calls `listener` with the adapter list whenever adapters are added, removed or applied. */
  onAdaptersChange(listener: (adapters: AdapterInfo[]) => void): void {
    this.changeListeners.push(listener);
  }

  /**
   * Frees the adapters when the model they were made for is no longer the loaded one (even a
   * reload of the same id has new weights). The engine calls it whenever the model is replaced,
   * so unloading frees them at once; every other call checks too.
   */
  releaseStaleAdapters(): void {
    const weights = this.currentModel()?.weights ?? null;
    if (weights === this.adaptersWeights) return;
    const hadAdapters = this.adapters.size > 0;
    for (const adapter of this.adapters.values()) adapter.dispose();
    this.adapters.clear();
    this.activeName = null;
    this.adaptersWeights = weights;
    if (hadAdapters) this.notifyChange();
  }

  private model(): TrainableLoadedModel {
    this.releaseStaleAdapters();
    const model = this.currentModel();
    if (!model) throw new Error('no model is loaded: load one before fine-tuning');
    return model;
  }

  private notifyChange(): void {
    const adapters = [...this.adapters.keys()].map((name) => this.describe(name));
    for (const listener of this.changeListeners) listener(adapters);
  }

  private adapter(name: string): LoraAdapter {
    this.model();
    const adapter = this.adapters.get(name);
    if (!adapter) {
      const known = [...this.adapters.keys()].join(', ') || 'none';
      throw new Error(`no adapter named '${name}' (adapters: ${known})`);
    }
    return adapter;
  }

  private add(name: string, adapter: LoraAdapter): AdapterInfo {
    if (name.trim() === '') {
      adapter.dispose();
      throw new Error('an adapter needs a name');
    }
    if (this.adapters.has(name)) {
      adapter.dispose();
      throw new Error(`an adapter named '${name}' already exists`);
    }
    this.adapters.set(name, adapter);
    this.notifyChange();
    return this.info(name);
  }

  private info(name: string): AdapterInfo {
    this.adapter(name);
    return this.describe(name);
  }

  /** The adapter's entry in the list, without checking that the model is still loaded. */
  private describe(name: string): AdapterInfo {
    const adapter = this.adapters.get(name)!;
    return {
      name,
      settings: adapter.settings,
      modules: adapter.modules.size,
      parameters: adapter.variables().reduce((n, v) => n + v.size, 0),
      active: this.activeName === name,
    };
  }

  async createAdapter(name: string, settings: LoraSettings, seed: number) {
    return this.add(name, LoraAdapter.create(this.model().weights, settings, seed));
  }

  async listAdapters() {
    this.model();
    return [...this.adapters.keys()].map((name) => this.info(name));
  }

  async resetAdapter(name: string, seed: number) {
    this.jobs.assertModelFree('Resetting an adapter');
    this.adapter(name).reset(seed);
    return this.info(name);
  }

  async cloneAdapter(name: string, cloneName: string) {
    return this.add(cloneName, this.adapter(name).clone());
  }

  async deleteAdapter(name: string) {
    // A running job may be training or generating with it.
    this.jobs.assertModelFree('Deleting an adapter');
    this.removeAdapter(name);
  }

  private removeAdapter(name: string) {
    this.adapter(name).dispose();
    this.adapters.delete(name);
    if (this.activeName === name) this.activeName = null;
    this.notifyChange();
  }

  async activateAdapter(name: string | null) {
    if (name !== null) this.adapter(name);
    this.activeName = name;
    this.notifyChange();
  }

  async mergeAdapter(name: string) {
    this.jobs.assertModelFree('Merging an adapter');
    this.adapter(name).mergeInto(this.model().weights);
    this.removeAdapter(name);
  }

  async finetune(
    jobId: string,
    request: FinetuneRequest,
    onProgress?: (progress: TrainingProgress) => void,
  ): Promise<FinetuneResult> {
    this.jobs.assertModelFree('Fine-tuning');
    const model = this.model();
    const context = model.config.maxPositionEmbeddings;
    const maxLength = Math.min(request.maxLength ?? context, context);
    const examples = parseDataset(
      request.dataset.source,
      request.dataset.format,
      request.dataset.fileName,
    );
    const { sequences, warnings } = tokenizeExamples(examples, model.tokenizer, {
      lossOn: request.lossOn,
      maxLength,
      overflow: request.overflow ?? 'truncate',
    });
    const { method } = request;
    let created: string | null = null;
    if (method.kind === 'lora' && !this.adapters.has(method.adapter)) {
      if (!method.settings) {
        throw new Error(`no adapter named '${method.adapter}', and no LoRA settings to create it`);
      }
      await this.createAdapter(method.adapter, method.settings, method.seed ?? 0);
      created = method.adapter;
    }
    const target =
      method.kind === 'lora'
        ? { kind: 'lora' as const, adapter: this.adapter(method.adapter) }
        : { kind: 'full' as const };
    try {
      const result = await this.jobs.runOnModel(jobId, 'fine-tuning', (checkpoint) =>
        trainSft(
          model,
          sequences,
          target,
          { ...DEFAULT_SFT_OPTIONS, ...request.options },
          { checkpoint, onProgress },
        ),
      );
      return { ...result, warnings, examples: sequences.length };
    } catch (error) {
      // A cancelled run keeps what it trained; a failed one leaves no adapter it made behind.
      if (created !== null && !isCancelledError(error)) this.removeAdapter(created);
      throw error;
    }
  }

  async compareAnswers(
    jobId: string,
    { prompt, adapter, maxNewTokens }: { prompt: string; adapter: string; maxNewTokens: number },
  ): Promise<AnswerComparison> {
    const model = this.model();
    const lora = this.adapter(adapter);
    const ids = model.tokenizer.encode(prompt);
    return this.jobs.runOnModel(jobId, 'an answer comparison', async (checkpoint) => {
      const answer = async (applied: LoraAdapter | undefined) => {
        const result = await generate(model, [ids], {
          maxNewTokens,
          sampling: GREEDY,
          stopTokenIds: model.config.eosTokenIds,
          decode: (tokens) => model.tokenizer.decode(tokens),
          adapter: applied,
          checkpoint,
        });
        return result.sequences[0]!.text;
      };
      return { base: await answer(undefined), adapted: await answer(lora) };
    });
  }

  async exportAdapter(name: string) {
    return exportPeftAdapter(this.adapter(name), this.baseModelName());
  }

  /** A Hub model's id is `repo@revision`; PEFT names the base model by the bare repo. */
  private baseModelName(): string {
    return this.model().id.replace(/@[^@/]+$/, '');
  }

  private requireStore(): AdapterStore {
    if (!this.store) throw new Error('this engine has no store to keep adapters in');
    return this.store;
  }

  async keepAdapter(name: string) {
    const store = this.requireStore();
    const files = await this.exportAdapter(name);
    const file = parseSafetensors(files.weights, ADAPTER_WEIGHTS_FILE);
    const tensors = [...file.entries].map(([tensor, entry]) => ({
      name: tensor,
      shape: entry.shape,
      data: file.readFloat32(tensor),
    }));
    return store.saveCheckpoint({
      name,
      kind: 'adapter',
      runId: null,
      config: JSON.parse(files.config),
      tensors,
    });
  }

  async keptAdapters() {
    const baseModel = this.baseModelName();
    const checkpoints = await this.requireStore().listCheckpoints();
    return checkpoints
      .filter(
        (c) =>
          c.kind === 'adapter' &&
          c.runId === null &&
          (c.config as { base_model_name_or_path?: unknown }).base_model_name_or_path === baseModel,
      )
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  async restoreAdapter(checkpointId: string) {
    const { checkpoint, tensors } = await this.requireStore().loadCheckpoint(checkpointId);
    if (checkpoint.kind !== 'adapter') {
      throw new Error(`checkpoint ${checkpoint.name} holds a whole model, not an adapter`);
    }
    return this.importAdapter(checkpoint.name, {
      config: JSON.stringify(checkpoint.config),
      weights: serializeSafetensors(tensors),
    });
  }

  async importAdapter(name: string, files: AdapterFiles) {
    return this.add(name, importPeftAdapter(files, this.model().weights));
  }

  async exportMergedModel(adapter: string | null) {
    const model = this.model();
    return exportMergedModel(
      model.config,
      model.weights,
      adapter === null ? null : this.adapter(adapter),
    );
  }
}
