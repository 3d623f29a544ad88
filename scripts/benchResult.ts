/** The shape of every result file under bench/results/, and where it records what ran. */
import { execFileSync } from 'node:child_process';
import type { BackendInfo } from '../src/engine/api';

export const RESULTS_DIR = 'bench/results';

export interface BenchResult {
  name: string;
  date: string;
  commit: string;
  machine: { cpus: number; node: string; browser: string | null };
  backend: string;
  adapter: BackendInfo['adapter'];
  metrics: Record<string, number>;
}

export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}
