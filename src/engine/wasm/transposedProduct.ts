/**
 * Our SIMD product x · wᵀ (multiplyByTransposed.wat), instantiated against the memory of
 * tfjs's wasm backend so it reads and writes tensors where they lie in the heap. tfjs exposes
 * that memory as its Emscripten module's `asm.memory`; where it does not (another build), or
 * where the engine lacks SIMD, there is no product and the caller keeps tfjs's kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { MULTIPLY_BY_TRANSPOSED_WASM } from './multiplyByTransposedWasm';

/** out [rows, columns] = x [rows, inner] · w [columns, inner]ᵀ; arguments are byte addresses. */
export type TransposedProduct = (
  x: number,
  w: number,
  out: number,
  rows: number,
  inner: number,
  columns: number,
) => void;

/** One instance per heap; null where ours cannot run. */
const products = new WeakMap<object, TransposedProduct | null>();

function heapMemory(backend: BackendWasm): WebAssembly.Memory | null {
  const memory = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

function instantiate(memory: WebAssembly.Memory): TransposedProduct | null {
  const bytes = Uint8Array.from(atob(MULTIPLY_BY_TRANSPOSED_WASM), (c) => c.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return null;
  try {
    // Under 1 KB, so compiling synchronously is allowed on a page's main thread too.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      tfjs: { memory },
    });
    return instance.exports.multiplyByTransposed as TransposedProduct;
  } catch {
    // A heap this module cannot import (a shared one, from tfjs's threaded build).
    return null;
  }
}

export function transposedProductOn(backend: BackendWasm): TransposedProduct | null {
  const memory = heapMemory(backend);
  if (!memory) return null;
  if (!products.has(memory)) products.set(memory, instantiate(memory));
  return products.get(memory)!;
}
