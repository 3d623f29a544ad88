/**
 * Our own kernels for tfjs's webgpu backend, registered by `selectBackend` like the wasm and cpu
 * fixes. tfjs 4.22 is its last release, so where its kernels hold training back we replace them.
 *
 * BatchMatMul: tfjs's tiled matmul reads its operands four floats at a time only when B is not
 * transposed, yet every linear's forward pass multiplies by a transposed weight (x·Wᵀ) and
 * attention's scores by transposed keys (q·kᵀ). The program below stages both operands through
 * workgroup memory in one K-major layout whatever their transposes, reading each one as vec4
 * along whichever axis is contiguous in memory (the inner axis of A·Bᵀ, the outer one of Aᵀ·B),
 * and each invocation accumulates an 8×8 block of the product (8×4 for outputs at most 32 wide).
 *
 * A product of a few rows by a transposed weight (x·Wᵀ for a decoded token, one row per sequence)
 * runs a matrix-vector program instead: eight invocations share each output, reading its weight
 * row as vec4 side by side, and add their parts in workgroup memory. tfjs serves these with a
 * split-K program whose float atomics made one 128×128 product of a decoded token take about 27 ms
 * on SwiftShader, nearly all of a decode step. Other products (other dtypes, batch shapes that
 * broadcast other than one-against-many) go to the stock kernel.
 *
 * The replacement is switchable (`setOwnWebGpuKernels`) so a benchmark or a test can run the
 * very same step on the stock kernels and ours, side by side in one process.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { matMulLayout } from './matMulLayout';

/** Four float16 values packed in two int32s, widened. */
const HALVES4 = `
  fn halves4(packed : vec2<i32>) -> vec4<f32> {
    return vec4<f32>(unpack2x16float(bitcast<u32>(packed.x)), unpack2x16float(bitcast<u32>(packed.y)));
  }`;

/** Output rows and columns below which a product goes to tfjs's own small-output programs. */
const MIN_OUTPUT_SIDE = 16;

interface TileShape {
  /** Output rows per workgroup. */
  rows: number;
  /** Output columns per workgroup. */
  columns: number;
  /** Inner (K) slice staged per step. */
  inner: number;
  /** Output rows and columns per invocation (multiples of 4). */
  blockRows: number;
  blockColumns: number;
}

/**
 * 64×64 output tiles of 64 invocations, 8×8 each, 32-deep K slices: each staging step moves 16 KB
 * through workgroup memory (WebGPU's guaranteed limit) and each invocation does 64 multiply-adds
 * for every 4 vec4 it reads from there. Against 32×32 tiles of 4×4 blocks (half the multiply-adds
 * per read, twice the staging steps per product), a training step of the shape benchmark spent
 * 3.2 s instead of 5.0 s in its products on SwiftShader.
 */
const TILE: TileShape = { rows: 64, columns: 64, inner: 32, blockRows: 8, blockColumns: 8 };

/** For outputs at most 32 wide (attention's probabilities times values, head by head). */
const NARROW_TILE: TileShape = { rows: 64, columns: 32, inner: 32, blockRows: 8, blockColumns: 4 };

export interface MatMulPlan {
  batch: number;
  rows: number;
  columns: number;
  inner: number;
  transposeA: boolean;
  transposeB: boolean;
  /** Whether A, B and the output are read / written as vec4 along their contiguous axis. */
  vectorA: boolean;
  vectorB: boolean;
  vectorOut: boolean;
  tile: TileShape;
  /** Whether B is float16 pairs packed in int32 (model/float16.ts), read four halves at a time. */
  halvesB?: boolean;
}

/**
 * Code staging one operand's tile into workgroup memory `tile[k][outer / 4][outer % 4]`.
 * `outer` is the operand's row (A) or column (B) index within the product; `contiguousInner`
 * says whether its inner (K) axis is the one contiguous in memory.
 */
function stageTileSource(options: {
  name: 'A' | 'B';
  tile: string;
  outerTile: number;
  contiguousInner: boolean;
  vector: boolean;
  outerDim: string;
  batchVar: string;
  outerStart: string;
  threads: number;
  inner: number;
  halves?: boolean;
}): string {
  const { name, tile, outerTile, contiguousInner, vector, outerDim, batchVar, outerStart, inner } =
    options;
  const width = vector ? 4 : 1;
  // Elements (or vec4s) of this tile, laid out along the operand's contiguous axis.
  const [slowCount, fastCount] = contiguousInner
    ? [outerTile, inner / width]
    : [inner, outerTile / width];
  const units = slowCount * fastCount;
  const perThread = Math.ceil(units / options.threads);
  const [outerExpr, innerExpr] = contiguousInner
    ? ['slow', `fast * ${width}`]
    : [`fast * ${width}`, 'slow'];
  // Row-major offset of (outer, k) in this batch's matrix: [outer][K] or [K][outer].
  const offset = contiguousInner ? `o * uniforms.dimK + k` : `k * ${outerDim} + o`;
  const matrixSize = `${outerDim} * uniforms.dimK`;
  let read = vector
    ? `${name}[(${batchVar} * ${matrixSize} + ${offset}) / 4]`
    : `${name}[${batchVar} * ${matrixSize} + ${offset}]`;
  if (options.halves) read = `halves4(${read})`;
  const zero = vector ? 'vec4<f32>(0.0)' : '0.0';
  let store: string;
  if (!vector) {
    store = `${tile}[kk][oo / 4][oo % 4] = value;`;
  } else if (contiguousInner) {
    // Four consecutive k of one row: scattered across four rows of the K-major tile.
    store = [0, 1, 2, 3].map((j) => `${tile}[kk + ${j}][oo / 4][oo % 4] = value[${j}];`).join('\n');
  } else {
    store = `${tile}[kk][oo / 4] = value;`;
  }
  return `
    for (var i = 0; i < ${perThread}; i++) {
      let unit = i32(localIndex) + i * ${options.threads};
      if (unit < ${units}) {
        let slow = unit / ${fastCount};
        let fast = unit % ${fastCount};
        let oo = ${outerExpr};
        let kk = ${innerExpr};
        let o = ${outerStart} + oo;
        let k = kStart + kk;
        var value = ${zero};
        if (o < ${outerDim} && k < uniforms.dimK) {
          value = ${read};
        }
        ${store}
      }
    }`;
}

export class OwnMatMulProgram implements WebGPUProgram {
  variableNames = ['A', 'B'];
  uniforms = 'dimM : i32, dimN : i32, dimK : i32,';
  outputShape: number[];
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableComponents: number[];
  outputComponent: number;
  shaderKey: string;

  constructor(private readonly plan: MatMulPlan) {
    const shape = plan.tile;
    this.outputShape = [plan.batch, plan.rows, plan.columns];
    this.workgroupSize = [shape.columns / shape.blockColumns, shape.rows / shape.blockRows, 1];
    this.dispatch = [
      Math.ceil(plan.columns / shape.columns),
      Math.ceil(plan.rows / shape.rows),
      plan.batch,
    ];
    this.variableComponents = [plan.vectorA ? 4 : 1, plan.halvesB ? 2 : plan.vectorB ? 4 : 1];
    this.outputComponent = plan.vectorOut ? 4 : 1;
    const flags = [
      plan.transposeA,
      plan.transposeB,
      plan.vectorA,
      plan.vectorB,
      plan.vectorOut,
      plan.halvesB ?? false,
    ].map(Number);
    const tile = [shape.rows, shape.columns, shape.inner, shape.blockRows, shape.blockColumns];
    this.shaderKey = `sealMatMul_${tile.join('_')}_${flags.join('')}`;
  }

  getUserCode(): string {
    const { plan } = this;
    const shape = plan.tile;
    const threads = (shape.rows / shape.blockRows) * (shape.columns / shape.blockColumns);
    // vec4s of A's rows and B's columns per invocation; acc[r * columnVectors + c].
    const rowVectors = shape.blockRows / 4;
    const columnVectors = shape.blockColumns / 4;
    const loads = [
      ...Array.from(
        { length: rowVectors },
        (_, i) => `let a${i} = tileA[k][localRow * ${rowVectors} + ${i}];`,
      ),
      ...Array.from(
        { length: columnVectors },
        (_, i) => `let b${i} = tileB[k][localColumn * ${columnVectors} + ${i}];`,
      ),
    ];
    const updates = Array.from({ length: shape.blockRows }, (_, r) =>
      Array.from({ length: columnVectors }, (_, c) => {
        const index = r * columnVectors + c;
        const a = `a${Math.floor(r / 4)}.${'xyzw'[r % 4]}`;
        return `acc[${index}] = fma(vec4<f32>(${a}), b${c}, acc[${index}]);`;
      }),
    ).flat();
    const stageA = stageTileSource({
      name: 'A',
      tile: 'tileA',
      outerTile: shape.rows,
      contiguousInner: !plan.transposeA,
      vector: plan.vectorA,
      outerDim: 'uniforms.dimM',
      batchVar: 'batchA',
      outerStart: 'rowStart',
      threads,
      inner: shape.inner,
    });
    const stageB = stageTileSource({
      name: 'B',
      tile: 'tileB',
      outerTile: shape.columns,
      contiguousInner: plan.transposeB,
      vector: plan.vectorB,
      outerDim: 'uniforms.dimN',
      batchVar: 'batchB',
      outerStart: 'columnStart',
      threads,
      inner: shape.inner,
      halves: plan.halvesB,
    });
    const value = `acc[r * ${columnVectors} + c]`;
    const write = plan.vectorOut
      ? `if (column < uniforms.dimN) { result[(outBase + row * uniforms.dimN + column) / 4] = ${value}; }`
      : `for (var j = 0; j < 4; j++) {
           if (column + j < uniforms.dimN) {
             result[outBase + row * uniforms.dimN + column + j] = ${value}[j];
           }
         }`;
    return `
  ${plan.halvesB ? HALVES4 : ''}
  var<workgroup> tileA : array<array<vec4<f32>, ${shape.rows / 4}>, ${shape.inner}>;
  var<workgroup> tileB : array<array<vec4<f32>, ${shape.columns / 4}>, ${shape.inner}>;

  fn main() {
    let batch = i32(workgroupId.z);
    // One batch against many: the single one is reused (its batch dimension is 1).
    let batchA = min(batch, uniforms.aShape.x - 1);
    let batchB = min(batch, uniforms.bShape.x - 1);
    let rowStart = i32(workgroupId.y) * ${shape.rows};
    let columnStart = i32(workgroupId.x) * ${shape.columns};
    let localRow = i32(localId.y);
    let localColumn = i32(localId.x);

    var acc : array<vec4<f32>, ${shape.blockRows * columnVectors}>;
    for (var i = 0; i < ${shape.blockRows * columnVectors}; i++) { acc[i] = vec4<f32>(0.0); }

    for (var kStart = 0; kStart < uniforms.dimK; kStart = kStart + ${shape.inner}) {
      ${stageA}
      ${stageB}
      workgroupBarrier();
      for (var k = 0; k < ${shape.inner}; k++) {
        ${loads.join('\n        ')}
        ${updates.join('\n        ')}
      }
      workgroupBarrier();
    }

    let outBase = batch * uniforms.dimM * uniforms.dimN;
    for (var r = 0; r < ${shape.blockRows}; r++) {
      let row = rowStart + localRow * ${shape.blockRows} + r;
      if (row < uniforms.dimM) {
        for (var c = 0; c < ${columnVectors}; c++) {
          let column = columnStart + localColumn * ${shape.blockColumns} + c * 4;
          ${write}
        }
      }
    }
  }
`;
  }
}

interface MatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: WebGPUBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/** The product's layout when our program handles it, or null to leave it to tfjs. */
export function planMatMul(
  a: Pick<tf.TensorInfo, 'shape' | 'dtype'>,
  b: Pick<tf.TensorInfo, 'shape' | 'dtype'>,
  transposeA: boolean,
  transposeB: boolean,
): (MatMulPlan & { outShape: number[] }) | null {
  const layout = matMulLayout(a, b, transposeA, transposeB);
  if (!layout) return null;
  const { rows, inner, columns, batch, batchShape } = layout;
  if (rows < MIN_OUTPUT_SIDE || columns < MIN_OUTPUT_SIDE || inner === 0) return null;
  return {
    batch,
    rows,
    columns,
    inner,
    transposeA,
    transposeB,
    // vec4 along the axis contiguous in memory: A's inner axis (or its rows when transposed),
    // B's columns (or its inner axis when transposed).
    vectorA: (transposeA ? rows : inner) % 4 === 0,
    vectorB: (transposeB ? inner : columns) % 4 === 0,
    vectorOut: columns % 4 === 0,
    tile: columns <= NARROW_TILE.columns ? NARROW_TILE : TILE,
    outShape: [...batchShape, rows, columns],
  };
}

/** Outputs per workgroup of the matrix-vector program, and invocations sharing each output. */
const MATVEC_OUTPUTS = 8;
const MATVEC_LANES = 8;

export interface MatVecPlan {
  rows: number;
  columns: number;
  inner: number;
  /** Whether A and B are read as vec4 along the inner axis. */
  vector: boolean;
  outShape: number[];
  /** Whether B is packed float16 pairs (then `vector` holds: four halves per read). */
  halvesB?: boolean;
}

/**
 * The layout of a product our matrix-vector program handles: A [rows, K] by Bᵀ with B [N, K],
 * fewer rows than a tile's minimum, no batches; or null.
 */
export function planMatVec(
  a: Pick<tf.TensorInfo, 'shape' | 'dtype'>,
  b: Pick<tf.TensorInfo, 'shape' | 'dtype'>,
  transposeA: boolean,
  transposeB: boolean,
): MatVecPlan | null {
  if (transposeA || !transposeB) return null;
  const layout = matMulLayout(a, b, false, true);
  if (!layout || layout.batch !== 1) return null;
  const { rows, inner, columns, batchShape } = layout;
  if (rows === 0 || rows >= MIN_OUTPUT_SIDE || columns === 0 || inner === 0) return null;
  return {
    rows,
    columns,
    inner,
    vector: inner % 4 === 0,
    outShape: [...batchShape, rows, columns],
  };
}

class OwnMatVecProgram implements WebGPUProgram {
  variableNames = ['A', 'B'];
  uniforms = 'rows : i32, columns : i32, units : i32,';
  outputShape: number[];
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [MATVEC_OUTPUTS * MATVEC_LANES, 1, 1];
  variableComponents: number[];
  shaderKey: string;

  constructor(private readonly plan: MatVecPlan) {
    this.outputShape = [plan.rows, plan.columns];
    this.dispatch = [Math.ceil(plan.columns / MATVEC_OUTPUTS), plan.rows, 1];
    const width = plan.vector ? 4 : 1;
    this.variableComponents = [width, plan.halvesB ? 2 : width];
    this.shaderKey = `sealMatVec_${plan.vector}_${plan.halvesB ?? false}`;
  }

  getUserCode(): string {
    const multiply = this.plan.vector ? 'dot(a, b)' : 'a * b';
    const readB = this.plan.halvesB
      ? 'halves4(B[column * uniforms.units + k])'
      : 'B[column * uniforms.units + k]';
    return `
  ${this.plan.halvesB ? HALVES4 : ''}
  var<workgroup> partial : array<f32, ${MATVEC_OUTPUTS * MATVEC_LANES}>;

  fn main() {
    let lane = i32(localIndex) % ${MATVEC_LANES};
    let column = i32(workgroupId.x) * ${MATVEC_OUTPUTS} + i32(localIndex) / ${MATVEC_LANES};
    let row = i32(workgroupId.y);
    var sum = 0.0;
    if (column < uniforms.columns) {
      // Units are vec4s (or floats) along K; neighbouring lanes read neighbouring units.
      for (var k = lane; k < uniforms.units; k = k + ${MATVEC_LANES}) {
        let a = A[row * uniforms.units + k];
        let b = ${readB};
        sum = sum + ${multiply};
      }
    }
    partial[localIndex] = sum;
    workgroupBarrier();
    for (var width = ${MATVEC_LANES / 2}; width > 0; width = width / 2) {
      if (lane < width) {
        partial[localIndex] = partial[localIndex] + partial[i32(localIndex) + width];
      }
      workgroupBarrier();
    }
    if (lane == 0 && column < uniforms.columns) {
      result[row * uniforms.columns + column] = partial[localIndex];
    }
  }
`;
  }
}

/**
 * Whether BatchMatMul on webgpu runs our program (where it applies) and AdamW and clipping run
 * ours (webgpuOptimizerKernels.ts), or all of them tfjs's own.
 */
let ownKernelsEnabled = true;

/** Switches our webgpu kernels on or off (they stay registered and delegate when off). */
export function setOwnWebGpuKernels(enabled: boolean): void {
  ownKernelsEnabled = enabled;
}

export function ownWebGpuKernelsEnabled(): boolean {
  return ownKernelsEnabled;
}

/** Whether our kernel `kernelName` runs now: webgpu is active, it is registered and ours are on. */
export function ownWebGpuKernelActive(kernelName: string): boolean {
  return (
    ownKernelsEnabled &&
    tf.getBackend() === 'webgpu' &&
    tf.getKernel(kernelName, 'webgpu') !== undefined
  );
}

/** Products our program has computed in this process (tests check it really ran). */
let matMulRuns = 0;

export function ownMatMulRuns(): number {
  return matMulRuns;
}

/** A reshape on the backend, inside a kernel: on webgpu it only relabels the buffer (no copy). */
export function reshapeOnBackend(
  backend: WebGPUBackend,
  x: tf.TensorInfo,
  shape: number[],
): tf.TensorInfo {
  const kernel = tf.getKernel('Reshape', 'webgpu')!.kernelFunc;
  return kernel({ inputs: { x }, backend, attrs: { shape } }) as tf.TensorInfo;
}

/** Runs the matrix-vector program on A and B (B packed halves when the plan says so). */
export function matVec(
  backend: WebGPUBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  plan: MatVecPlan,
): tf.TensorInfo {
  const a2d = reshapeOnBackend(backend, a, [plan.rows, plan.inner]);
  const storedInner = plan.halvesB ? plan.inner / 2 : plan.inner;
  const b2d = reshapeOnBackend(backend, b, [plan.columns, storedInner]);
  matMulRuns++;
  const out = backend.runWebGPUProgram(new OwnMatVecProgram(plan), [a2d, b2d], 'float32', [
    { type: 'int32', data: [plan.rows] },
    { type: 'int32', data: [plan.columns] },
    { type: 'int32', data: [plan.vector ? plan.inner / 4 : plan.inner] },
  ]);
  const shaped = reshapeOnBackend(backend, out, plan.outShape);
  for (const temporary of [a2d, b2d, out]) backend.disposeData(temporary.dataId);
  return shaped;
}

/** Runs the tiled program on A and B as `plan` lays them out (B packed halves when it says so). */
export function tiledMatMul(
  backend: WebGPUBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  plan: MatMulPlan & { outShape: number[] },
): tf.TensorInfo {
  // Reshapes only relabel the buffer on webgpu (no copy).
  const batched = (x: tf.TensorInfo) =>
    reshapeOnBackend(backend, x, [
      tf.util.sizeFromShape(x.shape.slice(0, -2)),
      ...(x.shape.slice(-2) as [number, number]),
    ]);
  const a3d = batched(a);
  const b3d = batched(b);
  matMulRuns++;
  const dimensions = [plan.rows, plan.columns, plan.inner].map((d) => ({
    type: 'int32',
    data: [d],
  }));
  const out = backend.runWebGPUProgram(
    new OwnMatMulProgram(plan),
    [a3d, b3d],
    'float32',
    dimensions,
  );
  const shaped = reshapeOnBackend(backend, out, plan.outShape);
  for (const temporary of [a3d, b3d, out]) backend.disposeData(temporary.dataId);
  return shaped;
}

function ownBatchMatMul(stock: tf.KernelFunc) {
  return (args: MatMulArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    if (ownKernelsEnabled) {
      const { a, b } = inputs;
      const plan = planMatMul(a, b, attrs.transposeA, attrs.transposeB);
      if (plan) return tiledMatMul(backend, a, b, plan);
      const vectorPlan = planMatVec(a, b, attrs.transposeA, attrs.transposeB);
      if (vectorPlan) return matVec(backend, a, b, vectorPlan);
    }
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  };
}

/** Whether BatchMatMul on webgpu is ours (it must wrap the stock kernel exactly once). */
let matMulWrapped = false;

export function registerWebGpuKernels(): void {
  const matMul = tf.getKernel('BatchMatMul', 'webgpu');
  if (!matMul || matMulWrapped) return;
  tf.unregisterKernel('BatchMatMul', 'webgpu');
  tf.registerKernel({
    ...matMul,
    kernelFunc: ownBatchMatMul(matMul.kernelFunc) as unknown as tf.KernelFunc,
  });
  matMulWrapped = true;
}
