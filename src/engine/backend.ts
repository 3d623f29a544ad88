/**
 * Backend selection: WebGPU first, then WASM (SIMD), then plain CPU. Every step that fails leaves
 * a reason, so the UI can say why it fell back. "auto" skips a software WebGPU adapter
 * (SwiftShader on a machine without a GPU): it runs far slower than WASM.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BACKENDS, type BackendName, type BackendRequest } from './backendChoice';
import { registerCpuKernels, setOwnCpuKernels } from './cpuKernels';
import { registerWasmKernels, setOwnWasmKernels } from './wasmKernels';
import {
  ownWebGpuKernelsEnabled,
  registerWebGpuKernels,
  setOwnWebGpuKernels,
} from './webgpuKernels';
import { registerWebGpuInferenceKernels } from './webgpuDecodeKernels';
import { registerWebGpuOptimizerKernels } from './webgpuOptimizerKernels';
import { registerWebGpuSamplingKernel } from './webgpuSampling';
import { registerWebGpuTrainingKernels } from './webgpuTrainingKernels';
import { registerHostTrainingKernels } from './hostTrainingKernels';
import { registerWebGpuFloat16Kernels } from './webgpuFloat16Kernels';
import { registerHostFloat16Kernels } from './float16HostKernels';
import { registerHostInferenceKernels } from './hostDecodeKernels';
import { setOwnHostKernels } from './decodeOps';

export type { BackendName, BackendRequest } from './backendChoice';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  shaderF16: boolean;
}

export interface BackendInfo {
  requested: BackendRequest;
  active: BackendName;
  /** Set when WebGPU answered, whether or not it ended up active. */
  adapter: AdapterDescription | null;
  /** One line per backend that was tried before the active one, saying why it was skipped. */
  fallbackReasons: string[];
  wasmSimd: boolean | null;
}

/** Where the browser finds the WASM binaries; Node finds them next to the package. */
export type WasmPaths = Partial<
  Record<
    | 'tfjs-backend-wasm.wasm'
    | 'tfjs-backend-wasm-simd.wasm'
    | 'tfjs-backend-wasm-threaded-simd.wasm',
    string
  >
>;

export async function describeWebGpuAdapter(): Promise<AdapterDescription> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error('this browser exposes no WebGPU (navigator.gpu is missing)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU is present but no adapter was granted');
  const info = adapter.info;
  const legacyFallbackFlag = (adapter as unknown as { isFallbackAdapter?: boolean })
    .isFallbackAdapter;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter:
      (info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      legacyFallbackFlag ??
      false,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    shaderF16: adapter.features.has('shader-f16'),
  };
}

/** A tiny computation whose answer is known, run on the new backend before trusting it. */
async function smokeTest(): Promise<void> {
  const product = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
  const [value] = await product.data();
  product.dispose();
  if (value !== 11) throw new Error(`smoke test computed 1·3+2·4 = ${value}`);
}

async function activate(name: BackendName): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  await smokeTest();
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Switches the kernels we register over tfjs's webgpu, wasm and cpu ones on or off; off leaves
 * only what tfjs lacks outright (wasm's UnsortedSegmentSum). Benchmarks use it to time the same
 * step on stock kernels; everything else runs with ours.
 */
export function setOwnKernels(enabled: boolean): void {
  setOwnWebGpuKernels(enabled);
  setOwnWasmKernels(enabled);
  setOwnCpuKernels(enabled);
  setOwnHostKernels(enabled);
}

/** Whether `setOwnKernels` last switched our kernels on (it switches every backend's together). */
export function ownKernelsEnabled(): boolean {
  return ownWebGpuKernelsEnabled();
}

export async function selectBackend(
  requested: BackendRequest,
  options: { wasmPaths?: WasmPaths } = {},
): Promise<BackendInfo> {
  // Threaded WASM breaks inside minified bundles and brings nothing on small core counts.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (options.wasmPaths) setWasmPaths(options.wasmPaths);
  registerWasmKernels();
  registerCpuKernels();
  registerWebGpuKernels();
  registerWebGpuOptimizerKernels();
  registerWebGpuInferenceKernels();
  registerWebGpuSamplingKernel();
  registerWebGpuTrainingKernels();
  registerWebGpuFloat16Kernels();
  registerHostFloat16Kernels();
  registerHostInferenceKernels();
  registerHostTrainingKernels();

  const order: BackendName[] =
    requested === 'auto' ? [...BACKENDS] : [requested, ...BACKENDS.filter((b) => b !== requested)];
  const fallbackReasons: string[] = [];
  let adapter: AdapterDescription | null = null;

  for (const name of order) {
    try {
      if (name === 'webgpu') {
        adapter = await describeWebGpuAdapter();
        if (requested === 'auto' && adapter.isFallbackAdapter) {
          throw new Error(
            'the only WebGPU adapter is a software fallback (no GPU), far slower than WASM; ' +
              'add ?backend=webgpu to the address to use it anyway',
          );
        }
      }
      await activate(name);
      return {
        requested,
        active: name,
        adapter,
        fallbackReasons,
        wasmSimd: name === 'wasm' ? Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT')) : null,
      };
    } catch (error) {
      fallbackReasons.push(`${name}: ${reasonOf(error)}`);
    }
  }
  throw new Error(`No backend could start. ${fallbackReasons.join('; ')}`);
}
