/**
 * Float16 weight storage (model/float16.ts) checked on the running backend: our packing program
 * against the JavaScript packing, widening exactly, products reading packed weights (tiled,
 * transposed or not, matrix-vector, and the widening fallback) against tfjs's product of the
 * widened weight, then a small random model stored as halves against the same model with float32
 * weights rounded to float16: logits, greedy decoding, LoRA gradients, tensor growth and the
 * bytes its weights take. The browser tests call it through the engine on SwiftShader.
 */
import * as tf from '@tensorflow/tfjs';
import { relativeError, readAndDispose, withGpuErrors } from './kernelAgreement';
import {
  HALVES_MATMUL_KERNEL,
  halvesOf,
  packFloat16,
  packHalves,
  unpackFloat16,
  unpackHalves,
} from './model/float16';
import { generate } from './model/generate';
import { forward } from './model/llama';
import { GREEDY } from './model/sampling';
import { disposeModelWeights, storedCopy, weightBytes, type ModelWeights } from './model/weights';
import { streamSeed } from './random';
import { variableGrads } from './train/gradients';
import { LoraAdapter } from './train/lora';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from './train/randomModel';
import { makeBatch, weightedTokenLoss } from './train/sft';
import { ownMatMulRuns } from './webgpuKernels';

export interface HalvesProductAgreement {
  label: string;
  /** max |ours − tfjs's product of the widened weight| / max |that|. */
  relativeError: number;
  /** Whether our program read the packed weight (false: it was widened for tfjs's product). */
  ranOwnProgram: boolean;
  gpuError: string | null;
}

export interface Float16Comparison {
  /** Values packed on the device and in JavaScript. */
  packedValues: number;
  /** Halves that differ at all, and by more than one unit in the last place. */
  packDifferences: number;
  packDifferencesBeyondOneUnit: number;
  /** The first few of those: [value, device's half, JavaScript's half]. */
  packDifferenceExamples: [number, number, number][];
  /** Whether widening on the device gave the JavaScript values bit for bit. */
  unpackExact: boolean;
  products: HalvesProductAgreement[];
  /** The model stored as halves against float32 weights rounded to float16. */
  logitsRelativeError: number;
  loraGradientRelativeError: number;
  /** Greedy continuations of two prompts, each way. */
  packedTokens: number[][];
  roundedTokens: number[][];
  /** Tensors alive after another forward pass and generation minus before. */
  tensorGrowth: number;
  /** Bytes the model's weights take each way. */
  packedWeightBytes: number;
  float32WeightBytes: number;
}

const PRODUCTS: { label: string; rows: number; out: number; inner: number; transposed: boolean }[] =
  [
    { label: 'x·Wᵀ, tiled (a forward pass)', rows: 70, out: 96, inner: 64, transposed: true },
    { label: 'dy·W, tiled (its gradient)', rows: 70, out: 64, inner: 96, transposed: false },
    { label: 'x·Wᵀ, 32 outputs, narrow tiles', rows: 120, out: 32, inner: 64, transposed: true },
    { label: 'dy·W, 32 deep', rows: 120, out: 64, inner: 32, transposed: false },
    {
      label: 'x·Wᵀ, matrix-vector (a decoded token)',
      rows: 2,
      out: 96,
      inner: 64,
      transposed: true,
    },
    { label: 'x·Wᵀ, 8 outputs (widened for tfjs)', rows: 20, out: 8, inner: 64, transposed: true },
  ];

async function compareProduct(
  testCase: (typeof PRODUCTS)[number],
  seed: number,
): Promise<HalvesProductAgreement> {
  const { label, rows, out, inner, transposed } = testCase;
  const x = tf.randomUniform([rows, inner], -1, 1, 'float32', streamSeed(seed, 1));
  const weightShape = transposed ? [out, inner] : [inner, out];
  const weight = tf.tidy(() =>
    packHalves(tf.randomUniform(weightShape, -1, 1, 'float32', streamSeed(seed, 2))),
  );
  try {
    const runsBefore = ownMatMulRuns();
    const { value: ours, gpuError } = await withGpuErrors(() =>
      readAndDispose(
        tf
          .engine()
          .runKernel(HALVES_MATMUL_KERNEL, { a: x, b: weight }, { transposeB: transposed }),
      ),
    );
    const ranOwnProgram = ownMatMulRuns() > runsBefore;
    const stock = await readAndDispose(
      tf.tidy(() => tf.matMul(x, unpackHalves(weight), false, transposed)),
    );
    return { label, relativeError: relativeError(ours, stock), ranOwnProgram, gpuError };
  } finally {
    tf.dispose([x, weight]);
  }
}

/** Random values and the hard cases: ties, subnormals, the largest half and beyond it. */
function valuesToPack(): Float32Array {
  const values = new Float32Array(4096);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 12.9898) * 10 ** ((i % 12) - 6);
  const special = [0, -0, 1, -2, 65504, 1e5, -1e5, 2 ** -24, 2 ** -25, 1 + 2 ** -11, 2 ** -14];
  values.set(special);
  return values;
}

async function comparePacking() {
  const values = valuesToPack();
  const input = tf.tensor1d(values);
  const onDevice = packHalves(input);
  const devicePacked = (await onDevice.data()) as Int32Array;
  const expected = packFloat16(values);
  let packDifferences = 0;
  let packDifferencesBeyondOneUnit = 0;
  const packDifferenceExamples: [number, number, number][] = [];
  const [device, reference] = [halvesOf(devicePacked), halvesOf(expected)];
  for (let i = 0; i < device.length; i++) {
    if (device[i] === reference[i]) continue;
    packDifferences++;
    // Halves of one sign are ordered as their bits; other differences count as beyond one unit.
    const sameSign = (device[i]! & 0x8000) === (reference[i]! & 0x8000);
    if (!sameSign || Math.abs(device[i]! - reference[i]!) > 1) {
      packDifferencesBeyondOneUnit++;
      if (packDifferenceExamples.length < 8) {
        packDifferenceExamples.push([values[i]!, device[i]!, reference[i]!]);
      }
    }
  }
  const packedInput = tf.tensor1d(expected, 'int32');
  const widened = await readAndDispose(unpackHalves(packedInput));
  const widenedInJavaScript = unpackFloat16(expected);
  const unpackExact = widened.every((v, i) => Object.is(v, widenedInJavaScript[i]));
  tf.dispose([input, onDevice, packedInput]);
  return {
    packedValues: values.length,
    packDifferences,
    packDifferencesBeyondOneUnit,
    packDifferenceExamples,
    unpackExact,
  };
}

const PROMPTS = [
  [5, 17, 99, 3, 250, 41, 7, 77],
  [9, 31, 2, 140],
];

async function greedy(weights: ModelWeights): Promise<number[][]> {
  const model = { config: SMALL_LLAMA_CONFIG, weights };
  const result = await generate(model, PROMPTS, {
    maxNewTokens: 4,
    sampling: GREEDY,
    stopTokenIds: [],
  });
  return result.sequences.map((sequence) => sequence.tokens);
}

async function loraGradients(weights: ModelWeights): Promise<Float32Array[]> {
  const config = SMALL_LLAMA_CONFIG;
  const adapter = LoraAdapter.create(
    weights,
    { targets: ['q_proj', 'v_proj', 'down_proj'], rank: 4, alpha: 8, dropout: 0 },
    2,
  );
  const sequences = Array.from({ length: 3 }, (_, row) => {
    const ids = Array.from({ length: 40 }, (_, t) => (row * 97 + t * 13) % config.vocabSize);
    return { ids, isTarget: ids.map((_, t) => t > 0) };
  });
  const batch = makeBatch(sequences, 39 * sequences.length, config.vocabSize);
  try {
    adapter.variables().forEach((variable, i) => {
      // Moved off B = 0 so that A's gradient is not zero too (a seed of 0 would mean none).
      const seed = streamSeed(5, i);
      tf.tidy(() => variable.assign(tf.randomNormal(variable.shape, 0, 0.1, 'float32', seed)));
    });
    const { value, grads } = variableGrads(
      () => weightedTokenLoss({ config, weights }, batch, adapter),
      adapter.variables(),
    );
    const read = await Promise.all(
      adapter.variables().map(async (v) => (await grads[v.name]!.data()) as Float32Array),
    );
    tf.dispose([value, ...Object.values(grads)]);
    return read;
  } finally {
    adapter.dispose();
    tf.dispose(Object.values(batch));
  }
}

/** Runs every comparison; needs the webgpu backend. */
export async function compareFloat16Storage(): Promise<Float16Comparison> {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`the float16 programs need the webgpu backend, not ${tf.getBackend()}`);
  }
  const packing = await comparePacking();
  const products: HalvesProductAgreement[] = [];
  for (const [index, testCase] of PRODUCTS.entries()) {
    products.push(await compareProduct(testCase, index + 1));
  }
  const original = randomModelWeights(SMALL_LLAMA_CONFIG, 3, 0.2);
  const packed = await storedCopy(original, 'float16');
  disposeModelWeights(original);
  // The same values as float32: the halves widened.
  const rounded = await storedCopy(packed, 'float32');
  try {
    const ids = tf.tensor2d([PROMPTS[0]!], undefined, 'int32');
    const logitsOf = (weights: ModelWeights) =>
      readAndDispose(forward(SMALL_LLAMA_CONFIG, weights, ids));
    const logitsRelativeError = relativeError(await logitsOf(packed), await logitsOf(rounded));
    const packedTokens = await greedy(packed);
    const roundedTokens = await greedy(rounded);
    const before = tf.memory().numTensors;
    await logitsOf(packed);
    await greedy(packed);
    const tensorGrowth = tf.memory().numTensors - before;
    ids.dispose();
    const loraGradientRelativeError = relativeError(
      await loraGradients(packed),
      await loraGradients(rounded),
    );
    return {
      ...packing,
      products,
      logitsRelativeError,
      loraGradientRelativeError,
      packedTokens,
      roundedTokens,
      tensorGrowth,
      packedWeightBytes: weightBytes(packed),
      float32WeightBytes: weightBytes(rounded),
    };
  } finally {
    disposeModelWeights(rounded);
    disposeModelWeights(packed);
  }
}
