import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';
import type { EngineApi } from '../../src/engine/api';

/** The engine proxy the app exposes on `window.seal` (the same one its panels use). */
export type PageWithEngine = { seal: { engine: EngineApi } };

/**
 * Opens the app and waits for its engine. Unless `defaultModel` is set, it opens with no model
 * (`?model=none`), so a test that loads its own model does not race the default load. Unless the
 * query names a backend it asks for WebGPU, which "auto" skips on SwiftShader (a software adapter).
 * Unless the query names a panel it opens System's, whose backend details and speed check many
 * tests read (the app itself opens on Start here).
 */
export async function openApp(
  page: Page,
  query = '',
  { defaultModel = false }: { defaultModel?: boolean } = {},
): Promise<void> {
  const params = new URLSearchParams(query);
  if (!defaultModel) params.set('model', 'none');
  if (!params.has('backend')) params.set('backend', 'webgpu');
  if (!params.has('tab')) params.set('tab', 'system');
  const search = params.toString();
  await page.goto(search === '' ? '/' : `/?${search}`);
  await waitForEngine(page);
}

/**
 * Waits until the engine runs `backend` (any, if not given), whichever panel is shown: the status
 * bar names it. A reload keeps the panel the address names, which need not be System's.
 */
export async function waitForEngine(page: Page, backend?: string): Promise<void> {
  await expect(page.getByTestId('status-backend')).toContainText(
    backend === undefined ? 'Backend ' : `Backend ${backend}`,
  );
}

/** The engine's checks of our WebGPU programs, which take no argument. */
export type WebGpuCheck =
  | 'compareWebGpuKernels'
  | 'compareWebGpuOptimizer'
  | 'compareWebGpuInference'
  | 'compareFloat16Storage';

/** Runs one of those checks on webgpu; a fallback to another backend fails, naming the reason. */
export async function checkOnWebGpu<K extends WebGpuCheck>(
  page: Page,
  check: K,
): Promise<Awaited<ReturnType<EngineApi[K]>>> {
  return page.evaluate(async (check) => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const info = await engine.init('webgpu');
    if (info.active !== 'webgpu') throw new Error(`webgpu did not start: ${info.fallbackReasons}`);
    return engine[check]();
  }, check) as Promise<Awaited<ReturnType<EngineApi[K]>>>;
}

/** Fails the test on any request that leaves the app's own origin. */
export function forbidForeignRequests(page: Page, origin: string): string[] {
  const foreign: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      foreign.push(url);
    }
  });
  return foreign;
}

/** Same-origin URL of the tiny-llama fixture model, which `serveTinyLlama` answers. */
export const TINY_LLAMA_PATH = '/__test-models/tiny-llama/';

/** Serves tests/fixtures/models/tiny-llama under TINY_LLAMA_PATH (the app may fetch its own origin only). */
export async function serveTinyLlama(page: Page): Promise<void> {
  const folder = join(import.meta.dirname, '../fixtures/models/tiny-llama');
  await page.route(`**${TINY_LLAMA_PATH}**`, async (route) => {
    const name = new URL(route.request().url()).pathname.slice(TINY_LLAMA_PATH.length);
    try {
      await route.fulfill({ status: 200, body: readFileSync(join(folder, name)) });
    } catch {
      await route.fulfill({ status: 404, body: 'not found' });
    }
  });
}

/** The reference checkpoints of tests/fixtures/models. */
export const FIXTURES = join(import.meta.dirname, '../fixtures/models');
/** Same-origin URLs a test answers itself (the app may fetch its own origin only). */
export const MODELS_PATH = '/__test-models/';

export type Files = Map<string, Uint8Array>;

/** A reference checkpoint's files, by name. */
export function fixtureFiles(folder: string): Files {
  const names = [
    'config.json',
    'model.safetensors',
    'generation_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ];
  return new Map(names.map((name) => [name, readFileSync(join(FIXTURES, folder, name))]));
}

/** What transformers computed on a reference checkpoint (scripts/make-fixtures.py). */
export interface Goldens {
  input_ids: number[][];
  greedy_continuation: number[][];
}

export function readGoldens(folder: string): Goldens {
  return JSON.parse(readFileSync(join(FIXTURES, folder, 'goldens.json'), 'utf8')) as Goldens;
}

/** Answers the app's requests under MODELS_PATH from `models` (folder → files), 404 otherwise. */
export async function serveModels(page: Page, models: Record<string, Files>): Promise<void> {
  await page.route(`**${MODELS_PATH}**`, async (route) => {
    const path = new URL(route.request().url()).pathname.slice(MODELS_PATH.length);
    const [folder, ...rest] = path.split('/');
    const body = models[folder!]?.get(rest.join('/'));
    if (body) await route.fulfill({ status: 200, body: Buffer.from(body) });
    else await route.fulfill({ status: 404, body: 'not found' });
  });
}

/**
 * A SEAL run of 2 training contexts, K = 2, 1 round, two questions per passage and no held-out
 * evaluation: SwiftShader's WebGPU gets through it in well under a minute.
 */
export const TINY_SEAL_CONFIG = {
  seed: 7,
  selfEdit: { samples: 2, maxNewTokens: 4 },
  inner: { epochs: 1, maxLength: 16, lora: { targets: ['q_proj', 'v_proj'], rank: 4, alpha: 8 } },
  grading: { maxAnswerTokens: 2, maxQuestions: 2 },
  reward: 'likelihood-gain',
  outer: { rounds: 1, contextsPerRound: 2 },
  heldOut: { contexts: 0 },
};

/** Opens the SEAL panel and makes the tiny demo model the loaded model. */
export async function useTinySealModel(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'SEAL' }).click();
  await page.getByRole('button', { name: 'Use the tiny demo model' }).click();
  await expect(page.getByTestId('seal-model')).toHaveText(/tiny-seal-3-world-1/);
}

/**
 * Starts a SEAL run on world 1 through the engine, one step at a time, that pauses once it has
 * stored `episodes` episodes (the panel's form does not show all the small settings tests use).
 * Resolves to the run's id.
 */
export async function pausedSealRun(
  page: Page,
  config: unknown,
  { name, episodes = 1 }: { name?: string; episodes?: number } = {},
): Promise<string> {
  return page.evaluate(
    async ({ config, name, episodes }) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const run = await engine.seal.startRun('paused-run', {
        config,
        worldSeed: 1,
        workers: 1,
        name,
        pauseAfterEpisodes: episodes,
      });
      if (run.status !== 'paused') throw new Error(`the run ended as ${run.status}`);
      return run.id;
    },
    { config, name, episodes },
  );
}
