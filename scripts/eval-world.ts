/**
 * `npm run eval:world [-- --model models/NAME] [--limit N] [--seed N] [--samples N] [--split rl]`:
 * measures the model's abilities in the synthetic world of its seed (reading, closed-book QA on
 * held-out and on pretraining entities, self-edits checked against the world's facts), prints them
 * and writes them under bench/results/ as the benchmark `world`. `--limit N` evaluates the first N contexts
 * of each split. `--split rl` takes the held-out metrics from the RL-training contexts instead,
 * to compare checkpoints without looking at the evaluation contexts; it writes `world-rl`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/engine/backend';
import { DEFAULT_WORLD_EVAL_OPTIONS, evaluateWorld } from '../src/engine/eval/world';
import { generateWorld } from '../src/engine/world/generate';
import { gitCommit, RESULTS_DIR, type BenchResult } from './benchResult';
import { loadModelFolder } from './modelFolder';

function integerArg(name: string, text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a whole number, got "${text}"`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/seal-world-1m' },
      limit: { type: 'string' },
      seed: { type: 'string', default: '1' },
      samples: { type: 'string' },
      split: { type: 'string', default: 'eval' },
    },
  });
  if (values.split !== 'eval' && values.split !== 'rl') {
    throw new Error(`--split must be eval or rl, got "${values.split}"`);
  }
  const unseenSplit = values.split;
  const backend = await selectBackend('wasm');
  const model = await loadModelFolder(values.model!);
  const world = generateWorld(integerArg('seed', values.seed)!);
  const started = Date.now();
  const report = await evaluateWorld(
    model,
    world,
    {
      ...DEFAULT_WORLD_EVAL_OPTIONS,
      limit: integerArg('limit', values.limit),
      unseenSplit,
      selfEditsPerContext:
        integerArg('samples', values.samples) ?? DEFAULT_WORLD_EVAL_OPTIONS.selfEditsPerContext,
    },
    { onProgress: (message) => process.stderr.write(`\r${message}    `) },
  );
  process.stderr.write('\n');
  const result: BenchResult = {
    name: unseenSplit === 'eval' ? 'world' : 'world-rl',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: os.cpus().length, node: process.version, browser: null },
    backend: backend.active,
    adapter: null,
    metrics: { ...report.metrics, seconds: (Date.now() - started) / 1000 },
  };
  for (const example of report.examples.reading) console.log(example);
  for (const sample of report.examples.selfEdits) console.log(sample.text, sample.lines);
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}/${result.name}-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`→ ${file}`);
}

main().catch((error: unknown) => {
  console.error(`eval:world: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
