/**
 * The folder a CLI experiment run writes to, for the experiments of `npm run seal`: summary.json
 * once the run is done, episodes.jsonl, run.zip (the run as it stands after each round and every
 * few minutes, for --resume) and wall-seconds.txt (the time spent on it so far; a resumed run
 * adds its sessions up).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunEvent } from '../src/engine/runJobs';
import { openStore, type EpisodeRecord, type RunRecord, type SealStore } from '../src/engine/store';

/** How often an unfinished run is written to its folder, besides after every round. */
const SAVE_EVERY_MS = 10 * 60 * 1000;

/** One line per episode on stderr (or redrawn in place on a terminal). */
export type ProgressTick = (detail: string) => void;

export interface FinishedRun<Config> {
  runId: string;
  config: Config;
  episodes: EpisodeRecord[];
  wallSeconds: number;
}

/** The run that already finished in `outDir` (it has its summary), read back; null if none. */
export function readFinishedRun<Config>(
  outDir: string,
  resolveConfig: (stored: unknown) => Config,
): FinishedRun<Config> | null {
  const summaryPath = join(outDir, 'summary.json');
  if (!existsSync(summaryPath)) return null;
  const stored = JSON.parse(readFileSync(summaryPath, 'utf8')) as { config: unknown; run: string };
  const episodes = readFileSync(join(outDir, 'episodes.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as EpisodeRecord);
  const config = resolveConfig(stored.config);
  const wallSeconds = Number(readFileSync(join(outDir, 'wall-seconds.txt'), 'utf8'));
  return { runId: stored.run, config, episodes, wallSeconds };
}

export interface RunFolder {
  store: SealStore;
  /** The run interrupted in the folder, when resuming one: it goes on from where it was saved. */
  interrupted: RunRecord | null;
  tick: ProgressTick;
  /** Keeps track of the run of the events and saves it after each round and every few minutes. */
  noteEvent(event: { type: string }): void;
  /**
   * Writes the run as it ended (run.zip, episodes.jsonl) once the saves under way are done;
   * resolves to its episodes.
   */
  writeRun(runId: string): Promise<EpisodeRecord[]>;
  /** Writes the time spent on the run over all its sessions; returns it in seconds. */
  writeWallSeconds(): number;
}

/**
 * Opens a fresh store for a run in `outDir` (`storeName` tells the experiments apart), with the
 * run saved there imported when `resume` is set; `progress` makes the ticker from the episodes the
 * run already has.
 */
export async function openRunFolder(
  outDir: string,
  {
    storeName,
    resume,
    progress,
  }: { storeName: string; resume: boolean; progress: (alreadyDone: number) => ProgressTick },
): Promise<RunFolder> {
  const zipPath = join(outDir, 'run.zip');
  const wallPath = join(outDir, 'wall-seconds.txt');
  const store = openStore({
    databaseName: `${storeName}-${process.pid}-${outDir}`,
    channelName: null,
  });
  const interrupted =
    resume && existsSync(zipPath) ? await store.importRun(readFileSync(zipPath)) : null;
  const tick = progress(interrupted?.episodeCount ?? 0);
  mkdirSync(outDir, { recursive: true });
  const earlierSeconds =
    interrupted && existsSync(wallPath) ? Number(readFileSync(wallPath, 'utf8')) : 0;
  const sessionStart = Date.now();
  const wallSecondsNow = () => earlierSeconds + (Date.now() - sessionStart) / 1000;
  let saving = Promise.resolve();
  let savedAt = Date.now();
  const saveRun = (runId: string) => {
    savedAt = Date.now();
    const seconds = wallSecondsNow();
    saving = saving.then(async () => {
      writeFileSync(zipPath, await store.exportRun(runId));
      writeFileSync(wallPath, `${seconds}\n`);
    });
  };
  let runId = interrupted?.id ?? null;
  return {
    store,
    interrupted,
    tick,
    noteEvent(event) {
      if (isRunEvent(event)) runId = event.run.id;
      if (event.type === 'round' && runId !== null) saveRun(runId);
      if (event.type === 'episode' && runId !== null && Date.now() - savedAt > SAVE_EVERY_MS) {
        saveRun(runId);
      }
    },
    async writeRun(endedRunId) {
      await saving;
      const episodes = await store.listEpisodes(endedRunId);
      writeFileSync(zipPath, await store.exportRun(endedRunId));
      writeFileSync(
        join(outDir, 'episodes.jsonl'),
        episodes.map((e) => `${JSON.stringify(e)}\n`).join(''),
      );
      return episodes;
    },
    writeWallSeconds() {
      const wallSeconds = wallSecondsNow();
      writeFileSync(wallPath, `${wallSeconds}\n`);
      return wallSeconds;
    },
  };
}
