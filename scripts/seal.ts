/**
 * `npm run seal -- --config experiments/<name>.json [--out DIR [--resume]] [--workers N]
 * [--results DIR]`: runs a SEAL experiment in Node on wasm, exactly as the SEAL panel runs it in
 * the browser, its self-edit evaluations on a pool of N workers, and writes its records to files:
 * the run in the History panel's export format (run.zip, importable in the browser), its episodes
 * as JSONL, a summary, the contexts as SQuAD-style JSON and the M-step data as prompt/completion
 * JSONL (the files the official Python code reads). A seed in the config makes the run repeat
 * exactly.
 *
 * Experiments: `seal` (one run), `table2` (SEAL, its random-selection control and optionally the
 * pooled column; bench/results/table2-<date>.json), `formats` (one run per self-edit format) and
 * `forgetting` (sequential edits, accuracy matrix). A `seal` or `table2` experiment on validation
 * contexts files its metrics under its own name in bench/results (or --results), as the evidence
 * its settings were chosen on. `table1` is the few-shot puzzle experiment (scripts/table1.ts;
 * bench/results/table1-<date>.json, or under its own name on validation puzzles).
 */
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendInfo } from '../src/engine/backend';
import { JobRegistry } from '../src/engine/jobs';
import { loadModel } from '../src/engine/model/loader';
import { requireLoadedModel, setLoadedModel, type LoadedModel } from '../src/engine/model/session';
import { resolveSealConfig, type SealConfig } from '../src/engine/seal/config';
import { worldSealContexts, type HeldOutSplit } from '../src/engine/seal/contexts';
import { mStepJsonl, runForgetting, squadJson } from '../src/engine/seal/experiments';
import { heldOutUnits } from '../src/engine/seal/plan';
import { SELF_EDIT_FORMATS } from '../src/engine/prompts';
import {
  resumeSealRun,
  startSealRun,
  totalSteps,
  type SealEvent,
  type SealRunOptions,
} from '../src/engine/seal/restem';
import {
  randomSelectionMetrics,
  reliabilityBySeeds,
  roundSummaries,
  table2Metrics,
} from '../src/engine/seal/results';
import { createWorkerPool, defaultPoolSize } from '../src/engine/pool/executor';
import { spawnNodePoolWorker } from '../src/engine/pool/node';
import { tinySealModel } from '../src/engine/seal/tinyModel';
import { tinyPuzzleModel } from '../src/engine/puzzles/tinyModel';
import { resolveTable1Config } from '../src/engine/puzzles/experiment/config';
import { table1Goals } from '../src/engine/puzzles/experiment/results';
import { openRunFolder, readFinishedRun } from './runFolder';
import { runTable1 } from './table1';
import { openStore, type EpisodeRecord } from '../src/engine/store';
import { RESULTS_DIR, gitCommit, type BenchResult } from './benchResult';

const EXPERIMENTS = ['seal', 'table2', 'formats', 'forgetting', 'table1'] as const;
type Experiment = (typeof EXPERIMENTS)[number];

interface ExperimentFile {
  experiment: Experiment;
  /** Names the output folder. */
  name: string;
  /** A model folder in the Hugging Face layout, or the tiny random model. */
  model: { kind: 'folder'; path: string } | { kind: 'tiny'; seed: number };
  /** Seed of the synthetic world whose contexts the run uses (not `table1`: its config has one). */
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
  /** `table2`: false leaves out the random-selection control (run by default). */
  control?: boolean;
  /**
   * `table2`: also the continued-pretraining column: held-out passages trained on in pools of
   * `poolSize`, by the base model (base, passage, its self-edits) and with the final generator's
   * self-edits.
   */
  cpt?: { poolSize: number; contexts?: number };
  /** `table1`: overrides of the puzzle experiment's defaults (src/engine/puzzles/experiment/config.ts). */
  table1?: Record<string, unknown>;
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
  if (file.experiment === 'table1') {
    try {
      resolveTable1Config(file.table1 ?? {});
    } catch (error) {
      fail(`${path}: ${(error as Error).message}`);
    }
  } else if (!Number.isInteger(file.world))
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
  if (file.cpt !== undefined && !(Number.isInteger(file.cpt?.poolSize) && file.cpt.poolSize >= 1)) {
    fail(`${path}: "cpt" must be {"poolSize": N} with N a whole number ≥ 1`);
  }
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
  puzzles = false,
): Promise<LoadedModel> {
  if (spec.kind === 'tiny') {
    setLoadedModel(puzzles ? tinyPuzzleModel(spec.seed) : tinySealModel(spec.seed, world));
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

/** summary.json of a run: its metrics, rounds and reward reliability by seeds; returns the metrics. */
function writeSummary(
  outDir: string,
  runId: string,
  modelId: string,
  config: SealConfig,
  episodes: readonly EpisodeRecord[],
  wallSeconds: number,
): Record<string, number> {
  const bySeeds = reliabilityBySeeds(episodes);
  const metrics = table2Metrics(config, episodes);
  // What fewer seeds would have measured, flat, beside the configured number's.
  for (const { seeds, metrics: row } of bySeeds) {
    for (const [name, value] of Object.entries(row)) {
      if (/^reward_(reliability|validity)_/.test(name)) metrics[`${name}_seeds${seeds}`] = value;
    }
  }
  const summary = {
    run: runId,
    model: modelId,
    config,
    metrics,
    rounds: roundSummaries(config, episodes),
    rewardReliabilityBySeeds: bySeeds,
    wallSeconds,
  };
  write(outDir, 'summary.json', `${JSON.stringify(summary, null, 2)}\n`);
  return metrics;
}

interface RunOutcome {
  config: SealConfig;
  episodes: EpisodeRecord[];
  metrics: Record<string, number>;
  wallSeconds: number;
}

/** What every run of one experiment shares: its file, the model, and how to run (resume, workers). */
interface ExperimentSetup {
  file: ExperimentFile;
  model: LoadedModel;
  options: { resume: boolean; workers: number };
}

/**
 * One SEAL run, its records written to `outDir`. With `resume`, a run that already finished there
 * is read back, and one interrupted there continues from where it was last saved.
 */
async function runOne(
  { file, model, options: { resume, workers } }: ExperimentSetup,
  overrides: Record<string, unknown>,
  outDir: string,
): Promise<RunOutcome> {
  const config = resolveSealConfig(overrides);
  const finished = resume ? readFinishedRun(outDir, resolveSealConfig) : null;
  if (finished) {
    // A finished run: its summary is computed again from its episodes by this version's code.
    const { runId, config: runConfig, episodes, wallSeconds } = finished;
    const metrics = writeSummary(outDir, runId, model.id, runConfig, episodes, wallSeconds);
    return { config: runConfig, episodes, metrics, wallSeconds };
  }
  const contexts = worldSealContexts(file.world, file.heldOut);
  const total = totalSteps(config, contexts);
  const folder = await openRunFolder(outDir, {
    storeName: 'seal-cli',
    resume,
    progress: (alreadyDone) => progressBar(`${file.name} ${config.format}`, total, alreadyDone),
  });
  const { store, interrupted, tick } = folder;
  const jobs = new JobRegistry();
  const onEvent = (event: SealEvent) => {
    if (event.type === 'episode') {
      const { round, contextIndex, sampleIndex, reward } = event.episode;
      tick(
        `round ${round} context ${contextIndex} sample ${sampleIndex}: reward ${reward.toFixed(3)}`,
      );
    }
    folder.noteEvent(event);
  };
  const createExecutor: SealRunOptions['createExecutor'] = (generator, checkpoint) =>
    createWorkerPool(generator, { size: workers, spawn: spawnNodePoolWorker, checkpoint });
  const run = await jobs.run('seal', (checkpoint) => {
    const options: SealRunOptions = {
      model,
      contexts,
      records: store,
      checkpoint,
      onEvent,
      createExecutor: workers > 1 ? createExecutor : undefined,
    };
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
  const episodes = await folder.writeRun(run.id);
  write(outDir, 'contexts-train.json', squadJson(contexts.train));
  write(outDir, 'contexts-held-out.json', squadJson(heldOutUnits(config, contexts).flat()));
  write(outDir, 'm-step.jsonl', mStepJsonl(config, episodes));
  const wallSeconds = folder.writeWallSeconds();
  const metrics = writeSummary(outDir, run.id, model.id, config, episodes, wallSeconds);
  await store.close();
  return { config, episodes, metrics, wallSeconds };
}

function writeResult(
  resultsDir: string,
  name: string,
  backend: BackendInfo,
  metrics: Record<string, number>,
  config?: unknown,
): void {
  const result: BenchResult & { config?: unknown } = {
    name,
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: os.cpus().length, node: process.version, browser: null },
    backend: backend.active,
    adapter: backend.adapter,
    metrics,
    ...(config === undefined ? {} : { config }),
  };
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = join(resultsDir, `${name}-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`→ ${resultFile}`);
}

/**
 * Table 2: the SEAL run and, unless the file turns it off, its control: the same ReST-EM keeping a
 * random self-edit per context, which starts from the same generator and so skips the
 * evaluations before its first round (SEAL's serve for both).
 */
async function runTable2(setup: ExperimentSetup, outDir: string): Promise<Record<string, number>> {
  const { file } = setup;
  const seal = file.seal ?? {};
  const main = await runOne(setup, seal, outDir);
  let metrics = main.metrics;
  let wallSeconds = main.wallSeconds;
  if (file.control !== false && main.config.outer.rounds > 0) {
    const heldOut = (seal.heldOut ?? {}) as Record<string, unknown>;
    const outer = (seal.outer ?? {}) as Record<string, unknown>;
    const control = await runOne(
      setup,
      {
        ...seal,
        outer: { ...outer, selection: 'random' },
        heldOut: { ...heldOut, conditions: [], crossConditions: false },
      },
      join(outDir, 'random-selection'),
    );
    metrics = {
      ...metrics,
      ...randomSelectionMetrics(main.config, main.episodes, control.episodes),
    };
    wallSeconds += control.wallSeconds;
  }
  return { ...metrics, wall_s: wallSeconds };
}

/** Puts the generator a finished run kept after its last round into `model`; returns the weights it replaced. */
async function loadFinalGenerator(
  model: LoadedModel,
  runZip: string,
): Promise<Map<string, tf.Tensor>> {
  const store = openStore({ databaseName: `seal-cli-${process.pid}-generator`, channelName: null });
  try {
    const run = await store.importRun(readFileSync(runZip));
    const last = (await store.listCheckpoints(run.id))
      .filter((c) => c.kind === 'full')
      .sort((a, b) => (b.round ?? -1) - (a.round ?? -1))[0];
    if (!last) throw new Error(`${runZip} holds no generator checkpoint`);
    const { tensors } = await store.loadCheckpoint(last.id);
    const replaced = new Map<string, tf.Tensor>();
    for (const { name, shape, data } of tensors) {
      const variable = model.weights.get(name);
      if (!variable)
        throw new Error(`${runZip}: the generator has '${name}', which the model lacks`);
      replaced.set(name, tf.keep(variable.clone()));
      tf.tidy(() => variable.assign(tf.tensor(data, shape)));
    }
    return replaced;
  } finally {
    await store.close();
  }
}

/**
 * Table 2's continued-pretraining column: pooled held-out updates by the base model (`cpt_base`,
 * `cpt_passage`, `cpt_base_self_edits`) and with the final generator's self-edits (`cpt_seal`).
 */
async function runCpt(setup: ExperimentSetup, outDir: string): Promise<Record<string, number>> {
  const { file, model } = setup;
  const seal = file.seal ?? {};
  const heldOut = {
    ...((seal.heldOut ?? {}) as Record<string, unknown>),
    mode: 'pooled',
    poolSize: file.cpt!.poolSize,
    contexts: file.cpt!.contexts ?? (seal.heldOut as { contexts?: number } | undefined)?.contexts,
    draws: 1,
    crossConditions: false,
  };
  const outer = { ...((seal.outer ?? {}) as Record<string, unknown>), rounds: 0 };
  const metrics: Record<string, number> = {};
  const copy = (from: Record<string, number>, row: string, to: string) => {
    for (const suffix of ['', '_ci_low', '_ci_high']) {
      if (from[row + suffix] !== undefined) metrics[to + suffix] = from[row + suffix]!;
    }
  };
  const base = await runOne(
    setup,
    { ...seal, outer, heldOut: { ...heldOut, conditions: ['base', 'passage', 'self-edit'] } },
    join(outDir, 'cpt-base'),
  );
  copy(base.metrics, 'base', 'cpt_base');
  copy(base.metrics, 'passage', 'cpt_passage');
  copy(base.metrics, 'base_self_edits', 'cpt_base_self_edits');
  const replaced = await loadFinalGenerator(model, join(outDir, 'run.zip'));
  let finalSeconds = 0;
  try {
    const final = await runOne(
      setup,
      { ...seal, outer, heldOut: { ...heldOut, conditions: ['self-edit'] } },
      join(outDir, 'cpt-seal'),
    );
    copy(final.metrics, 'base_self_edits', 'cpt_seal');
    finalSeconds = final.wallSeconds;
  } finally {
    for (const [name, value] of replaced) model.weights.get(name)!.assign(value);
    tf.dispose([...replaced.values()]);
  }
  return { ...metrics, cpt_wall_s: base.wallSeconds + finalSeconds };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      workers: { type: 'string' },
      results: { type: 'string', default: RESULTS_DIR },
    },
  });
  const results = values.results!;
  if (!values.config) {
    fail(
      'usage: npm run seal -- --config experiments/<name>.json [--out DIR [--resume]] [--workers N] [--results DIR]',
    );
  }
  if (values.resume && !values.out)
    fail('--resume needs --out: the folder of the run to go on with');
  const workers = values.workers === undefined ? defaultPoolSize() : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    fail(`--workers must be a whole number ≥ 1, got "${values.workers}"`);
  }
  const file = readExperiment(values.config);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = values.out ?? join('runs', `${file.name}-${stamp}`);
  const backend = await selectBackend('wasm');
  const model = await loadExperimentModel(file.model, file.world, file.experiment === 'table1');
  const started = Date.now();
  const seal = file.seal ?? {};
  const options = { resume: values.resume!, workers };
  const setup: ExperimentSetup = { file, model, options };

  if (file.experiment === 'table1') {
    const { config, metrics } = await runTable1(
      file.name,
      file.table1 ?? {},
      model,
      outDir,
      options,
      (total, done) => progressBar(`${file.name} table1`, total, done),
    );
    console.table(metrics);
    for (const { goal, met, detail } of table1Goals(metrics)) {
      console.log(`${met === null ? '–' : met ? 'met' : 'not met'}: ${goal} (${detail})`);
    }
    // Filed under the experiment's name: table1 (evaluation puzzles, the reported table),
    // table1-validation (the evidence its settings, the oracle recipe among them, were chosen on).
    writeResult(results, file.name, backend, metrics, config);
  } else if (file.experiment === 'forgetting') {
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
      table[format] = (await runOne(setup, { ...seal, format }, join(outDir, format))).metrics;
    }
    write(outDir, 'formats.json', `${JSON.stringify(table, null, 2)}\n`);
    console.table(table);
  } else if (file.experiment === 'table2') {
    let metrics = await runTable2(setup, outDir);
    if (file.cpt) {
      const cpt = await runCpt(setup, outDir);
      metrics = { ...metrics, ...cpt, wall_s: metrics.wall_s! + cpt.cpt_wall_s! };
    }
    console.table(metrics);
    write(outDir, 'table2.json', `${JSON.stringify(metrics, null, 2)}\n`);
    // Only the evaluation contexts give the reported result; a validation run is filed under
    // its own name, as the evidence its settings were chosen on.
    writeResult(results, file.heldOut === 'validation' ? file.name : 'table2', backend, metrics);
  } else {
    const { metrics, wallSeconds } = await runOne(setup, seal, outDir);
    console.table(metrics);
    if (file.heldOut === 'validation') {
      writeResult(results, file.name, backend, { ...metrics, wall_s: wallSeconds });
    }
  }
  console.log(
    `${file.name}: ${((Date.now() - started) / 1000).toFixed(1)} s on ${backend.active} with ${workers} worker(s); records in ${outDir}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
