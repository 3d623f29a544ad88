/**
 * Sampling on the GPU: one program picks each row's next token from its logits, so a decode step
 * reads back one int32 per row. Stock tfjs would run a softmax and a bitonic top-k (some fifty
 * dispatches for top-256 of a 512-token vocabulary) and read back the candidates.
 *
 * The choice is `chooseToken`'s (sampling.ts) on the full row: tokens ordered by falling
 * probability, ties by rising id; top-k keeps the first k; top-p the fewest first ones whose
 * probability reaches p of what top-k kept; the draw u picks the first token whose running sum
 * passes u times the kept mass. No sort is needed for that. Each cut is "the first token, in that
 * order, at which a running sum (of probabilities, or of ones for top-k) reaches a threshold",
 * and the running sum up to a token only depends on which tokens come before it: a bisection over
 * the probability's bits finds the cut's probability (~32 passes over the row, each a workgroup
 * sum), then a bisection over ids finds which of the tokens tied at that probability it is.
 *
 * Greedy is one pass: the first token of highest logit.
 *
 * One workgroup per row; the row's sums are added in a fixed order, so a seed gives the same
 * tokens run after run. They are the CPU's tokens except where a draw falls within float
 * rounding of the boundary between two tokens (the CPU adds probabilities one by one in float64).
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { run } from './decodeOps';
import { registerOnWebGpu } from './webgpuDecodeKernels';
import { ownWebGpuKernelActive } from './webgpuKernels';

const SAMPLE_KERNEL = 'SealSample';
const WORKGROUP = 64;

/** Runs of the program in this process (tests check it really ran). */
let sampleRuns = 0;

export function ownSamplingRuns(): number {
  return sampleRuns;
}

/** Whether `sampleOnDevice` runs our program (webgpu, our kernels switched on). */
export function deviceSamplingActive(): boolean {
  return ownWebGpuKernelActive(SAMPLE_KERNEL);
}

export interface DeviceSamplingOptions {
  /** 0: greedy (the first token of highest logit). */
  temperature: number;
  /** 0: off. */
  topK: number;
  /** 1: off. */
  topP: number;
}

class SampleProgram implements WebGPUProgram {
  variableNames = ['L', 'U'];
  uniforms = 'temperature : f32, topK : i32, topP : f32, idSteps : i32,';
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  shaderKey = 'sealSample';

  constructor(rows: number) {
    this.outputShape = [rows];
    this.dispatch = [rows, 1, 1];
  }

  getUserCode(): string {
    return `
  var<workgroup> partial : array<f32, ${WORKGROUP}>;
  var<workgroup> partialIds : array<i32, ${WORKGROUP}>;
  var<private> rowBase : i32;
  var<private> vocab : i32;
  var<private> rowMax : f32;
  var<private> rowSum : f32;

  // A cut is a token (x: its order key, y: its id); the tokens "within" it come before it in
  // the order or are it. NO_CUT has every token within it.
  const NO_CUT = vec2<u32>(0u, 0xffffffffu);

  fn workgroupSum(value : f32) -> f32 {
    partial[localIndex] = value;
    workgroupBarrier();
    for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
      if (localIndex < width) {
        partial[localIndex] = partial[localIndex] + partial[localIndex + width];
      }
      workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
  }

  // Whether token (value, id) comes before (otherValue, otherId) by falling value, then rising
  // id; id -1 stands for no token.
  fn before(value : f32, id : i32, otherValue : f32, otherId : i32) -> bool {
    return id >= 0 && (otherId < 0 || value > otherValue || (value == otherValue && id < otherId));
  }

  // The first token of highest logit, in one pass.
  fn argMax() -> i32 {
    var bestValue = 0.0;
    var bestId = -1;
    for (var i = i32(localIndex); i < vocab; i = i + ${WORKGROUP}) {
      let value = f32(L[rowBase + i]);
      if (before(value, i, bestValue, bestId)) {
        bestValue = value;
        bestId = i;
      }
    }
    partial[localIndex] = bestValue;
    partialIds[localIndex] = bestId;
    workgroupBarrier();
    for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
      if (localIndex < width) {
        let other = localIndex + width;
        if (before(partial[other], partialIds[other], partial[localIndex], partialIds[localIndex])) {
          partial[localIndex] = partial[other];
          partialIds[localIndex] = partialIds[other];
        }
      }
      workgroupBarrier();
    }
    return partialIds[0];
  }

  fn workgroupMax(value : f32) -> f32 {
    partial[localIndex] = value;
    workgroupBarrier();
    for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
      if (localIndex < width) {
        partial[localIndex] = max(partial[localIndex], partial[localIndex + width]);
      }
      workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
  }

  // The probability of token i, as tf.softmax(logits / temperature) computes it.
  fn valueAt(i : i32) -> f32 {
    return exp(f32(L[rowBase + i]) / uniforms.temperature - rowMax) / rowSum;
  }

  // Float bits mapped so that unsigned order is the floats' order.
  fn orderKey(value : f32) -> u32 {
    let bits = bitcast<u32>(value);
    return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
  }

  fn valueOfKey(key : u32) -> f32 {
    return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
  }

  fn within(key : u32, id : u32, cut : vec2<u32>) -> bool {
    return key > cut.x || (key == cut.x && id <= cut.y);
  }

  // Weights (probabilities, or ones when counting) of the tokens within limit whose key is at
  // least level or, with atLevel, whose key is level and id at most lastId.
  fn weightOf(limit : vec2<u32>, level : u32, atLevel : bool, lastId : u32, counting : bool)
      -> f32 {
    var sum = 0.0;
    for (var i = i32(localIndex); i < vocab; i = i + ${WORKGROUP}) {
      let value = valueAt(i);
      let key = orderKey(value);
      let id = u32(i);
      let selected = select(key >= level, key == level && id <= lastId, atLevel);
      if (selected && within(key, id, limit)) {
        sum = sum + select(value, 1.0, counting);
      }
    }
    return workgroupSum(sum);
  }

  fn reaches(sum : f32, threshold : f32, strict : bool) -> bool {
    return select(sum >= threshold, sum > threshold, strict);
  }

  // The first token within limit at which the running sum of weights reaches threshold (passes
  // it, when strict); limit itself when no token does.
  fn firstReaching(threshold : f32, strict : bool, counting : bool, limit : vec2<u32>)
      -> vec2<u32> {
    let reachable = reaches(weightOf(limit, 0u, false, 0u, counting), threshold, strict);
    // The cut's key: the highest level whose tokens at or above it reach the threshold.
    var low = 0u;
    var high = 0xffffffffu;
    for (var step = 0; step < 32; step++) {
      let middle = low + (high - low) / 2u;
      if (reaches(weightOf(limit, middle, false, 0u, counting), threshold, strict)) {
        low = middle;
      } else {
        high = middle;
      }
    }
    let level = low;
    // Which of the tokens tied at that level: the n-th by id, n the fewest that reach.
    let above = weightOf(limit, level + 1u, false, 0u, counting);
    let ties = weightOf(limit, level, true, 0xffffffffu, true);
    let weight = select(valueOfKey(level), 1.0, counting);
    let needed = (threshold - above) / weight;
    let n = clamp(select(ceil(needed), floor(needed) + 1.0, strict), 1.0, max(ties, 1.0));
    var before = -1;
    var last = vocab - 1;
    for (var step = 0; step < uniforms.idSteps; step++) {
      let middle = before + (last - before) / 2;
      // Every invocation takes part in the sum (it holds a barrier), settled or not.
      let enough = weightOf(limit, level, true, u32(max(middle, 0)), true) >= n;
      if (last - before > 1) {
        if (enough) {
          last = middle;
        } else {
          before = middle;
        }
      }
    }
    return select(limit, vec2<u32>(level, u32(last)), reachable);
  }

  fn main(index : i32) {
    let row = ${'i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x)'};
    vocab = uniforms.lShape.y;
    rowBase = row * vocab;
    if (uniforms.temperature == 0.0) {
      let best = argMax();
      if (localIndex == 0u) {
        result[row] = best;
      }
      return;
    }
    var localMax = -3.402823e38;
    for (var i = i32(localIndex); i < vocab; i = i + ${WORKGROUP}) {
      localMax = max(localMax, f32(L[rowBase + i]) / uniforms.temperature);
    }
    rowMax = workgroupMax(localMax);
    rowSum = 1.0;
    var localSum = 0.0;
    for (var i = i32(localIndex); i < vocab; i = i + ${WORKGROUP}) {
      localSum = localSum + valueAt(i);
    }
    rowSum = workgroupSum(localSum);

    let count = select(vocab, min(uniforms.topK, vocab), uniforms.topK > 0);
    let topK = firstReaching(f32(count), false, true, NO_CUT);
    let total = weightOf(topK, 0u, false, 0u, false);
    var kept = topK;
    var keptMass = total;
    if (uniforms.topP < 1.0) {
      kept = firstReaching(uniforms.topP * total, false, false, topK);
      keptMass = weightOf(kept, 0u, false, 0u, false);
    }
    let chosen = firstReaching(f32(U[row]) * keptMass, true, false, kept);
    if (localIndex == 0u) {
      result[row] = i32(chosen.y);
    }
  }
`;
  }
}

function sampleKernel({
  inputs,
  backend,
  attrs,
}: {
  inputs: Record<string, tf.TensorInfo>;
  backend: WebGPUBackend;
  attrs: DeviceSamplingOptions;
}): tf.TensorInfo {
  const { logits, draws } = inputs as { logits: tf.TensorInfo; draws: tf.TensorInfo };
  const [rows, vocab] = logits.shape as [number, number];
  sampleRuns++;
  return backend.runWebGPUProgram(new SampleProgram(rows), [logits, draws], 'int32', [
    { type: 'float32', data: [attrs.temperature] },
    { type: 'int32', data: [attrs.topK] },
    { type: 'float32', data: [attrs.topP] },
    { type: 'int32', data: [Math.ceil(Math.log2(vocab)) + 1] },
  ]);
}

/**
 * Each row's next token from logits [rows, vocab], drawn with `draws[row]` (uniform in [0, 1);
 * ignored when greedy), as an int32 tensor [rows]. Needs `deviceSamplingActive()`.
 */
export function sampleOnDevice(
  logits: tf.Tensor2D,
  draws: tf.Tensor1D,
  options: DeviceSamplingOptions,
): tf.Tensor1D {
  return run(SAMPLE_KERNEL, { logits, draws }, { ...options });
}

/** Registers the program for webgpu, once. */
export function registerWebGpuSamplingKernel(): void {
  registerOnWebGpu([[SAMPLE_KERNEL, sampleKernel]]);
}
