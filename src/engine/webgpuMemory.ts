/**
 * What tfjs's webgpu backend holds on the device, and giving back what it holds for nothing.
 *
 * Its BufferManager never returns a buffer to the device on its own: a freed tensor's buffer, a
 * program's uniform buffer and a read's staging buffer all go into a pool keyed by exact byte size
 * and usage, to be reused by the next request of that very size. A pass whose intermediates come
 * in many sizes (a training step's forward and backward) strands each size's buffers there once
 * it has run, and the pool only grows. tf.memory() reports `numBytesInGPU` (buffers in use,
 * those of live tensors and those an unsubmitted command still reads included) and
 * `numBytesAllocatedInGPU` (in use plus pooled). tfjs offers no way to empty the pool short of
 * disposing the backend, so `releasePooledWebGpuBuffers` does it on the manager's own maps.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

/** The BufferManager fields tfjs 4.22 keeps private. */
interface BufferPool {
  freeBuffers: Map<string, GPUBuffer[]>;
  numFreeBuffers: number;
  numBytesUsed: number;
  numBytesAllocated: number;
  acquireBuffer(
    size: number,
    usage: number,
    mappedAtCreation?: boolean,
    reuse?: boolean,
  ): GPUBuffer;
}

export interface WebGpuMemory {
  /** Bytes of buffers in use: live tensors, pending uniforms and staging buffers. */
  inUseBytes: number;
  /** Bytes of freed buffers the pool keeps for reuse. */
  pooledBytes: number;
  /** Pooled bytes of uniform buffers (a program's shapes and constants). */
  pooledUniformBytes: number;
  /** Pooled bytes of staging buffers for reads back to the CPU. */
  pooledStagingBytes: number;
}

function webGpuPool(): { backend: WebGPUBackend; pool: BufferPool } | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const backend = tf.backend() as WebGPUBackend;
  return { backend, pool: backend.bufferManager as unknown as BufferPool };
}

/** Sums the pooled buffers' bytes whose usage includes `flag` (all of them for 0). */
function pooledBytesWith(pool: BufferPool, flag: number): number {
  let bytes = 0;
  for (const buffers of pool.freeBuffers.values()) {
    for (const buffer of buffers) if (flag === 0 || buffer.usage & flag) bytes += buffer.size;
  }
  return bytes;
}

/** The webgpu backend's buffers now, or null on another backend. */
export function webGpuMemory(): WebGpuMemory | null {
  const found = webGpuPool();
  if (!found) return null;
  const { pool } = found;
  return {
    inUseBytes: pool.numBytesUsed,
    pooledBytes: pooledBytesWith(pool, 0),
    pooledUniformBytes: pooledBytesWith(pool, GPUBufferUsage.UNIFORM),
    pooledStagingBytes: pooledBytesWith(pool, GPUBufferUsage.MAP_READ),
  };
}

/**
 * Destroys every buffer the webgpu pool keeps for reuse and returns their bytes (0 on another
 * backend). Recorded commands are submitted first, so buffers they free join the pool and go too;
 * a destroyed buffer that submitted work still reads lives on in the device until that work is
 * done. Each size's list stays in the pool's map, emptied: the manager drops released buffers
 * outright when its map is empty (it takes that for having been disposed).
 */
export function releasePooledWebGpuBuffers(): number {
  const found = webGpuPool();
  if (!found) return 0;
  const { backend, pool } = found;
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  let released = 0;
  for (const buffers of pool.freeBuffers.values()) {
    for (const buffer of buffers) {
      released += buffer.size;
      buffer.destroy();
    }
    buffers.length = 0;
  }
  pool.numFreeBuffers = 0;
  pool.numBytesAllocated -= released;
  return released;
}

export interface WebGpuPeak {
  /** The most bytes in use at once since the tracking began. */
  inUseBytes: number;
  /** The most bytes allocated (in use plus pooled) at once. */
  allocatedBytes: number;
}

/**
 * Follows the webgpu pool's high-water marks from now on, checking after every buffer it hands
 * out; `stop` restores the pool and returns them. Null off webgpu.
 */
export function trackWebGpuPeak(): { stop(): WebGpuPeak } | null {
  const found = webGpuPool();
  if (!found) return null;
  const { pool } = found;
  const peak: WebGpuPeak = {
    inUseBytes: pool.numBytesUsed,
    allocatedBytes: pool.numBytesAllocated,
  };
  const acquire = pool.acquireBuffer;
  pool.acquireBuffer = function (...args) {
    const buffer = acquire.apply(this, args);
    peak.inUseBytes = Math.max(peak.inUseBytes, pool.numBytesUsed);
    peak.allocatedBytes = Math.max(peak.allocatedBytes, pool.numBytesAllocated);
    return buffer;
  };
  return {
    stop() {
      pool.acquireBuffer = acquire;
      return { ...peak };
    },
  };
}
