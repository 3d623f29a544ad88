import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

function seal(out: string, ...args: string[]): void {
  execFileSync(
    'npx',
    [
      'tsx',
      'scripts/seal.ts',
      '--config',
      'experiments/table1-tiny.json',
      '--out',
      out,
      '--results',
      join(out, 'results'),
      '--workers',
      '1',
      ...args,
    ],
    { stdio: 'pipe' },
  );
}

const summaryOf = (out: string) =>
  JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    metrics: Record<string, number>;
    config: { evaluation: { tasks: number } };
  };

describe('npm run seal on a table1 experiment', () => {
  it('writes the run, its episodes, the held-out puzzles, Table 1 and a result file with its config', () => {
    const out = mkdtempSync(join(os.tmpdir(), 'table1-cli-'));
    folders.push(out);
    seal(out);
    const episodes = readFileSync(join(out, 'episodes.jsonl'), 'utf8').trim().split('\n');
    expect(episodes).toHaveLength(8);
    expect(readFileSync(join(out, 'run.zip')).subarray(0, 2).toString()).toBe('PK');
    const summary = summaryOf(out);
    for (const row of ['icl', 'oracle', 'ttt_untrained', 'seal', 'seal_minus_ttt_untrained']) {
      expect(summary.metrics[`${row}_ci_low`]).toBeLessThanOrEqual(summary.metrics[row]!);
    }
    expect(readdirSync(join(out, 'tasks-held-out'))).toHaveLength(summary.config.evaluation.tasks);
    const [resultFile] = readdirSync(join(out, 'results'));
    expect(resultFile).toMatch(/^table1-tiny-.*\.json$/);
    const result = JSON.parse(readFileSync(join(out, 'results', resultFile!), 'utf8')) as {
      metrics: Record<string, number>;
      config: unknown;
      commit: string;
    };
    expect(result.config).toEqual(summary.config);
    expect(result.metrics.wall_s).toBeGreaterThan(0);

    // A finished run is read back, not run again.
    seal(out, '--resume');
    expect(summaryOf(out).metrics).toEqual(summary.metrics);
  });
});
