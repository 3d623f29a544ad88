/**
 * Weights stored as float16: half the memory of float32, for the frozen base weights of a model
 * (inference and LoRA training). tfjs has no float16 dtype, so two halves share one int32
 * element, the first in the low 16 bits as WGSL's `pack2x16float` lays them out: a [rows, cols]
 * matrix is held as an int32 tensor [rows, cols / 2]. Computation stays float32. Products and
 * the embedding lookup have kernels of their own that read the halves where they lie
 * (webgpuFloat16Kernels.ts; float16HostKernels.ts for cpu and wasm); any other use widens a packed
 * tensor to float32 first (`unpackHalves`) and frees the copy after.
 *
 * Model parameters are all floats, so an int32 weight is always a packed one.
 */
import * as tf from '@tensorflow/tfjs';
import { float16BitsToFloat32 } from './safetensors';

/** How a loaded model keeps its matrices in memory. */
export type WeightStorage = 'float32' | 'float16';

export const PACK_KERNEL = 'SealPackFloat16';
export const UNPACK_KERNEL = 'SealUnpackFloat16';
/** a · b or a · bᵀ with b packed: webgpu reads b packed, cpu and wasm widen it or read it packed. */
export const HALVES_MATMUL_KERNEL = 'SealFloat16MatMul';
/** Rows of a packed matrix, widened (webgpu only; elsewhere gathered packed, then widened). */
export const GATHER_HALVES_KERNEL = 'SealGatherFloat16';

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/**
 * The float16 nearest to `value` (ties to even), as bits. Values beyond the largest half (±65504),
 * infinities included, saturate to it: a weight out of range stays a large weight, not an
 * infinity that would turn the model's outputs into NaN (the device packs the same way).
 */
export function float16Bits(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff && mantissa !== 0) return sign | 0x7e00;
  // The exponent rebiased for float16 (bias 15 instead of 127).
  const halfExponent = exponent - 112;
  const largest = sign | 0x7bff;
  if (halfExponent >= 0x1f) return largest;
  if (halfExponent > 0) {
    const half = sign | (halfExponent << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    // A carry out of the mantissa moves into the exponent, which is the right rounding.
    const rounded = rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? half + 1 : half;
    return (rounded & 0x7fff) === 0x7c00 ? largest : rounded;
  }
  // Subnormal: the value is m · 2^-24 with m the 24-bit significand shifted right.
  const shift = 14 - halfExponent;
  if (shift > 24) return sign;
  const significand = mantissa | 0x800000;
  const half = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return sign | (rest > halfway || (rest === halfway && (half & 1) === 1) ? half + 1 : half);
}

/** Float32 values (an even count) as float16 pairs, the first of each pair in the low bits. */
export function packFloat16(values: ArrayLike<number>): Int32Array {
  if (values.length % 2 !== 0) throw new Error(`cannot pack ${values.length} values in pairs`);
  const packed = new Int32Array(values.length / 2);
  for (let i = 0; i < packed.length; i++) {
    packed[i] = float16Bits(values[2 * i]!) | (float16Bits(values[2 * i + 1]!) << 16);
  }
  return packed;
}

/** The halves of packed pairs, in order (little-endian memory puts each pair's low half first). */
export function halvesOf(packed: Int32Array): Uint16Array {
  return new Uint16Array(packed.buffer, packed.byteOffset, packed.length * 2);
}

/** The float32 values of float16 pairs (exact: every float16 is a float32). */
export function unpackFloat16(packed: Int32Array): Float32Array {
  return float16BitsToFloat32(halvesOf(packed));
}

/** Whether `tensor` holds packed float16 pairs (see the top of this file). */
export function isPackedHalves(tensor: tf.Tensor | tf.TensorInfo): boolean {
  return tensor.dtype === 'int32';
}

/** The shape `tensor` stands for: a packed one's last dimension counts halves, two per element. */
export function logicalShape(tensor: tf.Tensor | tf.TensorInfo): number[] {
  if (!isPackedHalves(tensor)) return tensor.shape;
  return [...tensor.shape.slice(0, -1), tensor.shape[tensor.shape.length - 1]! * 2];
}

/** The shape of `shape`'s values packed in pairs along the last dimension. */
export function packedShape(shape: readonly number[]): number[] {
  return [...shape.slice(0, -1), shape[shape.length - 1]! / 2];
}

/** Whether a matrix of this shape is stored packed when the model keeps float16 weights. */
export function storedAsHalves(shape: readonly number[], storage: WeightStorage): boolean {
  return storage === 'float16' && shape.length === 2 && shape[1]! % 2 === 0;
}

/** float32 `x` [..., 2n] rounded to float16 and packed: int32 [..., n]. Has no gradient. */
export function packHalves(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(PACK_KERNEL, { x }) as tf.Tensor;
}

/** Packed halves [..., n] widened to float32 [..., 2n]; a float32 tensor is returned as is. */
export function unpackHalves(x: tf.Tensor): tf.Tensor {
  if (!isPackedHalves(x)) return x;
  return tf.engine().runKernel(UNPACK_KERNEL, { x }) as tf.Tensor;
}

/**
 * Rows `indices` (int32, any shape) of a matrix [rows, width], widened to float32 when it is
 * stored as halves: [...indices.shape, width]. No gradient for the matrix.
 */
export function gatherRows(matrix: tf.Tensor, indices: tf.Tensor): tf.Tensor {
  if (!isPackedHalves(matrix)) return tf.gather(matrix, indices);
  if (tf.getKernel(GATHER_HALVES_KERNEL, tf.getBackend())) {
    return tf.engine().runKernel(GATHER_HALVES_KERNEL, { x: matrix, indices }) as tf.Tensor;
  }
  return tf.tidy(() => unpackHalves(tf.gather(matrix, indices)));
}

/** a [rows, k] · b, or · bᵀ, with b packed halves standing for a float32 matrix. No gradient. */
function matMulHalves(a: tf.Tensor2D, b: tf.Tensor2D, transposeB: boolean): tf.Tensor2D {
  return tf.engine().runKernel(HALVES_MATMUL_KERNEL, { a, b }, { transposeB }) as tf.Tensor2D;
}

/**
 * x [rows, in] · Wᵀ for a frozen weight W [out, in] held as packed halves, differentiable in x
 * (the gradient dy · W reads W packed too); W itself gets no gradient.
 */
export function multiplyByTransposedHalves(x: tf.Tensor2D, weight: tf.Tensor2D): tf.Tensor2D {
  const product = tf.customGrad((input) => ({
    value: matMulHalves(input as tf.Tensor2D, weight, true),
    gradFunc: (dy) => matMulHalves(dy as tf.Tensor2D, weight, false),
  }));
  return product(x) as tf.Tensor2D;
}
