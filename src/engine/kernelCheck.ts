/**
 * Our webgpu kernels checked against tfjs's own on the running backend, in the same process: a
 * set of matrix products covering transposes, batches, broadcasting and sizes that are not
 * multiples of the tile, and the gradients of a small model's training loss. The browser tests
 * call it through the engine (`compareWebGpuKernels`) on SwiftShader; the gradients' comparison
 * (`compareTrainingGradients`) runs on any backend, and the unit tests run it on wasm and cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { relativeError, withGpuErrors } from './kernelAgreement';
import { streamSeed } from './random';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from './train/randomModel';
import { setBaseTrainable } from './train/lora';
import { makeBatch, weightedTokenLoss } from './train/sft';
import { variableGrads } from './train/gradients';
import { disposeModelWeights, type ModelWeights } from './model/weights';
import { ownGradientRuns } from './trainingOps';
import { ownMatMulRuns, ownWebGpuKernelsEnabled, setOwnWebGpuKernels } from './webgpuKernels';

export interface MatMulCase {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

export interface MatMulComparison extends MatMulCase {
  /** max |ours − stock| / max |stock| over the product. */
  relativeError: number;
  /** Whether the product ran our program (false: it was left to tfjs). */
  ranOwnProgram: boolean;
  /** What the device reported while our program ran (null: nothing). */
  gpuError: string | null;
}

export interface GradientComparison {
  /** The largest relative difference of any parameter's loss gradient. */
  gradientRelativeError: number;
  /** How many backward passes went through each of our gradient kernels. */
  gradientStepOwnGradientRuns: ReturnType<typeof ownGradientRuns>;
  /** The loss of each batch (GRADIENT_BATCHES). */
  lossWithStock: number[];
  lossWithOwn: number[];
}

export interface WebGpuKernelComparison extends GradientComparison {
  products: MatMulComparison[];
  /** How many of the training step's products ran our program. */
  gradientStepOwnRuns: number;
}

const c = (a: number[], b: number[], transposeA = false, transposeB = false): MatMulCase => ({
  a,
  b,
  transposeA,
  transposeB,
});

/**
 * Shapes the tiles (64×64 and, for narrow outputs, 64×32; 32 deep) do and do not divide,
 * vec4-readable and not, and products of a few rows (the matrix-vector program), their outputs
 * filling its workgroups or not.
 */
export const MATMUL_CASES: MatMulCase[] = [
  c([64, 96], [96, 128]),
  c([33, 70], [70, 45]),
  c([1024, 128], [512, 128], false, true), // a linear's forward, x·Wᵀ
  c([70, 37], [45, 37], false, true),
  c([128, 1024], [128, 512], true, false), // a linear's weight gradient, dyᵀ·x
  c([37, 50], [37, 44], true, false),
  c([48, 36], [52, 48], true, true),
  c([41, 19], [23, 41], true, true),
  c([8, 128, 32], [8, 128, 32], false, true), // attention scores, q·kᵀ
  c([8, 128, 128], [8, 128, 32]), // attention's probabilities times values (a narrow output)
  c([2, 3, 40, 36], [2, 3, 36, 52]),
  c([4, 33, 20], [20, 17]), // one B for every batch of A
  c([33, 20], [3, 33, 18], true, false), // one A for every batch of B
  c([2, 3, 17, 29], [1, 1, 29, 21]),
  // Decoding: a few rows by a transposed weight (the matrix-vector program).
  c([1, 128], [512, 128], false, true),
  c([5, 132], [37, 132], false, true),
  c([3, 30], [45, 30], false, true),
  c([1, 1, 64], [70, 64], false, true),
];

async function productWith(own: boolean, run: () => tf.Tensor): Promise<Float32Array> {
  setOwnWebGpuKernels(own);
  const result = run();
  try {
    return (await result.data()) as Float32Array;
  } finally {
    result.dispose();
  }
}

async function compareProduct(testCase: MatMulCase, seed: number): Promise<MatMulComparison> {
  const a = tf.randomUniform(testCase.a, -1, 1, 'float32', streamSeed(seed, 0));
  const b = tf.randomUniform(testCase.b, -1, 1, 'float32', streamSeed(seed, 1));
  try {
    const multiply = () => tf.matMul(a, b, testCase.transposeA, testCase.transposeB);
    // Ours first and inside a validation error scope (see kernelAgreement.ts).
    const runsBefore = ownMatMulRuns();
    const { value: ours, gpuError } = await withGpuErrors(() => productWith(true, multiply));
    const ranOwnProgram = ownMatMulRuns() > runsBefore;
    const stock = await productWith(false, multiply);
    return { ...testCase, relativeError: relativeError(ours, stock), ranOwnProgram, gpuError };
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * Batches of 3 and 13 sequences of 40 tokens: row programs spread 120 rows over workgroups and
 * 520 (2,080 attention rows) over single invocations (see RowLayout in webgpuDecodeKernels.ts).
 */
const GRADIENT_BATCHES = [3, 13];

async function lossAndGradients(
  weights: ModelWeights,
  batchSize: number,
): Promise<{ loss: number; gradients: Float32Array[] }> {
  const config = SMALL_LLAMA_CONFIG;
  const sequences = Array.from({ length: batchSize }, (_, row) => {
    const ids = Array.from({ length: 40 }, (_, t) => (row * 97 + t * 13) % config.vocabSize);
    return { ids, isTarget: ids.map((_, t) => t > 0) };
  });
  const batch = makeBatch(sequences, 39 * sequences.length, config.vocabSize);
  const params = [...weights.values()];
  try {
    const { value, grads } = variableGrads(
      () => weightedTokenLoss({ config, weights }, batch),
      params,
    );
    const gradients = await Promise.all(
      params.map(async (p) => (await grads[p.name]!.data()) as Float32Array),
    );
    const [loss] = await value.data();
    tf.dispose([value, ...Object.values(grads)]);
    return { loss: loss!, gradients };
  } finally {
    tf.dispose(Object.values(batch));
  }
}

/**
 * A small model's loss and its gradients for every parameter, with the stock kernels and with
 * ours (`switchOwn` turns ours off and on), on the running backend. Leaves ours switched on.
 */
export async function compareTrainingGradients(
  switchOwn: (enabled: boolean) => void,
): Promise<GradientComparison> {
  const weights = randomModelWeights(SMALL_LLAMA_CONFIG, 3, 0.2);
  setBaseTrainable(weights, true);
  try {
    const gradientRunsBefore = ownGradientRuns();
    const stock: Awaited<ReturnType<typeof lossAndGradients>>[] = [];
    const ours: typeof stock = [];
    for (const batchSize of GRADIENT_BATCHES) {
      switchOwn(false);
      stock.push(await lossAndGradients(weights, batchSize));
      switchOwn(true);
      ours.push(await lossAndGradients(weights, batchSize));
    }
    const gradientRunsAfter = ownGradientRuns();
    const gradientStepOwnGradientRuns = Object.fromEntries(
      Object.entries(gradientRunsAfter).map(([name, runs]) => [
        name,
        runs - gradientRunsBefore[name as keyof typeof gradientRunsBefore],
      ]),
    ) as typeof gradientRunsAfter;
    const gradientRelativeError = Math.max(
      ...stock.flatMap((step, j) =>
        step.gradients.map((g, i) => relativeError(ours[j]!.gradients[i]!, g)),
      ),
    );
    return {
      gradientRelativeError,
      gradientStepOwnGradientRuns,
      lossWithStock: stock.map((step) => step.loss),
      lossWithOwn: ours.map((step) => step.loss),
    };
  } finally {
    switchOwn(true);
    disposeModelWeights(weights);
  }
}

/** Runs every comparison; needs the webgpu backend. Leaves our kernels switched as it found them. */
export async function compareWebGpuKernels(): Promise<WebGpuKernelComparison> {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`our webgpu kernels need the webgpu backend, not ${tf.getBackend()}`);
  }
  const wasEnabled = ownWebGpuKernelsEnabled();
  try {
    const products: MatMulComparison[] = [];
    for (const [index, testCase] of MATMUL_CASES.entries()) {
      products.push(await compareProduct(testCase, index + 1));
    }
    const runsBefore = ownMatMulRuns();
    const gradients = await compareTrainingGradients(setOwnWebGpuKernels);
    return { products, gradientStepOwnRuns: ownMatMulRuns() - runsBefore, ...gradients };
  } finally {
    setOwnWebGpuKernels(wasEnabled);
  }
}
