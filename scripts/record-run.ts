/**
 * `npm run record:run -- --run <run folder with run.zip, or a run .zip> --out
 * public/recorded/<name>.json.gz [--commit <sha>] [--rounds 0,1] [--title <text>]`: writes the
 * recorded run the app ships (src/engine/seal/recordedRun.ts, docs/formats.md) from a run's
 * export, read and checked as an import is. By default it shows every complete round. The file
 * appears whole or not at all: it is written under a temporary name, read back, then renamed.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { planImport } from '../src/engine/store/exchange';
import {
  decodeRecordedRun,
  encodeRecordedRun,
  MAX_RECORDED_RUN_BYTES,
  recordRun,
} from '../src/engine/seal/recordedRun';

function headCommit(): string {
  return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}

function roundsArg(text: string): number[] {
  return text.split(',').map((item) => {
    if (!/^\d+$/.test(item.trim())) {
      throw new Error(`--rounds must be round numbers separated by commas, got "${text}"`);
    }
    return Number(item);
  });
}

function exportOf(runArg: string): string {
  if (!existsSync(runArg)) throw new Error(`--run: ${runArg} does not exist`);
  const file = statSync(runArg).isDirectory() ? join(runArg, 'run.zip') : runArg;
  if (!existsSync(file)) throw new Error(`--run: ${runArg} holds no run.zip`);
  return file;
}

/** The run and episodes of an export, checked as an import is; errors name the file. */
function readExport(file: string): ReturnType<typeof planImport> {
  try {
    return planImport(readFileSync(file));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      out: { type: 'string' },
      commit: { type: 'string' },
      rounds: { type: 'string' },
      title: { type: 'string' },
    },
  });
  if (values.run === undefined || values.out === undefined) {
    throw new Error('give --run <run folder or run .zip> and --out <file.json.gz>');
  }
  if (!values.out.endsWith('.json.gz')) {
    throw new Error(`--out must name a .json.gz file (the file is gzipped), got "${values.out}"`);
  }
  const source = exportOf(values.run);
  const { run, episodes } = readExport(source);
  const recorded = recordRun({
    run,
    episodes,
    rounds: values.rounds === undefined ? undefined : roundsArg(values.rounds),
    title: values.title ?? run.name,
    commit: values.commit ?? headCommit(),
    recordedAt: Date.now(),
    sourceFile: basename(source),
  });
  const { bytes, size } = encodeRecordedRun(recorded);
  await decodeRecordedRun(bytes, values.out);

  mkdirSync(dirname(values.out), { recursive: true });
  const temporary = `${values.out}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, values.out);
  } finally {
    rmSync(temporary, { force: true });
  }
  const shown = recorded.rounds.filter((r) => r.shown).map((r) => r.round);
  const summarised = recorded.rounds.filter((r) => !r.shown).map((r) => r.round);
  console.log(
    `${values.out}: run ${run.id} (${run.status}), rounds ${shown.join(', ')} shown with ` +
      `${recorded.episodes.length} episodes` +
      (summarised.length > 0 ? `, rounds ${summarised.join(', ')} summarised` : '') +
      `; ${size.gzipBytes} bytes gzipped (limit ${MAX_RECORDED_RUN_BYTES}), ` +
      `${size.jsonBytes} as JSON, of which episodes ${size.episodeBytes}`,
  );
}

main().catch((error: unknown) => {
  console.error(`record:run: ${(error as Error).message}`);
  process.exit(1);
});
