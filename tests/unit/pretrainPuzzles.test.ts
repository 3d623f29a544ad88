import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelFolder } from '../../scripts/modelFolder';
import { selectBackend } from '../../src/engine/backend';
import { countParameters } from '../../src/engine/model/weights';
import { tryoutSettings } from '../../src/engine/puzzles/tryout';
import { answerPuzzle } from '../../src/engine/puzzles/testTimeTraining';
import { generatePuzzleWorld } from '../../src/engine/puzzles/world';

const folder = mkdtempSync(join(os.tmpdir(), 'pretrain-puzzles-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('npm run pretrain -- --world puzzles', () => {
  it('trains a tiny puzzle model into a folder the app loads, which answers a puzzle', async () => {
    const args = ['--world', 'puzzles', '--name', 'tiny', '--out', folder];
    const shape = ['--hidden', '32', '--layers', '1', '--heads', '2', '--kv-heads', '2'];
    execFileSync(
      'npx',
      [
        'tsx',
        'scripts/pretrain.ts',
        ...args,
        ...shape,
        ...['--intermediate', '64', '--checkpoints', join(folder, 'checkpoints')],
        ...['--documents', '40', '--steps', '3', '--batch', '2', '--warmup', '1'],
      ],
      { stdio: 'pipe' },
    );
    const modelDir = join(folder, 'tiny');
    const training = JSON.parse(readFileSync(join(modelDir, 'training.json'), 'utf8')) as {
      steps: number;
      parameters: number;
      options: { sequenceLength: number };
      corpus: { world: string; corpus: { documents: number } };
    };
    expect(training.steps).toBe(3);
    expect(training.options.sequenceLength).toBe(512);
    expect(training.corpus.world).toBe('puzzles');
    expect(training.corpus.corpus.documents).toBeLessThanOrEqual(40);
    const card = readFileSync(join(modelDir, 'README.md'), 'utf8');
    expect(card).toContain('# tiny');
    expect(card).toContain('Not yet measured');

    await selectBackend('wasm');
    const model = await loadModelFolder(modelDir);
    expect(model.config.hiddenSize).toBe(32);
    expect(countParameters(model.config)).toBe(training.parameters);
    expect(model.tokenizer.encode('in\n012\nout\n').length).toBe(1 + 8);
    const task = generatePuzzleWorld().tasks.find((t) => t.split === 'validation')!.task;
    const answer = await answerPuzzle(model, task, tryoutSettings(task));
    expect(answer.vote.ballots.length).toBeGreaterThan(0);
    expect(answer.vote.attempts.length).toBeLessThanOrEqual(tryoutSettings(task).attempts);
  });
});
