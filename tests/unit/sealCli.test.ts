import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

/** Runs `npm run seal` on an experiment file; returns the output folder. */
function seal(config: string, ...args: string[]): string {
  const out = mkdtempSync(join(os.tmpdir(), 'seal-cli-'));
  folders.push(out);
  const results = join(out, 'results');
  execFileSync(
    'npx',
    ['tsx', 'scripts/seal.ts', '--config', config, '--out', out, '--results', results, ...args],
    {
      stdio: 'pipe',
    },
  );
  return out;
}

/** Runs `npm run seal` on the tiny experiment; returns its episodes and summary. */
function runCli() {
  const out = seal('experiments/tiny.json', '--workers', '1');
  const episodes = readFileSync(join(out, 'episodes.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { reward: number; selfEdit: string; contextId: string });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    metrics: Record<string, number>;
  };
  return { out, episodes, summary };
}

describe('npm run seal', () => {
  it('writes the run, its episodes, contexts and M-step data, and repeats from its seed', () => {
    const first = runCli();
    expect(first.episodes).toHaveLength(8);
    for (const row of ['base', 'passage', 'base_self_edits', 'seal_final', 'seal_round_1']) {
      expect(first.summary.metrics[`${row}_ci_low`]).toBeLessThanOrEqual(
        first.summary.metrics[row]!,
      );
    }
    const mStep = readFileSync(join(first.out, 'm-step.jsonl'), 'utf8').trim().split('\n');
    expect(mStep).toHaveLength(2);
    for (const line of mStep)
      expect(Object.keys(JSON.parse(line))).toEqual(['prompt', 'completion']);
    const squad = JSON.parse(readFileSync(join(first.out, 'contexts-held-out.json'), 'utf8'));
    expect(Object.keys(squad[0])).toEqual(['title', 'context', 'questions']);
    expect(readFileSync(join(first.out, 'run.zip')).subarray(0, 2).toString()).toBe('PK');

    const second = runCli();
    expect(second.episodes.map((e) => e.reward)).toEqual(first.episodes.map((e) => e.reward));
    expect(second.episodes.map((e) => e.selfEdit)).toEqual(first.episodes.map((e) => e.selfEdit));
  });
});

describe('npm run seal with a table2 experiment', () => {
  it('runs SEAL, its random-selection control and the pooled column, on a pool of workers', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'seal-table2-'));
    folders.push(dir);
    const config = join(dir, 'table2.json');
    const tiny = JSON.parse(readFileSync('experiments/tiny.json', 'utf8')) as Record<
      string,
      unknown
    >;
    writeFileSync(
      config,
      JSON.stringify({
        ...tiny,
        experiment: 'table2',
        heldOut: 'validation',
        cpt: { poolSize: 2, contexts: 2 },
      }),
    );
    const out = seal(config, '--workers', '2');
    const metrics = JSON.parse(readFileSync(join(out, 'table2.json'), 'utf8')) as Record<
      string,
      number
    >;
    for (const row of [
      'seal_final',
      'random_selection_final',
      'seal_minus_random_selection',
      'random_selection_round_1',
      'cpt_base',
      'cpt_passage',
      'cpt_base_self_edits',
      'cpt_seal',
    ]) {
      expect(metrics[row]).toBeGreaterThanOrEqual(metrics[`${row}_ci_low`]!);
      expect(metrics[row]).toBeLessThanOrEqual(metrics[`${row}_ci_high`]!);
    }
    expect(metrics.random_selection_round_0).toBe(metrics.seal_round_0);
    expect(metrics.wall_s).toBeGreaterThan(0);
    // A validation run files its metrics under its own name, never as the reported table2.
    expect(readdirSync(join(out, 'results'))).toEqual([expect.stringMatching(/^tiny-.*\.json$/)]);
    // The control keeps a random self-edit without rewarding any.
    const control = readFileSync(join(out, 'random-selection', 'episodes.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; answers: string[] });
    const training = control.filter((e) => e.kind === 'self-edit');
    expect(training.length).toBeGreaterThan(0);
    expect(training.every((e) => e.answers.length === 0)).toBe(true);
    expect(control.some((e) => e.kind === 'held-out')).toBe(true);
  });
});
