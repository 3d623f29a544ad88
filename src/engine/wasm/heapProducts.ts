/**
 * Our SIMD products x · wᵀ and transposes (products.wat), instantiated against the memory of tfjs's wasm
 * backend so they read and write tensors where they lie in the heap. tfjs exposes that memory as
 * its Emscripten module's `asm.memory`; where it does not (another build), or where the engine
 * lacks SIMD, there are none and the callers keep their other kernels.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { PRODUCTS_WASM } from './productsWasm';

/** out [rows, columns] = x [rows, inner] · w [columns, inner]ᵀ; arguments are byte addresses. */
export type TransposedProduct = (
  x: number,
  w: number,
  out: number,
  rows: number,
  inner: number,
  columns: number,
) => void;

export interface HeapProducts {
  /** w in float32. */
  multiplyByTransposed: TransposedProduct;
  /** w as float16 pairs (model/float16.ts); `inner` counts halves. */
  multiplyByTransposedHalves: TransposedProduct;
  /** Each of `batches` matrices [rows, columns] of 4-byte values at `from`, transposed to `to`. */
  transpose: (from: number, to: number, batches: number, rows: number, columns: number) => void;
}

/** One instance per heap; null where ours cannot run. */
const instances = new WeakMap<object, HeapProducts | null>();

function heapMemory(backend: BackendWasm): WebAssembly.Memory | null {
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

function instantiate(memory: WebAssembly.Memory): HeapProducts | null {
  const bytes = Uint8Array.from(atob(PRODUCTS_WASM), (c) => c.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return null;
  try {
    // Under 4 KB, so compiling synchronously is allowed on a page's main thread too.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      tfjs: { memory },
    });
    return instance.exports as unknown as HeapProducts;
  } catch {
    // A heap this module cannot import (a shared one, from tfjs's threaded build).
    return null;
  }
}

export function heapProductsOn(backend: BackendWasm): HeapProducts | null {
  const memory = heapMemory(backend);
  if (!memory) return null;
  if (!instances.has(memory)) instances.set(memory, instantiate(memory));
  return instances.get(memory)!;
}
