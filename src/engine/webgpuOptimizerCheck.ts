/**
 * Our webgpu AdamW and squared-norm kernels checked against the stock op sequence on the running
 * backend, in the same process: the same parameters and gradients through several steps of each,
 * vectors and matrices, with and without weight decay and clipping. The browser tests call it
 * through the engine (`compareWebGpuOptimizer`) on SwiftShader.
 */
import * as tf from '@tensorflow/tfjs';
import { relativeError } from './kernelAgreement';
import { countKernelCalls } from './kernelCalls';
import { streamSeed } from './random';
import { AdamW, globalNormScale } from './train/optimizer';
import { ownWebGpuKernelsEnabled, setOwnWebGpuKernels } from './webgpuKernels';
import { ownAdamWDispatches, ownSquaredNormDispatches } from './webgpuOptimizerKernels';

interface OptimizerCase {
  label: string;
  shapes: number[][];
  weightDecay: number;
  /** Clipping bound, small enough that it scales these gradients; null for no clipping. */
  maxNorm: number | null;
}

export interface OptimizerComparison {
  label: string;
  steps: number;
  parameters: number;
  /** max |ours − stock| / max |stock| over every parameter, first and second moment. */
  paramError: number;
  firstMomentError: number;
  secondMomentError: number;
  /** The same over the steps' gradient norms; 0 without clipping. */
  normError: number;
  /** The smallest clipping factor of any step (stock); 1 without clipping. */
  smallestScale: number;
  /** Dispatches of our programs during our run. */
  adamWDispatches: number;
  squaredNormDispatches: number;
  /** GPU dispatches of the last step's clipping and update, ours and stock. */
  stepDispatches: { own: number; stock: number };
  /** Tensors alive after the last step minus after the first, in our run. */
  tensorGrowth: number;
}

const OPTIMIZER_STEPS = 4;
const LEARNING_RATES = [1e-2, 2e-2, 5e-3, 1e-2];

/** Vectors and matrices; the clipped case has more parameters than one squared-norm dispatch binds. */
const OPTIMIZER_CASES: OptimizerCase[] = [
  { label: 'vector', shapes: [[128]], weightDecay: 0.1, maxNorm: null },
  { label: 'matrix, decayed', shapes: [[64, 48]], weightDecay: 0.1, maxNorm: null },
  { label: 'matrix', shapes: [[64, 48]], weightDecay: 0, maxNorm: null },
  {
    label: 'mixed, clipped',
    shapes: [[37], [64, 48], [3, 5, 7], [129], [300, 17], [8], [16, 16], [1000], [2, 2], [33, 33]],
    weightDecay: 0.1,
    maxNorm: 0.5,
  },
];

interface RunResult {
  params: Float32Array[];
  firstMoments: Float32Array[];
  secondMoments: Float32Array[];
  norms: number[];
  scales: number[];
  lastStepDispatches: number;
  tensorGrowth: number;
}

async function run(own: boolean, testCase: OptimizerCase, seed: number): Promise<RunResult> {
  setOwnWebGpuKernels(own);
  const { shapes, maxNorm } = testCase;
  const params = shapes.map((shape, j) =>
    tf.tidy(() => tf.variable(tf.randomUniform(shape, -1, 1, 'float32', streamSeed(seed, j)))),
  );
  const optimizer = new AdamW(params, { weightDecay: testCase.weightDecay });
  const norms: number[] = [];
  const scales: number[] = [];
  let tensorsAfterFirst = 0;
  let lastStepDispatches = 0;
  try {
    for (let step = 0; step < OPTIMIZER_STEPS; step++) {
      const gradients = shapes.map((shape, j) =>
        tf.randomUniform(shape, -1, 1, 'float32', streamSeed(seed, 1000 * (step + 1) + j)),
      );
      const clipping: { scale?: tf.Scalar; norm?: tf.Scalar } = {};
      const calls = await countKernelCalls(async () => {
        if (maxNorm !== null) Object.assign(clipping, globalNormScale(gradients, maxNorm));
        optimizer.step(gradients, LEARNING_RATES[step]!, clipping.scale);
      });
      lastStepDispatches = calls.gpuDispatches ?? 0;
      if (clipping.scale && clipping.norm) {
        norms.push((await clipping.norm.data())[0]!);
        scales.push((await clipping.scale.data())[0]!);
        tf.dispose([clipping.scale, clipping.norm]);
      }
      tf.dispose(gradients);
      if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
    }
    const tensorGrowth = tf.memory().numTensors - tensorsAfterFirst;
    const state = await optimizer.exportState();
    return {
      params: await Promise.all(params.map(async (p) => (await p.data()) as Float32Array)),
      firstMoments: state.firstMoments,
      secondMoments: state.secondMoments,
      norms,
      scales,
      lastStepDispatches,
      tensorGrowth,
    };
  } finally {
    optimizer.dispose();
    tf.dispose(params);
  }
}

async function compareCase(testCase: OptimizerCase, seed: number): Promise<OptimizerComparison> {
  const stock = await run(false, testCase, seed);
  const adamWBefore = ownAdamWDispatches();
  const squaredNormsBefore = ownSquaredNormDispatches();
  const ours = await run(true, testCase, seed);
  return {
    label: testCase.label,
    steps: OPTIMIZER_STEPS,
    parameters: testCase.shapes.length,
    paramError: relativeError(ours.params, stock.params),
    firstMomentError: relativeError(ours.firstMoments, stock.firstMoments),
    secondMomentError: relativeError(ours.secondMoments, stock.secondMoments),
    normError: relativeError([new Float32Array(ours.norms)], [new Float32Array(stock.norms)]),
    smallestScale: Math.min(1, ...stock.scales),
    adamWDispatches: ownAdamWDispatches() - adamWBefore,
    squaredNormDispatches: ownSquaredNormDispatches() - squaredNormsBefore,
    stepDispatches: { own: ours.lastStepDispatches, stock: stock.lastStepDispatches },
    tensorGrowth: ours.tensorGrowth,
  };
}

/** Runs every case; needs the webgpu backend. Leaves our kernels switched as it found them. */
export async function compareWebGpuOptimizer(): Promise<OptimizerComparison[]> {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`our webgpu kernels need the webgpu backend, not ${tf.getBackend()}`);
  }
  const wasEnabled = ownWebGpuKernelsEnabled();
  try {
    const comparisons: OptimizerComparison[] = [];
    for (const [index, testCase] of OPTIMIZER_CASES.entries()) {
      comparisons.push(await compareCase(testCase, index + 1));
    }
    return comparisons;
  } finally {
    setOwnWebGpuKernels(wasEnabled);
  }
}
