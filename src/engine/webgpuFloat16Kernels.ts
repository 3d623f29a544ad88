/**
 * Float16 weight storage on webgpu (see model/float16.ts): packing float32 into pairs of halves,
 * widening them back, and products whose B operand is packed. A product reads B's halves straight
 * from its packed buffer in our tiled and matrix-vector programs (webgpuKernels.ts), so a weight
 * is never widened to a float32 copy on the way; shapes those programs do not take (or our kernels
 * switched off) widen B into a temporary buffer for tfjs's BatchMatMul, freed right after.
 *
 * WGSL's conversion to float16 may round either way when a value lies between two halves, so
 * packing on the GPU can differ from the JavaScript packing (model/float16.ts) in the last bit;
 * widening is exact. Both saturate values beyond the largest half.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import {
  GATHER_HALVES_KERNEL,
  HALVES_MATMUL_KERNEL,
  logicalShape,
  PACK_KERNEL,
  packedShape,
  UNPACK_KERNEL,
} from './model/float16';
import { ElementwiseProgram, registerOnWebGpu, type KernelArgs } from './webgpuDecodeKernels';
import {
  matVec,
  ownWebGpuKernelsEnabled,
  planMatMul,
  planMatVec,
  tiledMatMul,
} from './webgpuKernels';

/** One invocation per packed pair: two float32 in, one int32 out. */
class PackProgram extends ElementwiseProgram {
  variableNames = ['X'];
  shaderKey = 'sealPackFloat16';

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      // Beyond the largest half, WGSL leaves the result undefined: saturate, as float16.ts does.
      let pair = clamp(
        vec2<f32>(f32(X[2 * index]), f32(X[2 * index + 1])),
        vec2<f32>(-65504.0),
        vec2<f32>(65504.0),
      );
      result[index] = bitcast<i32>(pack2x16float(pair));
    }
  }
`;
  }
}

/** One invocation per float32 out, reading its half of a packed pair. */
class UnpackProgram extends ElementwiseProgram {
  variableNames = ['X'];
  shaderKey = 'sealUnpackFloat16';

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      result[index] = unpack2x16float(bitcast<u32>(X[index / 2]))[index % 2];
    }
  }
`;
  }
}

/**
 * Rows of a packed matrix P [rows, width / 2] at indices Ids, widened: [indices, width]. tfjs's
 * gather reads int32 through float32, which rounds packed pairs beyond 2^24.
 */
class GatherHalvesProgram extends ElementwiseProgram {
  variableNames = ['P', 'Ids'];
  shaderKey: string;

  constructor(
    outputShape: number[],
    private readonly width: number,
  ) {
    super(outputShape);
    this.shaderKey = `sealGatherHalves_${width}`;
  }

  getUserCode(): string {
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let column = index % ${this.width};
      let row = i32(Ids[index / ${this.width}]);
      let pair = unpack2x16float(bitcast<u32>(P[row * ${this.width / 2} + column / 2]));
      result[index] = pair[column % 2];
    }
  }
`;
  }
}

function gatherHalvesKernel({ inputs, backend }: KernelArgs) {
  const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const width = logicalShape(x)[1]!;
  const program = new GatherHalvesProgram([...indices.shape, width], width);
  return backend.runWebGPUProgram(program, [x, indices], 'float32');
}

function packKernel({ inputs, backend }: KernelArgs) {
  const { x } = inputs as { x: tf.TensorInfo };
  return backend.runWebGPUProgram(new PackProgram(packedShape(x.shape)), [x], 'int32');
}

function widened(backend: WebGPUBackend, x: tf.TensorInfo): tf.TensorInfo {
  return backend.runWebGPUProgram(new UnpackProgram(logicalShape(x)), [x], 'float32');
}

function unpackKernel({ inputs, backend }: KernelArgs) {
  return widened(backend, (inputs as { x: tf.TensorInfo }).x);
}

/** a · b, or a · bᵀ, with b packed halves: our programs read them packed where they apply. */
function halvesMatMulKernel({ inputs, backend, attrs }: KernelArgs<{ transposeB: boolean }>) {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeB } = attrs;
  // The products' planners read B as the float32 matrix it stands for.
  const logicalB = { shape: logicalShape(b), dtype: 'float32' as const };
  if (ownWebGpuKernelsEnabled()) {
    const plan = planMatMul(a, logicalB, false, transposeB);
    if (plan?.vectorB) return tiledMatMul(backend, a, b, { ...plan, halvesB: true });
    const vectorPlan = planMatVec(a, logicalB, false, transposeB);
    if (vectorPlan?.vector) return matVec(backend, a, b, { ...vectorPlan, halvesB: true });
  }
  const wide = widened(backend, b);
  const batchMatMul = tf.getKernel('BatchMatMul', 'webgpu')!.kernelFunc;
  const out = batchMatMul({
    inputs: { a, b: wide },
    backend,
    attrs: { transposeA: false, transposeB },
  }) as tf.TensorInfo;
  backend.disposeData(wide.dataId);
  return out;
}

/** Registers the kernels for webgpu, once. */
export function registerWebGpuFloat16Kernels(): void {
  registerOnWebGpu([
    [PACK_KERNEL, packKernel],
    [UNPACK_KERNEL, unpackKernel],
    [HALVES_MATMUL_KERNEL, halvesMatMulKernel],
    [GATHER_HALVES_KERNEL, gatherHalvesKernel],
  ]);
}
