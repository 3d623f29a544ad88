/**
 * A recorded run: a SEAL run shipped with the app as one gzipped JSON file, which opens at once,
 * offline and without a model. It holds the run's record and every episode of the rounds it shows
 * (complete rounds only), and a summary of each round it leaves out; checkpoints are not shipped.
 * `npm run record:run` writes it from a run's export (scripts/record-run.ts); the app reads it with
 * the same schema (docs/formats.md, "Recorded run").
 */
import { gzipSync, strFromU8, strToU8 } from 'fflate';
import * as v from 'valibot';
import { comparePositions } from '../store';
import {
  CountSchema,
  EpisodeSchema,
  RunSchema,
  ShortTextSchema,
  validate,
  type EpisodeRecord,
  type RunRecord,
} from '../store/records';
import { episodeKind } from './episodes';
import { sealConfigOfRun } from './restem';
import { roundSummaries, type RoundSummary } from './results';

export const RECORDED_RUN_FORMAT = 'seal-playground-recorded-run';
export const RECORDED_RUN_SCHEMA_VERSION = 1;
/** The most a recorded-run file may weigh as shipped (gzipped), in bytes. */
export const MAX_RECORDED_RUN_BYTES = 5_000_000;

const ShareSchema = v.nullable(v.pipe(v.number(), v.finite()));

const RoundSummarySchema: v.GenericSchema<RoundSummary> = v.strictObject({
  round: CountSchema,
  heldOutAccuracy: ShareSchema,
  heldOutLow: ShareSchema,
  heldOutHigh: ShareSchema,
  meanReward: ShareSchema,
  keptReward: ShareSchema,
  rewardReliability: ShareSchema,
  selfEdits: CountSchema,
  kept: CountSchema,
  linesPerSelfEdit: ShareSchema,
  consistentShare: ShareSchema,
  contradictingShare: ShareSchema,
  truncatedShare: ShareSchema,
});

const RecordedRoundSchema = v.strictObject({
  round: CountSchema,
  /** Every episode of the round was stored, and its M-step kept the next generator. */
  complete: v.boolean(),
  /** Its episodes are in the file; otherwise `summary` says what they measured. */
  shown: v.boolean(),
  /** Episodes the source run stored in the round, by kind. */
  episodes: v.strictObject({
    'held-out': CountSchema,
    'self-edit': CountSchema,
    'reward-check': CountSchema,
  }),
  summary: v.optional(RoundSummarySchema),
});
export type RecordedRound = v.InferOutput<typeof RecordedRoundSchema>;

const RecordedRunSchema = v.strictObject({
  format: v.literal(RECORDED_RUN_FORMAT),
  schemaVersion: v.literal(RECORDED_RUN_SCHEMA_VERSION),
  /** What the app calls it, e.g. "Table 2 experiment". */
  title: ShortTextSchema,
  recordedAt: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** The commit of the code that made the run's export into this file. */
  commit: v.pipe(v.string(), v.regex(/^[0-9a-f]{7,40}$/, 'must be a git commit (7–40 hex digits)')),
  source: v.strictObject({
    /** The export it was read from (a run.zip). */
    file: ShortTextSchema,
    /** Whether the source run had finished when it was recorded. */
    finished: v.boolean(),
  }),
  /** The run as its export had it (status, progress and episode count of the whole run). */
  run: RunSchema,
  /** Every round the source run reached, in order. */
  rounds: v.pipe(v.array(RecordedRoundSchema), v.maxLength(1000)),
  /** Every episode of the rounds shown, in run order. */
  episodes: v.pipe(v.array(EpisodeSchema), v.maxLength(1_000_000)),
});
export type RecordedRun = v.InferOutput<typeof RecordedRunSchema>;

/** What a recorded run says about itself, beside its run and episodes. */
export type RecordedRunLabel = Omit<RecordedRun, 'format' | 'run' | 'episodes'>;

export interface RecordRunOptions {
  run: RunRecord;
  episodes: readonly EpisodeRecord[];
  /** Rounds whose episodes the file keeps; default: every complete round. */
  rounds?: readonly number[];
  title: string;
  commit: string;
  recordedAt: number;
  sourceFile: string;
}

function countByKind(episodes: readonly EpisodeRecord[]): RecordedRound['episodes'] {
  const counts = { 'held-out': 0, 'self-edit': 0, 'reward-check': 0 };
  for (const episode of episodes) {
    const kind = episodeKind(episode);
    if (kind in counts) counts[kind as keyof typeof counts] += 1;
  }
  return counts;
}

/**
 * Rounds 0 … `progress.round` − 1 are complete: the run moves its progress into the next round
 * only once the round's M-step has kept the generator (after the last round, once it is done).
 */
function isComplete(run: RunRecord, round: number): boolean {
  return round < run.progress.round;
}

/**
 * A recorded run of `run` from its exported episodes: every episode of the rounds shown, and a
 * summary (the per-round diagnostics the SEAL panel shows) of every other round the run reached.
 * Throws, saying why, for a run that is not a SEAL run on the synthetic world, or rounds that are
 * not complete.
 */
export function recordRun(options: RecordRunOptions): RecordedRun {
  const { run, episodes } = options;
  if (run.kind !== 'seal') throw new Error(`Run ${run.id} is a ${run.kind} run, not a SEAL run.`);
  if (run.datasetIds.length > 0) {
    throw new Error(
      `Run ${run.id} reads passages from stored datasets (${run.datasetIds.join(', ')}); only a run ` +
        `on the synthetic world's passages, which the app rebuilds from its seed, can be recorded.`,
    );
  }
  const config = sealConfigOfRun(run);
  const reached = new Set(episodes.map((e) => e.round));
  for (let round = 0; round <= config.outer.rounds; round++) {
    if (isComplete(run, round)) reached.add(round);
  }
  const complete = [...reached].filter((round) => isComplete(run, round));
  const shown = new Set(options.rounds ?? complete);
  if (shown.size === 0) {
    throw new Error(`Run ${run.id} has no complete round to show (it stopped in round 0).`);
  }
  for (const round of shown) {
    if (!reached.has(round) || !isComplete(run, round)) {
      throw new Error(
        `Round ${round} of run ${run.id} is not complete; complete rounds: ` +
          `${complete.join(', ') || 'none'}.`,
      );
    }
  }
  const rounds = [...reached]
    .sort((a, b) => a - b)
    .map((round): RecordedRound => {
      const ofRound = episodes.filter((e) => e.round === round);
      const entry = {
        round,
        complete: isComplete(run, round),
        shown: shown.has(round),
        episodes: countByKind(ofRound),
      };
      if (entry.shown) return entry;
      return { ...entry, summary: roundSummaries(config, ofRound)[0] ?? emptySummary(round) };
    });
  return {
    format: RECORDED_RUN_FORMAT,
    schemaVersion: RECORDED_RUN_SCHEMA_VERSION,
    title: options.title,
    recordedAt: options.recordedAt,
    commit: options.commit,
    source: { file: options.sourceFile, finished: run.status === 'done' },
    run,
    rounds,
    episodes: episodes.filter((e) => shown.has(e.round)),
  };
}

/** The summary of a round that was reached (its M-step position) but stored no episode. */
function emptySummary(round: number): RoundSummary {
  return {
    round,
    heldOutAccuracy: null,
    heldOutLow: null,
    heldOutHigh: null,
    meanReward: null,
    keptReward: null,
    rewardReliability: null,
    selfEdits: 0,
    kept: 0,
    linesPerSelfEdit: null,
    consistentShare: null,
    contradictingShare: null,
    truncatedShare: null,
  };
}

/** What a recorded run weighs: its JSON, the episodes' share of it, and the file as shipped. */
export interface RecordedRunSize {
  jsonBytes: number;
  episodeBytes: number;
  gzipBytes: number;
}

/**
 * The file of a recorded run (gzipped JSON) and what it weighs; throws when it would weigh more
 * than `limit` bytes, saying which part is large.
 */
export function encodeRecordedRun(
  recorded: RecordedRun,
  limit = MAX_RECORDED_RUN_BYTES,
): { bytes: Uint8Array; size: RecordedRunSize } {
  const json = strToU8(JSON.stringify(recorded));
  const bytes = gzipSync(json, { level: 9 });
  const size = {
    jsonBytes: json.byteLength,
    episodeBytes: strToU8(JSON.stringify(recorded.episodes)).byteLength,
    gzipBytes: bytes.byteLength,
  };
  if (size.gzipBytes > limit) {
    throw new Error(
      `The recorded run would weigh ${size.gzipBytes} bytes gzipped (${size.jsonBytes} as JSON, ` +
        `${size.episodeBytes} of it episodes), more than the ${limit} allowed: show fewer rounds.`,
    );
  }
  return { bytes, size };
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** The file's text: gunzipped by the platform's own (native) decompressor. */
async function textOf(bytes: Uint8Array, where: string): Promise<string> {
  // A server may have undone the gzip already (Content-Encoding): then the bytes are the JSON.
  if (!GZIP_MAGIC.every((byte, i) => bytes[i] === byte)) return strFromU8(bytes);
  const inflated = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  try {
    return await new Response(inflated).text();
  } catch (error) {
    throw new Error(`${where}: not a valid gzip file (${(error as Error).message})`);
  }
}

/** Checks what the schema cannot: the file agrees with itself. */
function checkRecordedRun(recorded: RecordedRun, where: string): void {
  const { run, rounds, episodes } = recorded;
  if (run.kind !== 'seal') throw new Error(`${where}: run.kind is ${run.kind}, not seal`);
  if (recorded.source.finished !== (run.status === 'done')) {
    throw new Error(`${where}: source.finished disagrees with the run's status ${run.status}`);
  }
  const byRound = new Map(rounds.map((r) => [r.round, r]));
  if (byRound.size !== rounds.length) throw new Error(`${where}: rounds lists a round twice`);
  for (const round of rounds) {
    if (round.shown && !round.complete) {
      throw new Error(`${where}: round ${round.round} is shown but not complete`);
    }
    if (round.shown === (round.summary !== undefined)) {
      throw new Error(
        `${where}: round ${round.round} must have a summary exactly when it is not shown`,
      );
    }
  }
  for (const [i, episode] of episodes.entries()) {
    const at = `${where}: episodes.${i}`;
    if (episode.runId !== run.id) throw new Error(`${at}: runId is not the run's id ${run.id}`);
    if (!byRound.get(episode.round)?.shown) {
      throw new Error(`${at}: round ${episode.round} is not one the file shows`);
    }
    if (i > 0 && comparePositions(episodes[i - 1]!, episode) >= 0) {
      throw new Error(`${at}: episodes must be in run order without repeats`);
    }
  }
  for (const round of rounds.filter((r) => r.shown)) {
    const stored = countByKind(episodes.filter((e) => e.round === round.round));
    if (JSON.stringify(stored) !== JSON.stringify(round.episodes)) {
      throw new Error(`${where}: round ${round.round} lists other episodes than the file holds`);
    }
  }
}

/**
 * Reads a recorded-run file (gzipped or plain JSON); throws, naming `where`, for anything else, a
 * format or version this app does not read, or a file that disagrees with itself.
 */
export async function decodeRecordedRun(
  bytes: Uint8Array,
  where = 'recorded run',
): Promise<RecordedRun> {
  const text = await textOf(bytes, where);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new Error(`${where}: not a recorded-run file (not JSON: ${error.message})`);
  }
  const { format, schemaVersion } = (value ?? {}) as { format?: unknown; schemaVersion?: unknown };
  if (format !== RECORDED_RUN_FORMAT) {
    throw new Error(
      `${where}: not a recorded-run file (format ${JSON.stringify(format)}, ` +
        `expected "${RECORDED_RUN_FORMAT}")`,
    );
  }
  if (schemaVersion !== RECORDED_RUN_SCHEMA_VERSION) {
    throw new Error(
      `${where}: schema version ${JSON.stringify(schemaVersion)}; this app reads version ` +
        `${RECORDED_RUN_SCHEMA_VERSION} (record the run again with npm run record:run)`,
    );
  }
  const recorded = validate(RecordedRunSchema, value, where);
  checkRecordedRun(recorded, where);
  return recorded;
}

/** The recorded run's label: what it says about itself, without its run and episodes. */
export function labelOf(recorded: RecordedRun): RecordedRunLabel {
  const { schemaVersion, title, recordedAt, commit, source, rounds } = recorded;
  return { schemaVersion, title, recordedAt, commit, source, rounds };
}
