/**
 * Our inference kernels for tfjs's webgpu backend (the ops of decodeOps.ts), under the same
 * switch as our matmul (`setOwnWebGpuKernels`). Decoding one token runs the model on a single row, so its cost is the
 * number of dispatches rather than arithmetic: as stock ops, each layer's RMSNorm is six kernels,
 * RoPE nine per rotated tensor, attention six, a KV-cache write two and SwiGLU three. Each of
 * those is one program here. They compute what the stock op sequences compute, in the same order
 * of operations, but have no gradients: the model uses them when it runs against a KV cache
 * (generation), never in training.
 *
 * tfjs declares each input's binding by the dtype of its buffer, not of its tensor, and casting
 * int32 to float32 only relabels the buffer: a float32 tensor (the KV cache's slot mask written
 * from a prompt's int32 attention mask) can arrive as `array<i32>`. Assigning that to the f32
 * result does not compile, and WebGPU then drops the commands submitted with the program, with
 * no error beyond a console warning. So every program reads its float inputs through `f32(…)`,
 * a no-op on f32.
 */
import * as tf from '@tensorflow/tfjs';
import {
  webgpu_util,
  type WebGPUBackend,
  type WebGPUProgram,
} from '@tensorflow/tfjs-backend-webgpu';
import {
  ATTENTION_KERNEL,
  countInferenceKernelRun,
  HEADS_KERNEL,
  RMS_NORM_KERNEL,
  SWIGLU_KERNEL,
  WRITE_SLOTS_KERNEL,
} from './decodeOps';
import { reshapeOnBackend } from './webgpuKernels';

/** Invocations per workgroup of every program here. */
export const WORKGROUP = 64;

/** One invocation per output element, in as many workgroups as that takes. */
export abstract class ElementwiseProgram implements WebGPUProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  size = true;

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatchLayout = webgpu_util.flatDispatchLayout(outputShape);
    this.dispatch = webgpu_util.computeDispatch(
      this.dispatchLayout,
      outputShape,
      this.workgroupSize,
    );
  }

  abstract getUserCode(): string;
}

/** Sums `partial` across the workgroup into `partial[0]` with `combine`. */
export function workgroupReduce(combine: (a: string, b: string) => string): string {
  return `
    workgroupBarrier();
    for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
      if (localIndex < width) {
        partial[localIndex] = ${combine('partial[localIndex]', 'partial[localIndex + width]')};
      }
      workgroupBarrier();
    }`;
}

/**
 * The flat index of this workgroup, however tfjs has laid the dispatch out. (A program with a
 * one-axis dispatch layout gets its invocation's index as `main`'s argument, unused here.)
 */
export const WORKGROUP_INDEX = `i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y +
    workgroupId.y * numWorkgroups.x + workgroupId.x)`;

/** Rows at least this many, each at most this long, run one invocation per row. */
const MANY_ROWS = 512;
const SHORT_ROW = 512;

/**
 * How a row program spreads a matrix's rows over invocations: a workgroup per row, its
 * invocations striding along the row and adding their parts in workgroup memory; or, for many
 * short rows (a training batch's 1024 tokens of 128 features, attention's 4096 rows of 128
 * slots), one invocation per row and no barrier at all. On SwiftShader a workgroup's barriers
 * cost more than the arithmetic of a 128-wide row: one-per-row made a training step's RMSNorms
 * and softmaxes several times faster.
 */
export class RowLayout {
  readonly lanes: number;

  constructor(
    readonly rows: number,
    width: number,
  ) {
    this.lanes = rows >= MANY_ROWS && width <= SHORT_ROW ? 1 : WORKGROUP;
  }

  get dispatch(): [number, number, number] {
    return this.lanes === 1 ? [Math.ceil(this.rows / WORKGROUP), 1, 1] : [this.rows, 1, 1];
  }

  /** Workgroup memory for `reduce`. */
  get declarations(): string {
    return this.lanes === 1 ? '' : `var<workgroup> partial : array<f32, ${WORKGROUP}>;`;
  }

  /** Declares `row` and `lane` in main(); invocations past the last row (`rows`) return. */
  start(rows: string): string {
    return this.lanes === 1
      ? `let row = ${WORKGROUP_INDEX} * ${WORKGROUP} + i32(localIndex);
    if (row >= ${rows}) {
      return;
    }
    let lane = 0;`
      : `let row = ${WORKGROUP_INDEX};
    let lane = i32(localIndex);`;
  }

  /** A loop over the indices `i` below `width` of the row that this invocation handles. */
  loop(width: string): string {
    return `for (var i = lane; i < ${width}; i = i + ${this.lanes})`;
  }

  /** Declares `name`, the row's `local` values combined. */
  reduce(name: string, local: string, combine: (a: string, b: string) => string): string {
    if (this.lanes === 1) return `let ${name} = ${local};`;
    return `partial[localIndex] = ${local};
    ${workgroupReduce(combine)}
    let ${name} = partial[0];
    workgroupBarrier();`;
  }
}

/** One row program: a `RowLayout` over `rows` rows of `width` values. */
export abstract class RowProgram implements WebGPUProgram {
  abstract variableNames: string[];
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  shaderKey: string;
  protected readonly layout: RowLayout;

  constructor(name: string, rows: number, width: number, outputShape: number[]) {
    this.layout = new RowLayout(rows, width);
    this.outputShape = outputShape;
    this.dispatch = this.layout.dispatch;
    this.shaderKey = `${name}_${this.layout.lanes}`;
  }

  abstract getUserCode(): string;

  /**
   * main() over rows of `width` values (`rows` of them): declares `width`, `row`, `lane` and `base`
   * (the row's first index), then runs `body`.
   */
  protected rowMain(width: string, rows: string, body: string): string {
    return `
  ${this.layout.declarations}

  fn main(index : i32) {
    let width = ${width};
    ${this.layout.start(rows)}
    let base = row * width;
    ${body}
  }
`;
  }

  /** Declares `name`, the row's `term` (an expression of `i`) combined over i with `combine`. */
  protected rowReduce(
    name: string,
    term: string,
    combine: (a: string, b: string) => string = (a, b) => `${a} + ${b}`,
    initial = '0.0',
  ): string {
    return `var ${name}Part = ${initial};
    ${this.layout.loop('width')} {
      ${name}Part = ${combine(`${name}Part`, term)};
    }
    ${this.layout.reduce(name, `${name}Part`, combine)}`;
  }

  /** Runs `statement` for each index `i` of the row this invocation handles. */
  protected forEach(statement: string): string {
    return `${this.layout.loop('width')} {
      ${statement}
    }`;
  }
}

/** x / sqrt(mean(x²) + eps) · weight for each row of X [rows, width]. */
class RmsNormProgram extends RowProgram {
  variableNames = ['X', 'W'];
  uniforms = 'epsilon : f32,';

  constructor(rows: number, width: number) {
    super('sealRmsNorm', rows, width, [rows, width]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.xShape.y',
      'uniforms.xShape.x',
      `${this.rowReduce('squares', 'f32(X[base + i]) * f32(X[base + i])')}
    let scale = 1.0 / sqrt(squares / f32(width) + uniforms.epsilon);
    ${this.forEach('result[base + i] = (f32(X[base + i]) * scale) * f32(W[i]);')}`,
    );
  }
}

/** gate · sigmoid(gate) · up. */
class SwiGluProgram extends ElementwiseProgram {
  variableNames = ['G', 'U'];
  shaderKey = 'sealSwiGlu';

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let gate = f32(G[index]);
      result[index] = (gate * (1.0 / (1.0 + exp(-1.0 * gate)))) * f32(U[index]);
    }
  }
`;
  }
}

/**
 * Split: a linear's output X [B, T, heads·d] as heads [B, heads, T, d], rotated by RoPE (the
 * rotate_half layout of rope.ts) at the positions Pos [B·T] of the table Cos/Sin [positions, d/2],
 * or not. Merge, the inverse (and so the split's gradient): heads X [B, heads, T, d] back into
 * [B, T, heads·d], rotated back by −θ, or not.
 */
class HeadsProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(
    outputShape: number[],
    private readonly heads: number,
    private readonly rotate: boolean,
    private readonly direction: 'split' | 'merge',
  ) {
    super(outputShape);
    this.variableNames = rotate ? ['X', 'Cos', 'Sin', 'Pos'] : ['X'];
    this.shaderKey = `sealHeads_${direction}_${heads}_${rotate}`;
  }

  getUserCode(): string {
    // Rotating by θ subtracts the sine term from the first half; rotating back adds it.
    const [first, second] = this.direction === 'split' ? ['-', '+'] : ['+', '-'];
    const value = this.rotate
      ? `let half = d / 2;
        let j = i % half;
        let p = Pos[b * length + t] * half + j;
        let x1 = f32(X[row + j]);
        let x2 = f32(X[row + half + j]);
        if (i < half) {
          result[index] = x1 * f32(Cos[p]) ${first} x2 * f32(Sin[p]);
        } else {
          result[index] = x2 * f32(Cos[p]) ${second} x1 * f32(Sin[p]);
        }`
      : 'result[index] = f32(X[row + i]);';
    const heads = this.heads;
    // Where output element `index` sits as (b, h, t, i), and where its head's row starts in X.
    const position =
      this.direction === 'split'
        ? `let length = uniforms.outShape.z;
      let d = uniforms.outShape.w;
      let i = index % d;
      let t = (index / d) % length;
      let h = (index / (d * length)) % ${heads};
      let b = index / (d * length * ${heads});
      let row = (b * length + t) * ${heads} * d + h * d;`
        : `let length = uniforms.outShape.y;
      let d = uniforms.outShape.z / ${heads};
      let i = index % d;
      let h = (index / d) % ${heads};
      let t = (index / (d * ${heads})) % length;
      let b = index / (d * ${heads} * length);
      let row = ((b * ${heads} + h) * length + t) * d;`;
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      ${position}
      ${value}
    }
  }
`;
  }
}

/** Cache [outer, slots, inner] with Entries [outer, count, inner] written from slot `start` on. */
class WriteSlotsProgram extends ElementwiseProgram {
  variableNames = ['Cache', 'Entries'];
  uniforms = 'start : i32,';
  shaderKey = 'sealWriteSlots';

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let slots = uniforms.outShape.y;
      let inner = uniforms.outShape.z;
      let count = uniforms.entriesShape.y;
      let slot = (index / inner) % slots - uniforms.start;
      if (slot >= 0 && slot < count) {
        let outer = index / (inner * slots);
        result[index] = f32(Entries[(outer * count + slot) * inner + index % inner]);
      } else {
        result[index] = f32(Cache[index]);
      }
    }
  }
`;
  }
}

/**
 * softmax(q·kᵀ·scale + bias)·v for one query per workgroup, as llama.ts's grouped-query attention
 * computes it: Q [B, heads, T, d], K and V [B, kvHeads, slots, d], M [B, slots] the slots holding
 * real tokens; query t (in slot `queryStart + t`) sees slot s when s holds a real token and
 * s ≤ its own slot, and the bias of the others is −1e9 as there. Output [B, T, heads·d].
 */
class AttentionProgram implements WebGPUProgram {
  variableNames = ['Q', 'K', 'V', 'M'];
  uniforms = 'queryStart : i32, scale : f32,';
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  shaderKey: string;

  constructor(
    queryShape: number[],
    private readonly slots: number,
  ) {
    const [batch, heads, length, headDim] = queryShape as [number, number, number, number];
    this.outputShape = [batch, length, heads * headDim];
    this.dispatch = [batch * heads * length, 1, 1];
    this.shaderKey = `sealAttention_${slots}`;
  }

  getUserCode(): string {
    return `
  var<workgroup> scores : array<f32, ${this.slots}>;
  var<workgroup> partial : array<f32, ${WORKGROUP}>;

  fn main(index : i32) {
    let heads = uniforms.qShape.y;
    let length = uniforms.qShape.z;
    let d = uniforms.qShape.w;
    let kvHeads = uniforms.kShape.y;
    let slots = ${this.slots};
    let query = ${WORKGROUP_INDEX};
    let t = query % length;
    let h = (query / length) % heads;
    let b = query / (length * heads);
    let qBase = query * d;
    let kvBase = (b * kvHeads + h / (heads / kvHeads)) * slots * d;
    let querySlot = uniforms.queryStart + t;

    var localMax = -3.402823e38;
    for (var s = i32(localIndex); s < slots; s = s + ${WORKGROUP}) {
      var dot = 0.0;
      for (var i = 0; i < d; i++) {
        dot = dot + f32(Q[qBase + i]) * f32(K[kvBase + s * d + i]);
      }
      let allowed = select(0.0, 1.0, s <= querySlot) * f32(M[b * slots + s]);
      let score = dot * uniforms.scale + (allowed - 1.0) * 1e9;
      scores[s] = score;
      localMax = max(localMax, score);
    }
    partial[localIndex] = localMax;
    ${workgroupReduce((a, c) => `max(${a}, ${c})`)}
    let rowMax = partial[0];
    workgroupBarrier();

    var localSum = 0.0;
    for (var s = i32(localIndex); s < slots; s = s + ${WORKGROUP}) {
      let e = exp(scores[s] - rowMax);
      scores[s] = e;
      localSum = localSum + e;
    }
    partial[localIndex] = localSum;
    ${workgroupReduce((a, c) => `${a} + ${c}`)}
    let total = partial[0];
    for (var s = i32(localIndex); s < slots; s = s + ${WORKGROUP}) {
      scores[s] = scores[s] / total;
    }
    workgroupBarrier();

    let outBase = ((b * length + t) * heads + h) * d;
    for (var i = i32(localIndex); i < d; i = i + ${WORKGROUP}) {
      var sum = 0.0;
      for (var s = 0; s < slots; s++) {
        sum = sum + scores[s] * f32(V[kvBase + s * d + i]);
      }
      result[outBase + i] = sum;
    }
  }
`;
  }
}

export type KernelArgs<Attrs = Record<string, never>> = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WebGPUBackend;
  attrs: Attrs;
};

/** Runs `program` on views of the inputs (reshapes that only relabel buffers), then frees them. */
export function runOnViews(
  backend: WebGPUBackend,
  program: WebGPUProgram,
  views: [tf.TensorInfo, number[]][],
  uniforms: { type: string; data: number[] }[] = [],
  outShape?: number[],
): tf.TensorInfo {
  const reshaped = views.map(([x, shape]) => reshapeOnBackend(backend, x, shape));
  countInferenceKernelRun(program.shaderKey);
  const out = backend.runWebGPUProgram(program, reshaped, 'float32', uniforms);
  for (const view of reshaped) backend.disposeData(view.dataId);
  if (!outShape) return out;
  const shaped = reshapeOnBackend(backend, out, outShape);
  backend.disposeData(out.dataId);
  return shaped;
}

function rmsNormKernel({ inputs, backend, attrs }: KernelArgs<{ epsilon: number }>) {
  const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
  const width = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / width;
  return runOnViews(
    backend,
    new RmsNormProgram(rows, width),
    [
      [x, [rows, width]],
      [weight, [width]],
    ],
    [{ type: 'float32', data: [attrs.epsilon] }],
    x.shape,
  );
}

function swiGluKernel({ inputs, backend }: KernelArgs) {
  const { gate, up } = inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
  const size = tf.util.sizeFromShape(gate.shape);
  return runOnViews(
    backend,
    new SwiGluProgram([size]),
    [
      [gate, [size]],
      [up, [size]],
    ],
    [],
    gate.shape,
  );
}

/**
 * The kernel of HeadsProgram: split x [B, T, heads·d] into heads, or merge x [B, heads, T, d]
 * back; rotated when given cos, sin and positions.
 */
export function headsKernel(direction: 'split' | 'merge') {
  return ({ inputs, backend, attrs }: KernelArgs<{ heads: number }>) => {
    const { x, cos, sin, positions } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { heads } = attrs;
    const size = tf.util.sizeFromShape(x!.shape);
    const batch = x!.shape[0]!;
    const length = direction === 'split' ? x!.shape[1]! : x!.shape[2]!;
    const headDim = size / (batch * length * heads);
    const views: [tf.TensorInfo, number[]][] = [[x!, [size]]];
    if (cos && sin && positions) {
      views.push([cos, cos.shape], [sin, sin.shape], [positions, [batch * length]]);
    }
    const outShape =
      direction === 'split' ? [batch, heads, length, headDim] : [batch, length, heads * headDim];
    const program = new HeadsProgram(outShape, heads, views.length > 1, direction);
    return runOnViews(backend, program, views);
  };
}

function writeSlotsKernel({ inputs, backend, attrs }: KernelArgs<{ start: number; axis: number }>) {
  const { cache, entries } = inputs as { cache: tf.TensorInfo; entries: tf.TensorInfo };
  const view = (x: tf.TensorInfo) => [
    tf.util.sizeFromShape(x.shape.slice(0, attrs.axis)),
    x.shape[attrs.axis]!,
    tf.util.sizeFromShape(x.shape.slice(attrs.axis + 1)),
  ];
  return runOnViews(
    backend,
    new WriteSlotsProgram(view(cache)),
    [
      [cache, view(cache)],
      [entries, view(entries)],
    ],
    [{ type: 'int32', data: [attrs.start] }],
    cache.shape,
  );
}

function attentionKernel({ inputs, backend, attrs }: KernelArgs<{ queryStart: number }>) {
  const { queries, keys, values, slotMask } = inputs as Record<string, tf.TensorInfo>;
  const slots = keys!.shape[2]!;
  const scale = 1 / Math.sqrt(queries!.shape[3]!);
  return runOnViews(
    backend,
    new AttentionProgram(queries!.shape, slots),
    [
      [queries!, queries!.shape],
      [keys!, keys!.shape],
      [values!, values!.shape],
      [slotMask!, slotMask!.shape],
    ],
    [
      { type: 'int32', data: [attrs.queryStart] },
      { type: 'float32', data: [scale] },
    ],
  );
}

/** Registers each [name, kernel function] for webgpu unless the first is registered already. */
export function registerOnWebGpu(kernels: [string, unknown][]): void {
  if (tf.getKernel(kernels[0]![0], 'webgpu')) return;
  for (const [kernelName, kernelFunc] of kernels) {
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: kernelFunc as tf.KernelFunc,
    });
  }
}

/** Registers the kernels for webgpu, once. */
export function registerWebGpuInferenceKernels(): void {
  registerOnWebGpu([
    [ATTENTION_KERNEL, attentionKernel],
    [RMS_NORM_KERNEL, rmsNormKernel],
    [SWIGLU_KERNEL, swiGluKernel],
    [HEADS_KERNEL, headsKernel('split')],
    [WRITE_SLOTS_KERNEL, writeSlotsKernel],
  ]);
}
