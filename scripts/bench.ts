/**
 * `npm run bench [-- <name>…] [--only node|browser]`: runs the engine's named benchmarks in Node
 * (wasm) and in headless Chromium (webgpu, wasm and, for the benchmarks that list it, cpu; against
 * the built app), writing one JSON file per benchmark and backend under bench/results/.
 * Benchmarks of the loaded model run in Node on the default model (models/seal-world-1m).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { chromium } from '@playwright/test';
import type { BackendInfo, EngineApi } from '../src/engine/api';
import { BENCHMARKS, benchmarkBackends } from '../src/engine/benchmarks';
import { createEngine } from '../src/engine/engine';
import { createModelSession } from '../src/engine/model/session';
import { spawnNodePoolWorker } from '../src/engine/pool/node';
import { RESULTS_DIR, gitCommit, type BenchResult } from './benchResult';
import { chromiumArgs, CHROMIUM_MISSING_MESSAGE, findChromium } from './chromium.mjs';
import { loadModelFolder } from './modelFolder';

// Another port lets two checkouts run their benchmarks side by side.
const PORT = Number(process.env.BENCH_PORT ?? 4318);
const DEFAULT_MODEL_FOLDER = 'models/seal-world-1m';

function save(result: BenchResult, where: string): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = result.date.replace(/[:.]/g, '-');
  const file = `${RESULTS_DIR}/${result.name}-${result.backend}-${where}-${stamp}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`${where} ${result.backend} ${result.name}:`, result.metrics, `→ ${file}`);
}

async function runAll(
  engine: Pick<EngineApi, 'runBenchmark'>,
  names: string[],
  info: BackendInfo,
  browser: string | null,
): Promise<void> {
  for (const name of names) {
    const { needsLoadedModel } = BENCHMARKS[name]!;
    const backends = benchmarkBackends(name);
    if (!backends.includes(info.active)) {
      console.log(`Skipping ${name} on ${info.active}: it runs on ${backends.join(', ')} only`);
      continue;
    }
    if (needsLoadedModel && browser) {
      console.log(`Skipping ${name} in the browser: it times the default model in Node only`);
      continue;
    }
    const metrics = await engine.runBenchmark(`bench-${name}`, name);
    save(
      {
        name,
        date: new Date().toISOString(),
        commit: gitCommit(),
        machine: { cpus: os.cpus().length, node: process.version, browser },
        backend: info.active,
        adapter: info.adapter,
        metrics,
      },
      browser ? 'chromium' : 'node',
    );
  }
}

async function benchNode(names: string[]): Promise<void> {
  const session = createModelSession();
  const engine = createEngine({ spawnPoolWorker: spawnNodePoolWorker, session });
  const info = await engine.init('wasm');
  if (names.some((name) => BENCHMARKS[name]!.needsLoadedModel)) {
    session.replace(await loadModelFolder(DEFAULT_MODEL_FOLDER));
  }
  await runAll(engine, names, info, null);
}

async function benchBrowser(names: string[]): Promise<void> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_MISSING_MESSAGE);
  execFileSync('npx', ['vite', 'build'], { stdio: 'inherit' });
  const server = spawn(
    'npx',
    ['vite', 'preview', '--port', String(PORT), '--strictPort', '--host', '127.0.0.1'],
    { stdio: 'ignore', detached: true },
  );
  const browser = await chromium.launch({
    executablePath,
    args: chromiumArgs({ webgpu: true }),
  });
  try {
    const page = await browser.newPage();
    for (const backend of ['webgpu', 'wasm', 'cpu'] as const) {
      if (!names.some((name) => benchmarkBackends(name).includes(backend))) continue;
      await gotoWhenServing(page, `http://127.0.0.1:${PORT}/?backend=${backend}&model=none`);
      const engineInPage = {
        runBenchmark: (jobId: string, name: string) =>
          page.evaluate(
            ([id, n]) =>
              (window as unknown as { seal: { engine: EngineApi } }).seal.engine.runBenchmark(
                id!,
                n!,
              ),
            [jobId, name],
          ),
      };
      const info = await page.evaluate(async (request) => {
        const { engine } = (window as unknown as { seal: { engine: EngineApi } }).seal;
        return engine.init(request);
      }, backend);
      if (info.active !== backend) {
        console.warn(`Skipping browser ${backend}: ${info.fallbackReasons.join('; ')}`);
        continue;
      }
      await runAll(engineInPage, names, info, browser.version());
    }
  } finally {
    await browser.close();
    process.kill(-server.pid!);
  }
}

async function gotoWhenServing(page: import('@playwright/test').Page, url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.goto(url);
      return;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const onlyIndex = args.indexOf('--only');
  const only = onlyIndex >= 0 ? args.splice(onlyIndex, 2)[1] : undefined;
  const known = await createEngine().listBenchmarks();
  const names = args.length > 0 ? args : known;
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${known.join(', ')}`);
  }
  if (only !== 'browser') await benchNode(names);
  if (only !== 'node') await benchBrowser(names);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
