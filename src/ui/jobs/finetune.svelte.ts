/**
 * The Fine-tune panel's form, job and results, kept here rather than in the panel so that they
 * outlive it: leaving the tab mid-training and coming back shows the running job with its Cancel,
 * and a finished job's loss chart, comparison and downloads stay until the next job replaces them.
 */
import { strToU8, zipSync } from 'fflate';
import type { AnswerComparison, FinetuneRequest } from '../../engine/train/service';
import type { TrainingProgress } from '../../engine/train/sft';
import { downloadFile } from '../download';
import { Comlink, newJobId } from '../engineClient';
import { isCancelled, messageOf } from '../errors';
import type { ModelSummary, WorldStarter } from '../../engine/api';
import { engine, refreshMemory } from '../state.svelte';
import { replaceDefaults, starterFor } from './starter';

/** The texts and settings the form starts from for a model the app knows nothing about. */
const GENERIC_START = {
  source: '',
  targets: ['q_proj', 'v_proj'] as string[],
  rank: 8,
  alpha: 16,
  learningRate: 1e-3,
  epochs: 3,
  comparePrompt: '',
};

/** For a world model: its starter passage, settings that teach it, and the question to compare. */
function worldStart(starter: WorldStarter): typeof GENERIC_START {
  const { targets, rank, alpha, learningRate, epochs } = starter.finetune;
  return {
    source: starter.passage,
    targets: [...targets],
    rank,
    alpha,
    learningRate,
    epochs,
    comparePrompt: starter.prompt,
  };
}

export const finetuneForm = $state({
  ...GENERIC_START,
  /** The picked file's name; null once the text is edited or pasted. */
  fileName: null as string | null,
  format: 'text' as 'text' | 'jsonl',
  method: 'lora' as 'lora' | 'full',
  adapterName: 'adapter-1',
  dropout: 0,
  batchSize: 1,
  gradientAccumulation: 1,
  lossOn: 'completion' as 'completion' | 'all',
  schedule: 'cosine' as 'constant' | 'cosine',
  seed: 0,
  compareTokens: 40,
});

export const finetune = $state({
  /** The training job running now. */
  jobId: null as string | null,
  losses: [] as number[],
  latest: null as TrainingProgress | null,
  warnings: [] as string[],
  message: null as { text: string; bad: boolean } | null,
  /** The adapter the last training wrote (null after full fine-tuning). */
  trainedAdapter: null as string | null,
  /** The answer comparison running now. */
  compareJobId: null as string | null,
  comparison: null as (AnswerComparison & { adapter: string; prompt: string }) | null,
});

/** The model whose starting texts the form was last given (undefined: none yet). */
let startModelId: string | null | undefined;
let defaultStart = GENERIC_START;

/**
 * Each newly loaded model starts the form from its own texts: a world model's validation passage
 * and question, or the generic ones; fields the user changed stay.
 */
export function startFromModel(model: ModelSummary | null): void {
  const id = model?.id ?? null;
  if (id === startModelId) return;
  startModelId = id;
  void starterFor(model).then((starter) => {
    if (startModelId !== id) return;
    const next = starter ? worldStart(starter) : GENERIC_START;
    replaceDefaults(finetuneForm, defaultStart, next);
    defaultStart = next;
  });
}

export async function readDatasetFile(file: File): Promise<void> {
  finetuneForm.source = await file.text();
  finetuneForm.fileName = file.name;
  finetuneForm.format = /\.jsonl?$/i.test(file.name) ? 'jsonl' : 'text';
}

function finetuneRequest(): FinetuneRequest {
  const form = finetuneForm;
  return {
    dataset: {
      source: form.source,
      format: form.format,
      fileName: form.fileName ?? (form.format === 'jsonl' ? 'pasted.jsonl' : 'pasted.txt'),
    },
    method:
      form.method === 'lora'
        ? {
            kind: 'lora',
            adapter: form.adapterName,
            settings: {
              targets: [...form.targets],
              rank: form.rank,
              alpha: form.alpha,
              dropout: form.dropout,
            },
            seed: form.seed,
          }
        : { kind: 'full' },
    lossOn: form.format === 'text' ? 'all' : form.lossOn,
    options: {
      epochs: form.epochs,
      batchSize: form.batchSize,
      gradientAccumulation: form.gradientAccumulation,
      learningRate: form.learningRate,
      schedule: form.schedule,
      seed: form.seed,
    },
  };
}

export async function startFinetune(): Promise<void> {
  const id = newJobId('finetune');
  const request = finetuneRequest();
  const adapter = request.method.kind === 'lora' ? request.method.adapter : null;
  Object.assign(finetune, {
    jobId: id,
    losses: [],
    latest: null,
    warnings: [],
    message: null,
    comparison: null,
  });
  try {
    const result = await engine.train.finetune(
      id,
      request,
      Comlink.proxy((progress: TrainingProgress) => {
        finetune.losses = [...finetune.losses, progress.loss];
        finetune.latest = progress;
      }),
    );
    finetune.warnings = result.warnings;
    const examples = `${result.examples} example${result.examples === 1 ? '' : 's'}`;
    finetune.message = {
      text: `Trained ${result.steps} steps on ${examples} in ${(result.elapsedMs / 1000).toFixed(1)} s; final loss ${result.losses.at(-1)?.toFixed(4)}.`,
      bad: false,
    };
    finetune.trainedAdapter = adapter;
  } catch (error) {
    const cancelled = isCancelled(error);
    finetune.message = cancelled
      ? { text: 'Cancelled; the weights are as after the last finished step.', bad: false }
      : { text: messageOf(error), bad: true };
    // A cancelled run keeps the adapter as far as it was trained.
    if (cancelled && adapter !== null) finetune.trainedAdapter = adapter;
  } finally {
    finetune.jobId = null;
    await refreshMemory();
  }
}

export async function cancelFinetune(): Promise<void> {
  if (finetune.jobId) await engine.cancel(finetune.jobId);
}

export async function compareAnswers(): Promise<void> {
  const adapter = finetune.trainedAdapter;
  if (!adapter) return;
  const id = newJobId('compare');
  const { comparePrompt: prompt, compareTokens: maxNewTokens } = finetuneForm;
  finetune.compareJobId = id;
  finetune.comparison = null;
  try {
    const answers = await engine.train.compareAnswers(id, { prompt, adapter, maxNewTokens });
    finetune.comparison = { ...answers, adapter, prompt };
  } catch (error) {
    finetune.message = { text: messageOf(error), bad: true };
  } finally {
    finetune.compareJobId = null;
  }
}

export async function downloadMergedModel(): Promise<void> {
  const files = await engine.train.exportMergedModel(finetune.trainedAdapter);
  downloadFile(
    'merged-model.zip',
    zipSync({
      'merged-model/config.json': strToU8(files.config),
      'merged-model/model.safetensors': files.weights,
    }),
  );
}
