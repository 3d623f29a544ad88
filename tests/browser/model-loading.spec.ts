import { expect, test, type BrowserContext, type Page, type Route } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '../../src/engine/model/safetensors';
import { openApp, readGoldens, type PageWithEngine, waitForEngine } from './helpers';

/**
 * The Hugging Face Hub, played by the fixture models: every request to huggingface.co is
 * answered here, so no test touches the network and each request is counted.
 */
const FIXTURES = new URL('../fixtures/models/', import.meta.url);

function fixtureFile(model: string, file: string): Buffer {
  return readFileSync(new URL(`${model}/${file}`, FIXTURES));
}

function modelFiles(model: string): string[] {
  return readdirSync(new URL(`${model}/`, FIXTURES)).filter(
    (file) => !file.startsWith('goldens') && !file.startsWith('tokenizer-goldens'),
  );
}

interface FakeHub {
  requests: string[];
  /** Bytes served instead of a fixture file, keyed `${model}/${file}`. */
  replaced: Map<string, Buffer>;
  /** Answers kept waiting until the function stored here is called, keyed like `replaced`. */
  held: Map<string, () => void>;
}

const CORS = { 'access-control-allow-origin': '*' };

async function serveHub(context: BrowserContext): Promise<FakeHub> {
  const hub: FakeHub = { requests: [], replaced: new Map(), held: new Map() };
  await context.route('https://huggingface.co/**', async (route: Route) => {
    const url = new URL(route.request().url());
    hub.requests.push(url.pathname);
    const api = url.pathname.match(/^\/api\/models\/test\/([\w.-]+)\/revision\/[\w.-]+$/);
    if (api) {
      const model = api[1]!;
      const siblings = modelFiles(model).map((file) => {
        const bytes = hub.replaced.get(`${model}/${file}`) ?? fixtureFile(model, file);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const lfs = file.endsWith('.safetensors') ? { lfs: { sha256, size: bytes.length } } : {};
        return { rfilename: file, size: bytes.length, ...lfs };
      });
      await route.fulfill({ headers: CORS, json: { sha: 'f'.repeat(40), siblings } });
      return;
    }
    const file = url.pathname.match(/^\/test\/([\w.-]+)\/resolve\/[\w.-]+\/([\w.-]+)$/);
    if (!file) {
      await route.fulfill({ status: 404, headers: CORS, body: 'Entry not found' });
      return;
    }
    const key = `${file[1]}/${file[2]}`;
    const body = hub.replaced.get(key) ?? fixtureFile(file[1]!, file[2]!);
    const headers = { ...CORS, 'content-type': 'application/octet-stream' };
    if (hub.held.has(key)) {
      await new Promise<void>((release) => hub.held.set(key, release));
      // The page may have given up on the request meanwhile.
      await route.fulfill({ headers, body }).catch(() => {});
      return;
    }
    await route.fulfill({ headers, body });
  });
  return hub;
}

async function loadFromHub(page: Page, repo: string) {
  await page.getByRole('tab', { name: 'Model' }).click();
  await page.getByLabel('Hugging Face Hub').check();
  await page.getByLabel('Repository').fill(repo);
  await page.getByTestId('model-load').click();
}

test('loads a sharded Qwen2 from the Hub, then again from the cache with no network', async ({
  page,
  context,
}) => {
  const hub = await serveHub(context);
  await openApp(page);
  await loadFromHub(page, 'test/tiny-qwen2-sharded');

  await expect(page.getByTestId('model-id')).toHaveText('test/tiny-qwen2-sharded@main');
  await expect(page.getByTestId('model-architecture')).toHaveText('Qwen2ForCausalLM');
  await expect(page.getByTestId('model-parameters')).toContainText('47,392');
  await expect(page.getByTestId('model-file-size')).toContainText('(downloaded)');
  await expect(page.getByTestId('model-memory')).toContainText('KV cache');
  expect(hub.requests.filter((path) => path.endsWith('.safetensors'))).toHaveLength(4);
  await page.screenshot({ path: 'test-output/model-loaded.png', fullPage: true });

  await page.reload();
  await waitForEngine(page);
  const memory = () =>
    page.evaluate(() => (window as unknown as PageWithEngine).seal.engine.memory());
  const before = await memory();
  hub.requests.length = 0;
  await loadFromHub(page, 'test/tiny-qwen2-sharded');
  await expect(page.getByTestId('model-file-size')).toContainText('from this browser’s cache');
  await expect(page.getByTestId('model-architecture')).toHaveText('Qwen2ForCausalLM');
  expect(hub.requests).toEqual([]);
  expect((await memory()).numTensors).toBe(before.numTensors + 27);

  await page.getByTestId('model-unload').click();
  await expect(page.getByTestId('model-none')).toBeVisible();
  expect((await memory()).numTensors).toBe(before.numTensors);
});

test('a corrupt checkpoint is a clear error and the app stays usable @no-webgpu', async ({
  page,
  context,
}) => {
  const hub = await serveHub(context);
  const lying = Buffer.from(fixtureFile('tiny-llama', 'model.safetensors'));
  lying.writeBigUInt64LE(BigInt(lying.length), 0);
  hub.replaced.set('tiny-llama/model.safetensors', lying);
  await openApp(page);
  await loadFromHub(page, 'test/tiny-llama');
  await expect(page.getByTestId('model-error')).toContainText('Could not load the model.');
  await expect(page.getByTestId('model-error')).toContainText('model.safetensors: header length');
  await expect(page.getByTestId('model-none')).toBeVisible();

  await page.getByLabel('Repository').fill('test/tiny-llama3');
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-id')).toHaveText('test/tiny-llama3@main');
  await expect(page.getByTestId('model-error')).toBeHidden();
});

test('an unsupported architecture names itself and what is supported', async ({
  page,
  context,
}) => {
  const hub = await serveHub(context);
  const config = JSON.parse(fixtureFile('tiny-llama', 'config.json').toString('utf8'));
  config.architectures = ['MistralForCausalLM'];
  const bytes = Buffer.from(JSON.stringify(config));
  hub.replaced.set('tiny-llama/config.json', bytes);
  await openApp(page);
  await loadFromHub(page, 'test/tiny-llama');
  await expect(page.getByTestId('model-error')).toContainText(
    'config.json: architecture "MistralForCausalLM" is not supported (supported: LlamaForCausalLM, Qwen2ForCausalLM)',
  );
});

test('a load waiting on the network can be cancelled', async ({ page, context }) => {
  const hub = await serveHub(context);
  hub.held.set('tiny-llama/model.safetensors', () => {});
  await openApp(page);
  await loadFromHub(page, 'test/tiny-llama');
  await expect(page.getByTestId('model-progress')).toBeVisible();
  await expect
    .poll(() => hub.requests.some((path) => path.endsWith('/model.safetensors')))
    .toBe(true);
  await page.getByTestId('model-cancel').click();
  await expect(page.getByTestId('model-notice')).toContainText('Loading was cancelled');
  await expect(page.getByTestId('model-progress')).toBeHidden();
  hub.held.get('tiny-llama/model.safetensors')?.();
  await expect(page.getByTestId('model-load')).toBeEnabled();
});

test('loads a model folder picked from disk @no-webgpu', async ({ page }) => {
  await openApp(page);
  await page.getByRole('tab', { name: 'Model' }).click();
  await page.getByLabel('Local folder').check();
  await page
    .getByTestId('folder-input')
    .setInputFiles(fileURLToPath(new URL('tiny-llama3', FIXTURES)));
  await page.getByTestId('model-load').click();
  await expect(page.getByTestId('model-id')).toHaveText('local folder tiny-llama3');
  await expect(page.getByTestId('model-architecture')).toHaveText('LlamaForCausalLM');
  await expect(page.getByTestId('model-summary')).toContainText('tied to the output layer');
  await expect(page.getByTestId('model-summary')).toContainText('llama3 scaling ×8');
});

test("the Generate panel starts from the loaded model's generation_config.json", async ({
  page,
  context,
}) => {
  const hub = await serveHub(context);
  const generationConfig = {
    ...JSON.parse(fixtureFile('tiny-llama3', 'generation_config.json').toString('utf8')),
    do_sample: true,
    temperature: 0.3,
    top_k: 7,
    top_p: 0.85,
    max_new_tokens: 12,
  };
  hub.replaced.set(
    'tiny-llama3/generation_config.json',
    Buffer.from(JSON.stringify(generationConfig)),
  );
  await openApp(page);
  await page.getByRole('tab', { name: 'Generate' }).click();
  await expect(page.getByLabel('Temperature')).toHaveValue('0.7');
  await loadFromHub(page, 'test/tiny-llama3');
  await expect(page.getByTestId('model-id')).toHaveText('test/tiny-llama3@main');

  await page.getByRole('tab', { name: 'Generate' }).click();
  await expect(page.getByLabel('Temperature')).toHaveValue('0.3');
  await expect(page.getByLabel('Top-k')).toHaveValue('7');
  await expect(page.getByLabel('Top-p')).toHaveValue('0.85');
  await expect(page.getByLabel('Max new tokens')).toHaveValue('12');
});

test('loads a model with float16 weights: half the memory, the logits of transformers within float16 rounding, and full fine-tuning refused', async ({
  page,
}) => {
  await openApp(page);
  const memory = () =>
    page.evaluate(() => (window as unknown as PageWithEngine).seal.engine.memory());
  const before = await memory();
  const logitsOf = (ids: number[]) =>
    page.evaluate(
      async (ids) => (await (window as unknown as PageWithEngine).seal.engine.logits([ids])).values,
      ids,
    );
  const goldens = readGoldens('tiny-llama3');
  const ids = goldens.input_ids[0]!;
  const golden = parseSafetensors(
    new Uint8Array(fixtureFile('tiny-llama3', 'goldens.safetensors')),
    'goldens.safetensors',
  ).readFloat32('logits');

  const loadFolder = async (storage: 'float32' | 'float16') => {
    await page.getByRole('tab', { name: 'Model' }).click();
    await page.getByLabel('Local folder').check();
    await page
      .getByTestId('folder-input')
      .setInputFiles(fileURLToPath(new URL('tiny-llama3', FIXTURES)));
    await page.getByLabel('Weights in memory').selectOption(storage);
    await page.getByTestId('model-load').click();
    await expect(page.getByTestId('model-memory')).toContainText(`as ${storage}`);
    const bytes = (await memory()).numBytes - before.numBytes;
    const logits = await logitsOf(ids);
    const difference = Math.max(...Array.from(logits, (x, i) => Math.abs(x - golden[i]!)));
    return { bytes, difference };
  };

  const float32 = await loadFolder('float32');
  const float16 = await loadFolder('float16');
  // The matrices take half their bytes; the norms' gains stay float32.
  expect(float16.bytes / float32.bytes).toBeGreaterThan(0.5);
  expect(float16.bytes / float32.bytes).toBeLessThan(0.52);
  expect(float32.difference).toBeLessThan(1e-4);
  // Weights rounded to float16 (11 significant bits) move the logits, but only so far.
  expect(float16.difference).toBeGreaterThan(float32.difference);
  expect(float16.difference).toBeLessThan(0.05);

  const training = await page.evaluate(async () => {
    const { engine } = (window as unknown as PageWithEngine).seal;
    const dataset = { source: 'the cat sat on the mat. the cat sat on the mat.', format: 'text' };
    const lora = await engine.train.finetune('lora-on-halves', {
      dataset,
      method: {
        kind: 'lora',
        adapter: 'on-halves',
        settings: { targets: ['q_proj', 'v_proj'], rank: 4, alpha: 8, dropout: 0 },
        seed: 3,
      },
      lossOn: 'all',
      options: { epochs: 8, learningRate: 1e-2 },
    } as never);
    const full = await engine.train
      .finetune('full-on-halves', { dataset, method: { kind: 'full' }, lossOn: 'all' } as never)
      .then(
        () => 'trained',
        (error: unknown) => String(error),
      );
    return { losses: lora.losses, full };
  });
  // LoRA trains on float16 weights; full fine-tuning is refused, saying why and what to do.
  expect(training.losses.at(-1)!).toBeLessThan(training.losses[0]! * 0.9);
  expect(training.full).toContain('full fine-tuning needs float32 weights');
});

test('?weights=float16 loads the default model as float16, and the choice stays in the address', async ({
  page,
}) => {
  await openApp(page, 'weights=float16&tab=model', { defaultModel: true });
  await expect(page.getByTestId('model-memory')).toContainText('as float16');
  const choice = page.getByLabel('Weights in memory');
  await expect(choice).toHaveValue('float16');
  await choice.selectOption('float32');
  await expect.poll(() => new URL(page.url()).searchParams.get('weights')).toBeNull();
  await choice.selectOption('float16');
  await expect.poll(() => new URL(page.url()).searchParams.get('weights')).toBe('float16');
});
