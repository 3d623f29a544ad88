import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listModelFolders, shippedModels } from '../../scripts/shippedModels';

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
});
