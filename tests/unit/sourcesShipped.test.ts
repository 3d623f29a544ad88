import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { describe, expect, it } from 'vitest';
import { listModelFolders, shippedModels } from '../../scripts/shippedModels.mjs';

const FIXTURES = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

describe('the build step that ships models/', () => {
  it('lists each folder holding a config.json, with file sizes', () => {
    const { models } = listModelFolders(FIXTURES);
    expect(models.map((model) => model.name)).toEqual([
      'tiny-llama',
      'tiny-llama-f16',
      'tiny-llama3',
      'tiny-qwen2',
      'tiny-qwen2-bf16',
      'tiny-qwen2-sharded',
    ]);
    const llama = models[0]!;
    expect(llama.files.find((file) => file.path === 'model.safetensors')?.size).toBe(
      readFileSync(join(FIXTURES, 'tiny-llama', 'model.safetensors')).length,
    );
    expect(listModelFolders(join(FIXTURES, 'no-such-folder'))).toEqual({ models: [] });
  });

  it('copies the model files into the build output', () => {
    const outDir = mkdtempSync(join(tmpdir(), 'shipped-'));
    try {
      const plugin = shippedModels(FIXTURES) as unknown as {
        configResolved(config: { root: string; build: { outDir: string } }): void;
        writeBundle(): void;
      };
      plugin.configResolved({ root: '/', build: { outDir } });
      plugin.writeBundle();
      const copied = join(
        outDir,
        'models',
        'tiny-qwen2-sharded',
        'model-00004-of-00004.safetensors',
      );
      expect(readFileSync(copied)).toEqual(
        readFileSync(join(FIXTURES, 'tiny-qwen2-sharded', 'model-00004-of-00004.safetensors')),
      );
      expect(existsSync(join(outDir, 'models', 'README.md'))).toBe(false);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('serves the models and their index from the dev server', async () => {
    const server = await createServer({
      configFile: false,
      logLevel: 'silent',
      plugins: [shippedModels(FIXTURES)],
      server: { port: 0, host: '127.0.0.1' },
    });
    await server.listen();
    try {
      const base = server.resolvedUrls!.local[0]!;
      const index = await (await fetch(new URL('models/index.json', base))).json();
      expect(index).toEqual(listModelFolders(FIXTURES));
      const config = await fetch(new URL('models/tiny-llama/config.json', base));
      expect(await config.text()).toBe(
        readFileSync(join(FIXTURES, 'tiny-llama', 'config.json'), 'utf8'),
      );
      const escape = await fetch(new URL('models/tiny-llama/..%2F..%2Fpackage.json', base));
      expect(await escape.text()).not.toContain('"name": "seal-playground"');
    } finally {
      await server.close();
    }
  });
});
