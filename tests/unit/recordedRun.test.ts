import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync, strToU8 } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { JobRegistry } from '../../src/engine/jobs';
import { createModelSession } from '../../src/engine/model/session';
import {
  decodeRecordedRun,
  encodeRecordedRun,
  labelOf,
  RECORDED_RUN_FORMAT,
  recordRun,
  type RecordedRun,
} from '../../src/engine/seal/recordedRun';
import { createSealService } from '../../src/engine/seal/service';
import { planImport } from '../../src/engine/store/exchange';
import type {
  EpisodeRecord,
  NewEpisode,
  RunPosition,
  RunRecord,
  SealStore,
} from '../../src/engine/store';
import { freshStore } from './storeHelpers';

const RUN_ID = 'run-recorded-test';
const CREATED = Date.UTC(2026, 10, 1);

/** A SEAL run of 2 rounds on world 1, stopped in round 1 (round 0 complete). */
function handBuiltRun(progress: RunPosition, status: RunRecord['status'] = 'paused'): RunRecord {
  return {
    schemaVersion: 2,
    id: RUN_ID,
    kind: 'seal',
    name: 'hand-built',
    config: {
      seal: { seed: 3, selfEdit: { samples: 2 }, outer: { rounds: 2, contextsPerRound: 1 } },
      model: 'models/seal-world-1m',
      contexts: { world: 1 },
    },
    seeds: { run: 3 },
    datasetIds: [],
    status,
    statusMessage: null,
    progress,
    episodeCount: 7,
    storedBytes: 1000,
    createdAt: CREATED,
    updatedAt: CREATED + 1000,
  };
}

function episode(
  position: RunPosition,
  fields: Partial<EpisodeRecord> & Pick<EpisodeRecord, 'kind' | 'reward' | 'grades'>,
): EpisodeRecord {
  return {
    schemaVersion: 2,
    runId: RUN_ID,
    ...position,
    contextId: 'person-0-founder',
    prompt: 'A passage. Implications:',
    selfEdit: 'first line\nsecond line',
    parsedExamples: ['first line', 'second line'],
    lossCurve: [2, 1],
    answers: fields.grades.map(() => 'an answer'),
    seeds: { sample: position.sampleIndex },
    timings: { trainMs: 5 },
    adapterId: null,
    createdAt: CREATED + 10,
    ...fields,
  };
}

const at = (round: number, contextIndex: number, sampleIndex: number) => ({
  round,
  contextIndex,
  sampleIndex,
});

/** Round 0 in full (a held-out draw, 2 self-edits, a reward check), round 1 partly. */
function handBuiltEpisodes(): EpisodeRecord[] {
  const heldOut = { kind: 'held-out' as const, condition: 'self-edit' as const, draw: 0 };
  return [
    episode(at(0, 0, 0), {
      ...heldOut,
      contextId: 'person-60-founder',
      reward: 0.5,
      grades: [1, 0],
    }),
    episode(at(0, 1, 0), { kind: 'self-edit', reward: 0.5, grades: [1, 0] }),
    episode(at(0, 1, 1), { kind: 'self-edit', reward: 1, grades: [1, 1] }),
    episode(at(0, 2, 0), { kind: 'reward-check', reward: 0.5, grades: [1, 0] }),
    episode(at(1, 0, 0), {
      ...heldOut,
      contextId: 'person-60-founder',
      reward: 0.75,
      grades: [1, 0, 1, 1],
      metrics: { lines: 4, consistent_lines: 3, contradicting_lines: 1, truncated: 0 },
    }),
    episode(at(1, 1, 0), {
      kind: 'self-edit',
      reward: 0.2,
      grades: [0],
      metrics: { lines: 6, consistent_lines: 3, contradicting_lines: 0, truncated: 1 },
    }),
    episode(at(1, 1, 1), {
      kind: 'self-edit',
      reward: 0.6,
      grades: [1],
      metrics: { lines: 2, consistent_lines: 0, contradicting_lines: 2, truncated: 0 },
    }),
  ];
}

function recorded(overrides: Partial<Parameters<typeof recordRun>[0]> = {}): RecordedRun {
  return recordRun({
    run: handBuiltRun(at(1, 1, 2)),
    episodes: handBuiltEpisodes(),
    title: 'Hand-built run',
    commit: 'abc1234',
    recordedAt: CREATED + 5000,
    sourceFile: 'run.zip',
    ...overrides,
  });
}

describe('recorded runs', () => {
  it('keep every episode of the complete rounds and come back from their file unchanged', async () => {
    const file = recorded();
    expect(file.episodes).toEqual(handBuiltEpisodes().filter((e) => e.round === 0));
    expect(file.source).toEqual({ file: 'run.zip', finished: false });
    expect(file.rounds.map(({ round, complete, shown }) => ({ round, complete, shown }))).toEqual([
      { round: 0, complete: true, shown: true },
      { round: 1, complete: false, shown: false },
    ]);
    expect(file.rounds[0]!.episodes).toEqual({ 'held-out': 1, 'self-edit': 2, 'reward-check': 1 });
    expect(file.rounds[0]!.summary).toBeUndefined();
    expect(await decodeRecordedRun(encodeRecordedRun(file).bytes)).toEqual(file);
  });

  it('summarise a round they leave out with what its episodes measured', () => {
    const round1 = recorded().rounds[1]!;
    expect(round1.episodes).toEqual({ 'held-out': 1, 'self-edit': 2, 'reward-check': 0 });
    const summary = round1.summary!;
    expect(summary.round).toBe(1);
    expect(summary.selfEdits).toBe(2);
    expect(summary.meanReward).toBeCloseTo(0.4, 12);
    // One context: the M-step keeps its best self-edit.
    expect(summary.kept).toBe(1);
    expect(summary.keptReward).toBeCloseTo(0.6, 12);
    // 3 of 4 held-out answers right, on one context: every resample gives the same share.
    expect(summary.heldOutAccuracy).toBeCloseTo(0.75, 12);
    expect(summary.heldOutLow).toBeCloseTo(0.75, 12);
    // Lines of the generator's samples, training and held-out: 4 + 6 + 2 = 12 over 3 self-edits.
    expect(summary.linesPerSelfEdit).toBeCloseTo(4, 12);
    expect(summary.consistentShare).toBeCloseTo(6 / 12, 12);
    expect(summary.contradictingShare).toBeCloseTo(3 / 12, 12);
    expect(summary.truncatedShare).toBeCloseTo(1 / 3, 12);
    expect(summary.rewardReliability).toBeNull();
  });

  it('show the rounds asked for, and only complete ones', () => {
    const finished = handBuiltRun(at(3, 0, 0), 'done');
    const both = recorded({ run: finished, rounds: [0, 1] });
    expect(both.source.finished).toBe(true);
    expect(both.episodes).toHaveLength(7);
    expect(both.rounds.map(({ round, complete, shown }) => ({ round, complete, shown }))).toEqual([
      { round: 0, complete: true, shown: true },
      { round: 1, complete: true, shown: true },
      // Complete with nothing stored: a finished run's last round evaluates no held-out contexts.
      { round: 2, complete: true, shown: false },
    ]);
    expect(both.rounds[2]!.summary?.selfEdits).toBe(0);
    expect(recorded({ run: finished }).rounds.every((r) => r.shown)).toBe(true);
    const onlySecond = recorded({ run: finished, rounds: [1] });
    expect(onlySecond.episodes.every((e) => e.round === 1)).toBe(true);
    expect(onlySecond.rounds[0]!.summary?.selfEdits).toBe(2);

    expect(() => recorded({ rounds: [1] })).toThrow(/Round 1 .* not complete; complete rounds: 0/);
    expect(() => recorded({ run: handBuiltRun(at(0, 2, 0)) })).toThrow(/no complete round/);
    const onDataset = { ...handBuiltRun(at(1, 0, 0)), datasetIds: ['squad'] };
    expect(() => recorded({ run: onDataset })).toThrow(/stored datasets \(squad\)/);
  });

  it('account for their size, and refuse to outgrow their limit', async () => {
    const file = recorded();
    const { bytes, size } = encodeRecordedRun(file);
    expect(size.gzipBytes).toBe(bytes.byteLength);
    expect(size.jsonBytes).toBe(strToU8(JSON.stringify(file)).byteLength);
    expect(size.episodeBytes).toBe(strToU8(JSON.stringify(file.episodes)).byteLength);
    expect(size.episodeBytes).toBeLessThan(size.jsonBytes);
    expect(encodeRecordedRun(file, size.gzipBytes).size).toEqual(size);
    expect(() => encodeRecordedRun(file, size.gzipBytes - 1)).toThrow(
      new RegExp(`weigh ${size.gzipBytes} bytes gzipped .* more than the ${size.gzipBytes - 1}`),
    );
    // A server that undid the gzip hands over the JSON itself.
    expect(await decodeRecordedRun(strToU8(JSON.stringify(file)))).toEqual(file);
  });

  it('refuse another format, another version, and a file that disagrees with itself', async () => {
    const file = recorded();
    const encode = (value: unknown) => gzipSync(strToU8(JSON.stringify(value)));
    await expect(
      decodeRecordedRun(encode({ ...file, format: 'seal-playground-run' })),
    ).rejects.toThrow(
      `recorded run: not a recorded-run file (format "seal-playground-run", expected "${RECORDED_RUN_FORMAT}")`,
    );
    await expect(decodeRecordedRun(encode({ ...file, schemaVersion: 2 }))).rejects.toThrow(
      /schema version 2; this app reads version 1/,
    );
    await expect(
      decodeRecordedRun(strToU8('<html>not found</html>'), 'table2.json.gz'),
    ).rejects.toThrow(/^table2\.json\.gz: not a recorded-run file \(not JSON/);
    await expect(decodeRecordedRun(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]))).rejects.toThrow(
      /not a valid gzip file/,
    );
    await expect(decodeRecordedRun(encode({ ...file, commit: 'main' }))).rejects.toThrow(
      /commit: must be a git commit/,
    );
    const stray = { ...file, episodes: [...file.episodes, handBuiltEpisodes()[4]] };
    await expect(decodeRecordedRun(encode(stray))).rejects.toThrow(
      /episodes\.4: round 1 is not one the file shows/,
    );
    const miscounted = {
      ...file,
      rounds: [{ ...file.rounds[0]!, episodes: { ...file.rounds[0]!.episodes, 'self-edit': 5 } }],
    };
    await expect(decodeRecordedRun(encode(miscounted))).rejects.toThrow(
      /other episodes than the file/,
    );
  });
});

/**
 * Stores the hand-built episodes (those `keep` picks) as a run, moved on to `progress`; resolves
 * to its export.
 */
async function storedExport(
  store: SealStore,
  keep: (episode: EpisodeRecord) => boolean,
  progress: RunPosition,
  status: 'paused' | 'done',
): Promise<Uint8Array> {
  const run = await store.createRun({
    id: RUN_ID,
    kind: 'seal',
    config: handBuiltRun(progress).config,
    seeds: { run: 3 },
    datasetIds: [],
  });
  const episodes = handBuiltEpisodes().filter(keep);
  for (const [i, episode] of episodes.entries()) {
    // What the store adds itself is left out.
    const stored = Object.fromEntries(
      Object.entries(episode).filter(([key]) => key !== 'schemaVersion' && key !== 'createdAt'),
    ) as NewEpisode;
    const next = episodes[i + 1];
    const nextPosition =
      next && next.round === episode.round
        ? at(next.round, next.contextIndex, next.sampleIndex)
        : at(episode.round, 3, 0);
    await store.appendEpisode(stored, nextPosition);
    if (!next || next.round !== episode.round) {
      await store.advanceRun(run.id, next ? at(next.round, 0, 0) : progress);
    }
  }
  await store.stopRun(run.id, status);
  return store.exportRun(run.id);
}

describe('a recorded run in the engine', () => {
  it('has the results and self-edits the same run has from the store', async () => {
    const store = freshStore();
    const archive = await storedExport(store, () => true, at(3, 0, 0), 'done');
    const { run, episodes } = planImport(archive);
    const file = recordRun({
      run,
      episodes,
      title: 'Hand-built run',
      commit: 'abc1234',
      recordedAt: CREATED + 5000,
      sourceFile: 'run.zip',
    });
    const seal = createSealService(store, new JobRegistry(), {
      activeBackend: () => null,
      session: createModelSession(),
    });
    const view = await seal.recordedRun(encodeRecordedRun(file).bytes);
    expect(view.results).toEqual(await seal.results(run.id));
    expect(view.selfEdits).toEqual(await seal.selfEdits(run.id));
    expect(view.selfEdits).toHaveLength(4);
    expect(view.label).toEqual(labelOf(file));
    expect(view.label.source.finished).toBe(true);
    await expect(seal.recordedRun(strToU8('{"format":"x"}'))).rejects.toThrow(
      /recorded run: not a recorded-run file/,
    );
  });
});

describe('npm run record:run', () => {
  const folder = mkdtempSync(join(os.tmpdir(), 'record-run-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const recordRunCli = (...args: string[]) =>
    execFileSync('npx', ['tsx', 'scripts/record-run.ts', ...args], { stdio: 'pipe' }).toString();

  it('writes a run export as a recorded run, and refuses bad input writing nothing', async () => {
    const firstRound = (e: EpisodeRecord) => e.round === 0;
    writeFileSync(
      join(folder, 'run.zip'),
      await storedExport(freshStore(), firstRound, at(1, 0, 0), 'paused'),
    );
    const out = join(folder, 'recorded', 'hand-built.json.gz');

    const said = recordRunCli('--run', folder, '--out', out, '--commit', 'abcdef1');
    expect(said).toMatch(/rounds 0 shown with 4 episodes/);
    const file = await decodeRecordedRun(readFileSync(out));
    expect(file.commit).toBe('abcdef1');
    expect(file.title).toBe(file.run.name);
    expect(file.episodes.map((e) => e.selfEdit)).toEqual(
      handBuiltEpisodes()
        .filter(firstRound)
        .map((e) => e.selfEdit),
    );

    const notARun = join(folder, 'not-a-run.zip');
    writeFileSync(notARun, 'not a zip');
    const refused = join(folder, 'recorded', 'refused.json.gz');
    expect(() => recordRunCli('--run', notARun, '--out', refused)).toThrow(
      `record:run: ${notARun}: Not a readable zip file: it has no end-of-directory record.`,
    );
    expect(readdirSync(join(folder, 'recorded'))).toEqual(['hand-built.json.gz']);
  });
});
