/**
 * A fix to tfjs's plain-JavaScript cpu backend, registered by `selectBackend`: its
 * `UnsortedSegmentSum` compares every input row with every segment (a loop per output element),
 * and the gradient of `tf.gather` over the loss's flattened logits is built on it, which made it
 * most of a cpu training step. The kernel registered here adds each row to its segment once.
 */
import * as tf from '@tensorflow/tfjs';

type Values = Float32Array | Int32Array;

/** What this kernel uses of the cpu backend: its tensors' values and a way to make an output. */
interface CpuBackend {
  data: { get(dataId: tf.DataId): { values: Values } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Values): tf.TensorInfo;
}

interface SegmentSumArgs {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: CpuBackend;
  attrs: { numSegments: number };
}

export function unsortedSegmentSum({ inputs, backend, attrs }: SegmentSumArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs;
  const ids = backend.data.get(segmentIds.dataId).values;
  const xValues = backend.data.get(x.dataId).values;
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const out =
    x.dtype === 'int32'
      ? new Int32Array(numSegments * rowSize)
      : new Float32Array(numSegments * rowSize);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i]!;
    // Like TensorFlow, ids outside [0, numSegments) contribute nothing.
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let j = 0; j < rowSize; j++) out[to + j] = out[to + j]! + xValues[from + j]!;
  }
  return backend.makeTensorInfo([numSegments, ...rowShape], x.dtype, out);
}

/** Whether the kernel below replaced the stock one (it is registered once per process). */
let registered = false;

/** Whether it runs (on) or hands each call to tfjs's own kernel (off, for benchmarks against stock). */
let ownEnabled = true;

export function setOwnCpuKernels(enabled: boolean): void {
  ownEnabled = enabled;
}

/** Calls our kernel has served in this process (tests check it really ran). */
let ownRuns = 0;

export function ownCpuKernelRuns(): number {
  return ownRuns;
}

export function registerCpuKernels(): void {
  const stock = tf.getKernel('UnsortedSegmentSum', 'cpu');
  if (registered || !stock) return;
  tf.unregisterKernel('UnsortedSegmentSum', 'cpu');
  const own = unsortedSegmentSum as unknown as tf.KernelFunc;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'cpu',
    kernelFunc: (args) => {
      if (!ownEnabled) return stock.kernelFunc(args);
      ownRuns++;
      return own(args);
    },
  });
  registered = true;
}
