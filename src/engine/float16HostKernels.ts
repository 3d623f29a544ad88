/**
 * Float16 weight storage (model/float16.ts) on the cpu and wasm backends: packing, widening, and
 * products whose B operand is packed. A product of a few rows (a decoded token's linears) reads
 * B's halves where they lie, so decoding never widens a whole weight: on wasm, x·Wᵀ in our SIMD
 * kernel (wasm/products.wat), which widens them exactly in registers and sums as its float32
 * product does, so the results are the widened weight's, bit for bit; otherwise in JavaScript,
 * through a table of every half's value. A product of many rows (training) widens B into a
 * temporary tensor for the backend's own BatchMatMul, whose speed per multiply-add is far beyond a
 * JavaScript loop.
 */
import * as tf from '@tensorflow/tfjs';
import {
  HALVES_MATMUL_KERNEL,
  halvesOf,
  logicalShape,
  PACK_KERNEL,
  packedShape,
  packFloat16,
  UNPACK_KERNEL,
  unpackFloat16,
} from './model/float16';
import { float16Values } from './model/safetensors';
import { output, valuesOf, type HostBackend } from './hostBackend';
import { heapProductsOn } from './wasm/heapProducts';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Products with at most this many rows read the halves directly. */
const DIRECT_MAX_ROWS = 8;

function widened(backend: HostBackend, x: tf.TensorInfo): tf.TensorInfo {
  const values = unpackFloat16(valuesOf(backend, x) as Int32Array);
  return output(backend, logicalShape(x), 'float32', values);
}

/** a [rows, inner] · b (b: [inner, columns] as halves) or · bᵀ (b: [columns, inner]). */
function directProduct(
  a: Float32Array,
  b: Uint16Array,
  rows: number,
  inner: number,
  columns: number,
  transposeB: boolean,
): Float32Array {
  const value = float16Values();
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    const aBase = r * inner;
    const outBase = r * columns;
    if (transposeB) {
      // Four of B's rows at a time, so each of A's values read serves four sums (2.2× faster in
      // Node than one row at a time); each sum still adds its terms in order.
      let c = 0;
      for (; c + 4 <= columns; c += 4) {
        const b0 = c * inner;
        const b1 = b0 + inner;
        const b2 = b1 + inner;
        const b3 = b2 + inner;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = 0; k < inner; k++) {
          const x = a[aBase + k]!;
          s0 += x * value[b[b0 + k]!]!;
          s1 += x * value[b[b1 + k]!]!;
          s2 += x * value[b[b2 + k]!]!;
          s3 += x * value[b[b3 + k]!]!;
        }
        out[outBase + c] = s0;
        out[outBase + c + 1] = s1;
        out[outBase + c + 2] = s2;
        out[outBase + c + 3] = s3;
      }
      for (; c < columns; c++) {
        const bBase = c * inner;
        let sum = 0;
        for (let k = 0; k < inner; k++) sum += a[aBase + k]! * value[b[bBase + k]!]!;
        out[outBase + c] = sum;
      }
    } else {
      // Row by row of B, so that B is read in order.
      for (let k = 0; k < inner; k++) {
        const scale = a[aBase + k]!;
        const bBase = k * columns;
        for (let c = 0; c < columns; c++) {
          out[outBase + c] = out[outBase + c]! + scale * value[b[bBase + c]!]!;
        }
      }
    }
  }
  return out;
}

function halvesMatMul(backendName: string) {
  return ({ inputs, backend: kernelBackend, attrs }: Parameters<tf.KernelFunc>[0]) => {
    const backend = kernelBackend as unknown as HostBackend;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeB } = attrs as unknown as { transposeB: boolean };
    const [rows, inner] = a.shape as [number, number];
    const wide = logicalShape(b);
    const columns = transposeB ? wide[0]! : wide[1]!;
    const direct = rows <= DIRECT_MAX_ROWS;
    const products =
      direct && transposeB && backendName === 'wasm'
        ? heapProductsOn(kernelBackend as unknown as BackendWasm)
        : null;
    if (products) {
      const out = backend.makeOutput!([rows, columns], 'float32');
      // Addresses are read after the allocation above, which may have moved the heap's buffer.
      const [aAt, bAt, outAt] = [a, b, out].map((t) => valuesOf(backend, t).byteOffset);
      products.multiplyByTransposedHalves(aAt!, bAt!, outAt!, rows, inner, columns);
      return out;
    }
    if (direct) {
      const values = directProduct(
        valuesOf(backend, a) as Float32Array,
        halvesOf(valuesOf(backend, b) as Int32Array),
        rows,
        inner,
        columns,
        transposeB,
      );
      return output(backend, [rows, columns], 'float32', values);
    }
    const widenedB = widened(backend, b);
    const product = tf.getKernel('BatchMatMul', backendName)!.kernelFunc({
      inputs: { a, b: widenedB },
      backend: kernelBackend,
      attrs: { transposeA: false, transposeB },
    }) as tf.TensorInfo;
    backend.disposeData(widenedB.dataId);
    return product;
  };
}

/** Registers the kernels for cpu and wasm, once. */
export function registerHostFloat16Kernels(): void {
  for (const backendName of ['cpu', 'wasm']) {
    if (tf.getKernel(PACK_KERNEL, backendName)) continue;
    const kernels: [string, tf.KernelFunc][] = [
      [
        PACK_KERNEL,
        ({ inputs, backend }) => {
          const { x } = inputs as { x: tf.TensorInfo };
          const host = backend as unknown as HostBackend;
          const packed = packFloat16(valuesOf(host, x));
          return output(host, packedShape(x.shape), 'int32', packed);
        },
      ],
      [
        UNPACK_KERNEL,
        ({ inputs, backend }) =>
          widened(backend as unknown as HostBackend, (inputs as { x: tf.TensorInfo }).x),
      ],
      [HALVES_MATMUL_KERNEL, halvesMatMul(backendName) as tf.KernelFunc],
    ];
    for (const [kernelName, kernelFunc] of kernels) {
      tf.registerKernel({ kernelName, backendName, kernelFunc });
    }
  }
}
