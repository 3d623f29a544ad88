/**
 * The training ops of trainingOps.ts as WGSL programs on webgpu: RMSNorm's row scales and its two
 * gradients, attention's scaled softmax and its gradient, the merge of heads (with RoPE's inverse
 * rotation) and SwiGLU's two gradients. Row programs spread rows over invocations as `RowLayout`
 * (webgpuDecodeKernels.ts) says. On SwiftShader tfjs's softmax program was about a twelfth of a
 * training step.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ElementwiseProgram,
  headsKernel,
  registerOnWebGpu,
  RowProgram,
  runOnViews,
  type KernelArgs,
} from './webgpuDecodeKernels';
import {
  MERGE_HEADS_KERNEL,
  RMS_INPUT_GRADIENT_KERNEL,
  RMS_SCALE_KERNEL,
  RMS_WEIGHT_GRADIENT_KERNEL,
  SOFTMAX_GRADIENT_KERNEL,
  SOFTMAX_KERNEL,
  SWIGLU_GATE_GRADIENT_KERNEL,
  SWIGLU_UP_GRADIENT_KERNEL,
} from './trainingOps';

/** R [rows] = rsqrt(mean(x²) + eps) of each row of X. */
class RmsScaleProgram extends RowProgram {
  variableNames = ['X'];
  uniforms = 'epsilon : f32,';

  constructor(rows: number, width: number) {
    super('sealRmsScale', rows, width, [rows]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.xShape.y',
      'uniforms.xShape.x',
      `${this.rowReduce('squares', 'f32(X[base + i]) * f32(X[base + i])')}
    if (lane == 0) {
      result[row] = 1.0 / sqrt(squares / f32(width) + uniforms.epsilon);
    }`,
    );
  }
}

/** dx [rows, width] from X, W [width], G [rows, width] and R [rows]. */
class InputGradientProgram extends RowProgram {
  variableNames = ['X', 'W', 'G', 'R'];

  constructor(rows: number, width: number) {
    super('sealRmsNormInputGradient', rows, width, [rows, width]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.xShape.y',
      'uniforms.xShape.x',
      `${this.rowReduce('dot', 'f32(G[base + i]) * f32(W[i]) * f32(X[base + i])')}
    let r = f32(R[row]);
    let shift = r * r * r * dot / f32(width);
    ${this.forEach('result[base + i] = r * f32(G[base + i]) * f32(W[i]) - shift * f32(X[base + i]);')}`,
    );
  }
}

/** dw [width] = Σ over rows of G · X · R. */
class WeightGradientProgram extends ElementwiseProgram {
  variableNames = ['X', 'G', 'R'];
  shaderKey = 'sealRmsNormWeightGradient';

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let width = uniforms.size;
      let rows = uniforms.xShape.x;
      var sum = 0.0;
      for (var row = 0; row < rows; row++) {
        sum = sum + f32(G[row * width + index]) * f32(X[row * width + index]) * f32(R[row]);
      }
      result[index] = sum;
    }
  }
`;
  }
}

/**
 * P [batch, heads, rows, slots] = softmax(S · scale + bias) over slots, bias B [batch, length,
 * slots] for the rows' positions (row r of a head is position r mod length: grouped queries).
 */
class ScaledSoftmaxProgram extends RowProgram {
  variableNames = ['S', 'B'];
  uniforms = 'scale : f32, length : i32,';

  constructor(rows: number, scoresShape: number[]) {
    super('sealScaledSoftmax', rows, scoresShape[3]!, scoresShape);
  }

  getUserCode(): string {
    const score = 'f32(S[base + i]) * uniforms.scale + f32(B[biasBase + i])';
    const maximum = (a: string, b: string) => `max(${a}, ${b})`;
    return this.rowMain(
      'uniforms.sShape.w',
      'uniforms.sShape.x * uniforms.sShape.y * uniforms.sShape.z',
      `let rowsPerBatch = uniforms.sShape.y * uniforms.sShape.z;
    let position = (row % uniforms.sShape.z) % uniforms.length;
    let biasBase = ((row / rowsPerBatch) * uniforms.length + position) * width;
    ${this.rowReduce('rowMax', score, maximum, '-3.402823e38')}
    ${this.rowReduce('total', `exp(${score} - rowMax)`)}
    ${this.forEach(`result[base + i] = exp(${score} - rowMax) / total;`)}`,
    );
  }
}

/** d_scores = scale · P · (G − Σ G · P), row by row over the last axis. */
class ScaledSoftmaxGradientProgram extends RowProgram {
  variableNames = ['P', 'G'];
  uniforms = 'scale : f32,';

  constructor(rows: number, slots: number) {
    super('sealScaledSoftmaxGradient', rows, slots, [rows, slots]);
  }

  getUserCode(): string {
    return this.rowMain(
      'uniforms.pShape.y',
      'uniforms.pShape.x',
      `${this.rowReduce('dot', 'f32(G[base + i]) * f32(P[base + i])')}
    ${this.forEach('result[base + i] = uniforms.scale * f32(P[base + i]) * (f32(G[base + i]) - dot);')}`,
    );
  }
}

/**
 * d_gate (from G, U and the incoming gradient D) or d_up (from G and D) of silu(G) · U. A
 * program binds only the inputs its code reads.
 */
class SwiGluGradientProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(
    size: number,
    private readonly of: 'gate' | 'up',
  ) {
    super([size]);
    this.variableNames = of === 'gate' ? ['G', 'U', 'D'] : ['G', 'D'];
    this.shaderKey = `sealSwiGluGradient_${of}`;
  }

  getUserCode(): string {
    const value =
      this.of === 'gate'
        ? 'f32(D[index]) * f32(U[index]) * s * (1.0 + gate * (1.0 - s))'
        : 'f32(D[index]) * gate * s';
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let gate = f32(G[index]);
      let s = 1.0 / (1.0 + exp(-1.0 * gate));
      result[index] = ${value};
    }
  }
`;
  }
}

/** x as a matrix [rows, width]. */
function rowsOf(x: tf.TensorInfo): [number, number] {
  const width = x.shape[x.shape.length - 1]!;
  return [tf.util.sizeFromShape(x.shape) / width, width];
}

function rmsScaleKernel({ inputs, backend, attrs }: KernelArgs<{ epsilon: number }>) {
  const { x } = inputs as { x: tf.TensorInfo };
  const [rows, width] = rowsOf(x);
  return runOnViews(
    backend,
    new RmsScaleProgram(rows, width),
    [[x, [rows, width]]],
    [{ type: 'float32', data: [attrs.epsilon] }],
  );
}

function inputGradientKernel({ inputs, backend }: KernelArgs) {
  const { x, weight, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const [rows, width] = rowsOf(x!);
  return runOnViews(
    backend,
    new InputGradientProgram(rows, width),
    [
      [x!, [rows, width]],
      [weight!, [width]],
      [dy!, [rows, width]],
      [scale!, [rows]],
    ],
    [],
    x!.shape,
  );
}

function weightGradientKernel({ inputs, backend }: KernelArgs) {
  const { x, dy, scale } = inputs as Record<string, tf.TensorInfo>;
  const [rows, width] = rowsOf(x!);
  return runOnViews(backend, new WeightGradientProgram([width]), [
    [x!, [rows, width]],
    [dy!, [rows, width]],
    [scale!, [rows]],
  ]);
}

function scaledSoftmaxKernel({ inputs, backend, attrs }: KernelArgs<{ scale: number }>) {
  const { scores, bias } = inputs as { scores: tf.TensorInfo; bias: tf.TensorInfo };
  const [batch, , length, slots] = bias.shape as [number, number, number, number];
  const rows = tf.util.sizeFromShape(scores.shape) / slots;
  return runOnViews(
    backend,
    new ScaledSoftmaxProgram(rows, scores.shape),
    [
      [scores, scores.shape],
      [bias, [batch, length, slots]],
    ],
    [
      { type: 'float32', data: [attrs.scale] },
      { type: 'int32', data: [length] },
    ],
  );
}

function scaledSoftmaxGradientKernel({ inputs, backend, attrs }: KernelArgs<{ scale: number }>) {
  const { probs, dy } = inputs as { probs: tf.TensorInfo; dy: tf.TensorInfo };
  const [rows, slots] = rowsOf(probs);
  return runOnViews(
    backend,
    new ScaledSoftmaxGradientProgram(rows, slots),
    [
      [probs, [rows, slots]],
      [dy, [rows, slots]],
    ],
    [{ type: 'float32', data: [attrs.scale] }],
    probs.shape,
  );
}

function swiGluGradientKernel(of: 'gate' | 'up') {
  return ({ inputs, backend }: KernelArgs) => {
    const { gate, up, dy } = inputs as Record<string, tf.TensorInfo>;
    const size = tf.util.sizeFromShape(gate!.shape);
    const read = of === 'gate' ? [gate!, up!, dy!] : [gate!, dy!];
    return runOnViews(
      backend,
      new SwiGluGradientProgram(size, of),
      read.map((x): [tf.TensorInfo, number[]] => [x, [size]]),
      [],
      gate!.shape,
    );
  };
}

/** Registers the programs for webgpu, once. */
export function registerWebGpuTrainingKernels(): void {
  registerOnWebGpu([
    [RMS_SCALE_KERNEL, rmsScaleKernel],
    [RMS_INPUT_GRADIENT_KERNEL, inputGradientKernel],
    [RMS_WEIGHT_GRADIENT_KERNEL, weightGradientKernel],
    [SOFTMAX_KERNEL, scaledSoftmaxKernel],
    [SOFTMAX_GRADIENT_KERNEL, scaledSoftmaxGradientKernel],
    [MERGE_HEADS_KERNEL, headsKernel('merge')],
    [SWIGLU_GATE_GRADIENT_KERNEL, swiGluGradientKernel('gate')],
    [SWIGLU_UP_GRADIENT_KERNEL, swiGluGradientKernel('up')],
  ]);
}
