/**
 * The Generate panel's prompt, settings, running job and output, kept here rather than in the
 * panel so that they outlive it: leaving the tab and coming back shows them as they were.
 */
import type {
  GenerateRequest,
  GenerateResponse,
  GenerationStep,
  ModelSummary,
} from '../../engine/api';
import { Comlink, newJobId } from '../engineClient';
import { isCancelled, messageOf } from '../errors';
import { engine, refreshMemory } from '../state.svelte';
import { replaceDefaults, starterFor } from './starter';

/** Settings for a model whose generation_config.json does not give them. */
const FALLBACK_SETTINGS = { temperature: 0.7, topK: 0, topP: 0.95, maxNewTokens: 64 };
export const MAX_NEW_TOKENS_LIMIT = 4096;
/** The prompt for a model the app knows nothing about. */
const GENERIC_PROMPT = { prompt: 'The quick brown fox' };

export const generateForm = $state({
  mode: 'completion' as 'completion' | 'chat',
  ...GENERIC_PROMPT,
  systemMessage: '',
  ...FALLBACK_SETTINGS,
  seed: 0,
  samples: 1,
  stopText: '',
});

export const generation = $state({
  jobId: null as string | null,
  texts: [] as string[],
  finished: [] as boolean[],
  response: null as GenerateResponse | null,
  message: null as string | null,
});

/** The model whose settings the form was last given (undefined: none yet). */
let settingsModelId: string | null | undefined;
/** The prompt the form was last given as a default. */
let defaultPrompt = GENERIC_PROMPT;

/**
 * Each newly loaded model starts from the settings its generation_config.json asks for; the same
 * model again keeps what the user set. Chat needs the model's chat template.
 */
export function startFromModelSettings(model: ModelSummary | null): void {
  const id = model?.id ?? null;
  if (id === settingsModelId) return;
  settingsModelId = id;
  const settings = { ...FALLBACK_SETTINGS, ...model?.generationDefaults };
  generateForm.temperature = settings.temperature;
  generateForm.topK = settings.topK;
  generateForm.topP = settings.topP;
  generateForm.maxNewTokens = Math.min(settings.maxNewTokens, MAX_NEW_TOKENS_LIMIT);
  if (!model?.hasChatTemplate) generateForm.mode = 'completion';
  // A model trained on the synthetic world is asked about a passage the Fine-tune panel teaches it.
  void starterFor(model).then((starter) => {
    if (settingsModelId !== id) return;
    const next = starter ? { prompt: starter.prompt } : GENERIC_PROMPT;
    replaceDefaults(generateForm, defaultPrompt, next);
    defaultPrompt = next;
  });
}

function generateRequest(): GenerateRequest {
  const form = $state.snapshot(generateForm);
  const messages = [
    ...(form.systemMessage.trim()
      ? [{ role: 'system' as const, content: form.systemMessage }]
      : []),
    { role: 'user' as const, content: form.prompt },
  ];
  return {
    prompts: [
      form.mode === 'chat' ? { kind: 'chat', messages } : { kind: 'completion', text: form.prompt },
    ],
    samplesPerPrompt: form.samples,
    maxNewTokens: form.maxNewTokens,
    sampling: {
      temperature: form.temperature,
      topK: form.topK,
      topP: form.topP,
      seed: form.seed,
    },
    stopStrings: form.stopText ? [form.stopText] : [],
    // The shipped model learned BOS as the start of the next document: text past it is another one.
    stopAtDocumentStart: true,
  };
}

export async function startGeneration(): Promise<void> {
  const id = newJobId('generate');
  const request = generateRequest();
  generation.jobId = id;
  generation.texts = Array.from({ length: request.samplesPerPrompt }, () => '');
  generation.finished = generation.texts.map(() => false);
  generation.response = null;
  generation.message = null;
  try {
    const response = await engine.generate(
      id,
      request,
      Comlink.proxy((step: GenerationStep) => {
        if (generation.jobId !== id) return;
        generation.texts = step.texts;
        generation.finished = step.finished;
      }),
    );
    generation.response = response;
    generation.texts = response.sequences.map((sequence) => sequence.text);
  } catch (error) {
    generation.message = isCancelled(error) ? 'Cancelled.' : messageOf(error);
  } finally {
    if (generation.jobId === id) generation.jobId = null;
    await refreshMemory();
  }
}

export async function cancelGeneration(): Promise<void> {
  if (generation.jobId) await engine.cancel(generation.jobId);
}
