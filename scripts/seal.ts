/**
 * `npm run seal -- --config experiments/<name>.json [--out DIR [--resume]]`: runs a SEAL experiment in Node on
 * wasm, exactly as the SEAL panel runs it in the browser, and writes its records to files: the run
 * in the History panel's export format (run.zip, importable in the browser), its episodes as JSONL,
 * a summary, the contexts as SQuAD-style JSON and the M-step data as prompt/completion JSONL (the
 * files the official Python code reads). A seed in the config makes the run repeat exactly.
 *
 * Experiments: `seal` (one run), `table2` (one run, plus bench/results/table2-<date>.json),
 * `formats` (one run per self-edit format) and `forgetting` (sequential edits, accuracy matrix).
 */
import 'fake-indexeddb/auto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/engine/backend';
import { JobRegistry } from '../src/engine/jobs';
import { loadModel } from '../src/engine/model/loader';
import { requireLoadedModel, setLoadedModel, type LoadedModel } from '../src/engine/model/session';
import { resolveSealConfig } from '../src/engine/seal/config';
import { worldSealContexts, type HeldOutSplit } from '../src/engine/seal/contexts';
import {
  mStepJsonl,
  roundSummaries,
  runForgetting,
  squadJson,
  table2Metrics,
} from '../src/engine/seal/experiments';
import { SELF_EDIT_FORMATS } from '../src/engine/seal/prompts';
import {
  heldOutUnits,
  planRound,
  resumeSealRun,
  startSealRun,
  type SealEvent,
} from '../src/engine/seal/restem';
import { tinySealModel } from '../src/engine/seal/tinyModel';
import { openStore } from '../src/engine/store';
import { RESULTS_DIR, gitCommit, type BenchResult } from './benchResult';

const EXPERIMENTS = ['seal', 'table2', 'formats', 'forgetting'] as const;
type Experiment = (typeof EXPERIMENTS)[number];

interface ExperimentFile {
  experiment: Experiment;
  /** Names the output folder. */
  name: string;
  /** A model folder in the Hugging Face layout, or the tiny random model. */
  model: { kind: 'folder'; path: string } | { kind: 'tiny'; seed: number };
  /** Seed of the synthetic world whose contexts the run uses. */
  world: number;
  /**
   * `validation` trains on the first half of the RL contexts and holds out the second half, to
   * choose settings without looking at the evaluation contexts (`eval`, the default).
   */
  heldOut?: HeldOutSplit;
  /** Overrides of the SEAL defaults (src/engine/seal/config.ts). */
  seal?: Record<string, unknown>;
  /** `formats`: the self-edit formats compared. */
  formats?: string[];
  /** `forgetting`: how many held-out passages are edited in sequence. */
  passages?: number;
}

function fail(message: string): never {
  throw new Error(message);
}

function readExperiment(path: string): ExperimentFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail(`${path}: ${(error as Error).message}`);
  }
  const file = value as ExperimentFile;
  if (!EXPERIMENTS.includes(file.experiment)) {
    fail(`${path}: "experiment" must be one of ${EXPERIMENTS.join(', ')}`);
  }
  if (typeof file.name !== 'string' || !/^[\w.-]+$/.test(file.name)) {
    fail(`${path}: "name" must be letters, digits, '.', '_' or '-'`);
  }
  if (!Number.isInteger(file.world))
    fail(`${path}: "world" must be a whole number (the world seed)`);
  if (file.heldOut !== undefined && file.heldOut !== 'eval' && file.heldOut !== 'validation') {
    fail(`${path}: "heldOut" must be "eval" or "validation"`);
  }
  const model = file.model as { kind?: string; path?: unknown; seed?: unknown } | undefined;
  if (
    !(model?.kind === 'folder' && typeof model.path === 'string') &&
    !(model?.kind === 'tiny' && Number.isInteger(model.seed))
  ) {
    fail(`${path}: "model" must be {"kind": "folder", "path": "…"} or {"kind": "tiny", "seed": N}`);
  }
  resolveSealConfig(file.seal ?? {});
  for (const format of file.formats ?? []) {
    if (!(SELF_EDIT_FORMATS as readonly string[]).includes(format)) {
      fail(
        `${path}: unknown format "${format}" in "formats" (known: ${SELF_EDIT_FORMATS.join(', ')})`,
      );
    }
  }
  return file;
}

async function loadExperimentModel(
  spec: ExperimentFile['model'],
  world: number,
): Promise<LoadedModel> {
  if (spec.kind === 'tiny') {
    setLoadedModel(tinySealModel(spec.seed, world));
    return requireLoadedModel();
  }
  const files = readdirSync(spec.path).map(
    (name) => new File([readFileSync(join(spec.path, name))], name),
  );
  await loadModel({ kind: 'files', files });
  return { ...requireLoadedModel(), id: spec.path };
}

/** One line redrawn in place on a terminal, or a line per update otherwise. */
function progressBar(label: string, total: number, alreadyDone = 0) {
  const started = Date.now();
  let done = alreadyDone;
  return (detail: string) => {
    done += 1;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const seconds = (Date.now() - started) / 1000;
    const eta = done > alreadyDone ? (seconds / (done - alreadyDone)) * (total - done) : 0;
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${seconds.toFixed(0)}s, ~${eta.toFixed(0)}s left · ${detail}`;
    if (process.stderr.isTTY)
      process.stderr.write(`\r${line.slice(0, process.stderr.columns - 1)}`);
    else process.stderr.write(`${line}\n`);
    if (done === total && process.stderr.isTTY) process.stderr.write('\n');
  };
}

function write(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, name), text);
}

/**
 * One SEAL run, its records written to `outDir`. With `resume`, a run that already finished there
 * is read back, and one interrupted there continues from its last round.
 */
async function runOne(
  file: ExperimentFile,
  model: LoadedModel,
  overrides: Record<string, unknown>,
  outDir: string,
  resume: boolean,
): Promise<{ metrics: Record<string, number> }> {
  const summaryPath = join(outDir, 'summary.json');
  const zipPath = join(outDir, 'run.zip');
  if (resume && existsSync(summaryPath)) {
    return JSON.parse(readFileSync(summaryPath, 'utf8')) as { metrics: Record<string, number> };
  }
  const config = resolveSealConfig(overrides);
  const contexts = worldSealContexts(file.world, file.heldOut);
  let total = 0;
  for (let round = 0; round <= config.outer.rounds; round++) {
    total += planRound(config, contexts, round).steps.length;
  }
  const store = openStore({
    databaseName: `seal-cli-${process.pid}-${config.format}`,
    channelName: null,
  });
  const interrupted =
    resume && existsSync(zipPath) ? await store.importRun(readFileSync(zipPath)) : null;
  const tick = progressBar(`${file.name} ${config.format}`, total, interrupted?.episodeCount ?? 0);
  mkdirSync(outDir, { recursive: true });
  // The run as it stands after each round, so that an interrupted command can go on with --resume.
  let saving = Promise.resolve();
  const saveRun = (runId: string) => {
    saving = saving.then(async () => writeFileSync(zipPath, await store.exportRun(runId)));
  };
  let runId = interrupted?.id ?? null;
  const jobs = new JobRegistry();
  const onEvent = (event: SealEvent) => {
    if (event.type === 'run') runId = event.run.id;
    if (event.type === 'round' && runId !== null) saveRun(runId);
    if (event.type === 'episode') {
      const { round, contextIndex, sampleIndex, reward } = event.episode;
      tick(
        `round ${round} context ${contextIndex} sample ${sampleIndex}: reward ${reward.toFixed(3)}`,
      );
    }
  };
  const run = await jobs.run('seal', (checkpoint) => {
    const options = { model, contexts, records: store, checkpoint, onEvent };
    return interrupted
      ? resumeSealRun(options, interrupted.id)
      : startSealRun(options, {
          config: overrides,
          name: file.name,
          contextsSource:
            file.heldOut === 'validation'
              ? { world: file.world, heldOut: 'validation' }
              : { world: file.world },
        });
  });
  await saving;
  const episodes = await store.listEpisodes(run.id);
  writeFileSync(zipPath, await store.exportRun(run.id));
  write(outDir, 'episodes.jsonl', episodes.map((e) => `${JSON.stringify(e)}\n`).join(''));
  write(outDir, 'contexts-train.json', squadJson(contexts.train));
  write(outDir, 'contexts-held-out.json', squadJson(heldOutUnits(config, contexts).flat()));
  write(outDir, 'm-step.jsonl', mStepJsonl(config, episodes));
  const metrics = table2Metrics(episodes);
  const wallSeconds = (run.updatedAt - run.createdAt) / 1000;
  const summary = {
    run: run.id,
    model: model.id,
    config,
    metrics,
    rounds: roundSummaries(config, episodes),
    wallSeconds,
  };
  write(outDir, 'summary.json', `${JSON.stringify(summary, null, 2)}\n`);
  await store.close();
  return { metrics };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
    },
  });
  if (!values.config) {
    fail('usage: npm run seal -- --config experiments/<name>.json [--out DIR [--resume]]');
  }
  if (values.resume && !values.out)
    fail('--resume needs --out: the folder of the run to go on with');
  const file = readExperiment(values.config);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = values.out ?? join('runs', `${file.name}-${stamp}`);
  const backend = await selectBackend('wasm');
  const model = await loadExperimentModel(file.model, file.world);
  const started = Date.now();
  const seal = file.seal ?? {};

  if (file.experiment === 'forgetting') {
    const config = resolveSealConfig(seal);
    const passages = worldSealContexts(file.world, file.heldOut).heldOut.slice(
      0,
      file.passages ?? 8,
    );
    const tick = progressBar(`${file.name} forgetting`, passages.length);
    const result = await runForgetting(model, passages, config, {
      onEdit: (index, row) =>
        tick(`after edit ${index + 1}: ${row.map((a) => a.toFixed(2)).join(' ')}`),
    });
    mkdirSync(outDir, { recursive: true });
    write(
      outDir,
      'forgetting.json',
      `${JSON.stringify({ passages: passages.map((p) => p.id), ...result }, null, 2)}\n`,
    );
  } else if (file.experiment === 'formats') {
    const table: Record<string, Record<string, number>> = {};
    for (const format of file.formats ?? [...SELF_EDIT_FORMATS]) {
      table[format] = (
        await runOne(file, model, { ...seal, format }, join(outDir, format), values.resume!)
      ).metrics;
    }
    write(outDir, 'formats.json', `${JSON.stringify(table, null, 2)}\n`);
    console.table(table);
  } else {
    const { metrics } = await runOne(file, model, seal, outDir, values.resume!);
    console.table(metrics);
    // Only the evaluation contexts give the reported result; validation runs stay in their folder.
    if (file.experiment === 'table2' && file.heldOut !== 'validation') {
      const result: BenchResult = {
        name: 'table2',
        date: new Date().toISOString(),
        commit: gitCommit(),
        machine: { cpus: os.cpus().length, node: process.version, browser: null },
        backend: backend.active,
        adapter: backend.adapter,
        metrics,
      };
      mkdirSync(RESULTS_DIR, { recursive: true });
      const resultFile = join(RESULTS_DIR, `table2-${result.date.replace(/[:.]/g, '-')}.json`);
      writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
      console.log(`→ ${resultFile}`);
    }
  }
  console.log(
    `${file.name}: ${((Date.now() - started) / 1000).toFixed(1)} s on ${backend.active}; records in ${outDir}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
