import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

/** Runs `npm run seal` on the tiny experiment; returns its episodes and summary. */
function runCli() {
  const out = mkdtempSync(join(os.tmpdir(), 'seal-cli-'));
  folders.push(out);
  execFileSync(
    'npx',
    ['tsx', 'scripts/seal.ts', '--config', 'experiments/tiny.json', '--out', out],
    {
      stdio: 'pipe',
    },
  );
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
    expect(Object.keys(first.summary.metrics)).toEqual([
      'base',
      'passage',
      'base_self_edits',
      'seal_round_1',
    ]);
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
