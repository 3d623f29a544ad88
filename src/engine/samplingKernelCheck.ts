/**
 * Our webgpu sampling program (webgpuSampling.ts) checked against the CPU's choice
 * (`chooseFromRow` on probabilities from tfjs's softmax) on rows made to be awkward: smooth,
 * peaked, tied at a few values, flat, far below zero; vocabularies that do and do not fill the
 * workgroup evenly; greedy, temperature, top-k, top-p and both. A draw counts as clear when the
 * CPU's choice stays the same with the draw and top-p moved by 1e-5: only there must the two
 * agree, since elsewhere float rounding of the running sums decides.
 */
import * as tf from '@tensorflow/tfjs';
import { withGpuErrors } from './kernelAgreement';
import { chooseFromRow } from './model/sampling';
import { createRandom } from './random';
import { ownSamplingRuns, sampleOnDevice, type DeviceSamplingOptions } from './webgpuSampling';

export interface SamplingAgreement {
  label: string;
  draws: number;
  /** Draws whose CPU choice does not move when the draw and top-p move by 1e-5. */
  clear: number;
  /** Clear draws where the program chose another token than the CPU. */
  mismatches: number;
  /** The first of them, described (null: none). */
  firstMismatch: string | null;
  ranOwnProgram: boolean;
  gpuError: string | null;
  /** Whether a second run gave the same tokens. */
  repeatable: boolean;
}

const SETTINGS: DeviceSamplingOptions[] = [
  { temperature: 0, topK: 0, topP: 1 },
  { temperature: 1, topK: 0, topP: 1 },
  { temperature: 0.7, topK: 20, topP: 1 },
  { temperature: 1, topK: 0, topP: 0.9 },
  { temperature: 1.3, topK: 50, topP: 0.83 },
  { temperature: 1, topK: 1, topP: 1 },
];
const VOCABULARIES = [512, 301];
const DRAWS_PER_ROW = 24;
const NUDGE = 1e-5;

/** Five kinds of row, `vocab` logits each. */
function awkwardRows(vocab: number): Float32Array[] {
  const random = createRandom(vocab);
  const noise = () => random() * 2 - 1;
  const row = (value: (i: number) => number) =>
    Float32Array.from({ length: vocab }, (_, i) => value(i));
  return [
    row(() => 3 * noise()),
    row((i) => (i === 7 ? 8 : noise())),
    row(() => Math.floor(random() * 4) * 0.5),
    row(() => 0.25),
    row(() => -50 + noise()),
  ];
}

function label({ temperature, topK, topP }: DeviceSamplingOptions, vocab: number): string {
  const how =
    temperature === 0 ? 'greedy' : `temperature ${temperature}, top-k ${topK}, top-p ${topP}`;
  return `${how}, vocabulary ${vocab}`;
}

function firstMaximum(row: Float32Array): number {
  return row.reduce((best, value, i) => (value > row[best]! ? i : best), 0);
}

/** The CPU's token for each row and whether it is clear (see the module's note). */
function cpuChoices(
  rows: Float32Array[],
  probs: Float32Array[],
  draws: Float32Array,
  { temperature, topK, topP }: DeviceSamplingOptions,
): { token: number; clear: boolean }[] {
  return rows.map((row, r) => {
    if (temperature === 0) return { token: firstMaximum(row), clear: true };
    const u = draws[r]!;
    const token = chooseFromRow(probs[r]!, topK, topP, u);
    const nudgedDraws = [Math.max(0, u - NUDGE), Math.min(1 - NUDGE, u + NUDGE)];
    const nudgedTopP = topP < 1 ? [topP - NUDGE, Math.min(1, topP + NUDGE)] : [topP];
    const clear = nudgedDraws.every((v) =>
      nudgedTopP.every((p) => chooseFromRow(probs[r]!, topK, p, v) === token),
    );
    return { token, clear };
  });
}

async function compareSetting(
  options: DeviceSamplingOptions,
  vocab: number,
): Promise<SamplingAgreement> {
  const rows = awkwardRows(vocab).flatMap((row) => Array<Float32Array>(DRAWS_PER_ROW).fill(row));
  const random = createRandom(vocab * 100 + options.topK);
  const draws = Float32Array.from(rows, () => Math.fround(random()));
  const logits = tf.tensor2d(
    rows.flatMap((row) => Array.from(row)),
    [rows.length, vocab],
  );
  const drawTensor = tf.tensor1d(draws);
  const tokensOnDevice = async () => {
    const tokens = sampleOnDevice(logits, drawTensor, options);
    try {
      return Array.from(await tokens.data());
    } finally {
      tokens.dispose();
    }
  };
  try {
    const runsBefore = ownSamplingRuns();
    const { value: tokens, gpuError } = await withGpuErrors(tokensOnDevice);
    const ranOwnProgram = ownSamplingRuns() > runsBefore;
    const again = await tokensOnDevice();
    const probs = tf.tidy(() =>
      options.temperature > 0 ? tf.softmax(logits.div(options.temperature)) : logits,
    );
    const probValues = (await probs.data()) as Float32Array;
    probs.dispose();
    const probRows = rows.map((_, r) => probValues.subarray(r * vocab, (r + 1) * vocab));
    const expected = cpuChoices(rows, probRows, draws, options);
    const first = expected.findIndex((e, r) => e.clear && e.token !== tokens[r]);
    return {
      label: label(options, vocab),
      draws: rows.length,
      clear: expected.filter((e) => e.clear).length,
      mismatches: expected.filter((e, r) => e.clear && e.token !== tokens[r]).length,
      firstMismatch:
        first < 0
          ? null
          : `row kind ${Math.floor(first / DRAWS_PER_ROW)}, draw ${draws[first]}: CPU chose ${expected[first]!.token}, the device ${tokens[first]}`,
      ranOwnProgram,
      gpuError,
      repeatable: again.every((token, r) => token === tokens[r]),
    };
  } finally {
    tf.dispose([logits, drawTensor]);
  }
}

/** Every setting on every vocabulary; needs the webgpu backend with our kernels on. */
export async function compareWebGpuSampling(): Promise<SamplingAgreement[]> {
  const agreements: SamplingAgreement[] = [];
  for (const vocab of VOCABULARIES) {
    for (const options of SETTINGS) agreements.push(await compareSetting(options, vocab));
  }
  return agreements;
}
