/**
 * Our optimizer kernels for tfjs's webgpu backend, under the same switch as our matmul
 * (`setOwnWebGpuKernels`). Run as stock ops, AdamW costs some fifteen element-wise kernels per
 * parameter and global-norm clipping a square, a sum and a scaling multiply per gradient: about
 * half of a small model's dispatches per training step.
 *
 * - `SealAdamW` updates every parameter and both its moments in one dispatch per parameter, all in
 *   one compute pass, with the clipping scale read from the device. A tfjs program writes a single
 *   output buffer, so this one is encoded here on the backend's device rather than through
 *   `runWebGPUProgram`; tfjs's pending commands are submitted first, so the update reads the
 *   gradients they compute. The new values go to fresh buffers which the variables take over
 *   (`assign` moves no data), as with the stock ops, so a tensor sharing a variable's data (a
 *   clone) keeps its values.
 * - `SealSquaredNorms` sums the squares of up to seven gradients per dispatch, one workgroup each,
 *   into one vector of squared norms.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { ownWebGpuKernelActive, reshapeOnBackend } from './webgpuKernels';

const ADAMW_KERNEL = 'SealAdamW';
const SQUARED_NORMS_KERNEL = 'SealSquaredNorms';

/** Invocations per workgroup of both programs. */
const WORKGROUP = 256;

/** Whether AdamW and clipping run our kernels: webgpu is active, they are registered and on. */
export function ownOptimizerKernelsActive(): boolean {
  return ownWebGpuKernelActive(ADAMW_KERNEL);
}

/** AdamW's per-step constants, exactly as the stock op sequence rounds them to float32. */
export interface AdamWConstants {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  /** 1 − β₁ᵗ and 1 − β₂ᵗ. */
  correction1: number;
  correction2: number;
}

export interface AdamWSlot {
  param: tf.Tensor;
  firstMoment: tf.Tensor;
  secondMoment: tf.Tensor;
  gradient: tf.Tensor;
  /** Factor of the parameter before the update (decoupled weight decay); 1 for none. */
  decay: number;
}

export interface AdamWUpdate {
  param: tf.Tensor;
  firstMoment: tf.Tensor;
  secondMoment: tf.Tensor;
}

/** Dispatches of `SealAdamW` in this process (tests check it really ran). */
let adamWDispatches = 0;

export function ownAdamWDispatches(): number {
  return adamWDispatches;
}

/** Dispatches of `SealSquaredNorms` in this process. */
let squaredNormDispatches = 0;

export function ownSquaredNormDispatches(): number {
  return squaredNormDispatches;
}

/**
 * One AdamW step of every slot: new tensors for each parameter and its moments. The gradients are
 * multiplied by `gradientScale` (a 1-element tensor) first when it is given.
 */
export function fusedAdamW(
  slots: AdamWSlot[],
  constants: AdamWConstants,
  gradientScale?: tf.Tensor,
): AdamWUpdate[] {
  const inputs: tf.NamedTensorMap = {};
  slots.forEach((slot, i) => {
    inputs[`param${i}`] = slot.param;
    inputs[`firstMoment${i}`] = slot.firstMoment;
    inputs[`secondMoment${i}`] = slot.secondMoment;
    inputs[`gradient${i}`] = slot.gradient;
  });
  if (gradientScale) inputs.gradientScale = gradientScale;
  const attrs = { ...constants, decays: slots.map((slot) => slot.decay) };
  const outputs = tf
    .engine()
    .runKernel(ADAMW_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return slots.map((_, i) => ({
    param: outputs[3 * i]!,
    firstMoment: outputs[3 * i + 1]!,
    secondMoment: outputs[3 * i + 2]!,
  }));
}

/** The squared L2 norm of each gradient, as one vector. */
export function squaredNorms(gradients: tf.Tensor[]): tf.Tensor1D {
  const inputs: tf.NamedTensorMap = {};
  gradients.forEach((g, i) => (inputs[`gradient${i}`] = g));
  return tf.engine().runKernel(SQUARED_NORMS_KERNEL, inputs) as tf.Tensor1D;
}

/** Bytes of the uniform block: the element count, then nine float32 constants. */
const ADAMW_UNIFORM_BYTES = 40;

function adamWSource(scaled: boolean): string {
  return `
struct Constants {
  size : u32,
  decay : f32,
  beta1 : f32,
  oneMinusBeta1 : f32,
  beta2 : f32,
  oneMinusBeta2 : f32,
  correction1 : f32,
  correction2 : f32,
  learningRate : f32,
  epsilon : f32,
};
@group(0) @binding(0) var<uniform> constants : Constants;
@group(0) @binding(1) var<storage, read> param : array<f32>;
@group(0) @binding(2) var<storage, read> firstMoment : array<f32>;
@group(0) @binding(3) var<storage, read> secondMoment : array<f32>;
@group(0) @binding(4) var<storage, read> gradient : array<f32>;
@group(0) @binding(5) var<storage, read_write> newParam : array<f32>;
@group(0) @binding(6) var<storage, read_write> newFirstMoment : array<f32>;
@group(0) @binding(7) var<storage, read_write> newSecondMoment : array<f32>;
${scaled ? '@group(0) @binding(8) var<storage, read> gradientScale : array<f32>;' : ''}

// The stock op sequence's order of operations, so only fused rounding may differ.
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id : vec3<u32>,
        @builtin(num_workgroups) groups : vec3<u32>) {
  let stride = groups.x * ${WORKGROUP}u;
  for (var i = id.x; i < constants.size; i = i + stride) {
    let g = gradient[i]${scaled ? ' * gradientScale[0]' : ''};
    let m = firstMoment[i] * constants.beta1 + g * constants.oneMinusBeta1;
    let v = secondMoment[i] * constants.beta2 + (g * g) * constants.oneMinusBeta2;
    newFirstMoment[i] = m;
    newSecondMoment[i] = v;
    let update = ((m / constants.correction1) / (sqrt(v / constants.correction2) + constants.epsilon)) *
        constants.learningRate;
    newParam[i] = param[i] * constants.decay - update;
  }
}
`;
}

/** Compiled once per device and variant (with or without a gradient scale). */
const adamWPipelines = new WeakMap<GPUDevice, Map<boolean, GPUComputePipeline>>();

function adamWPipeline(device: GPUDevice, scaled: boolean): GPUComputePipeline {
  let byVariant = adamWPipelines.get(device);
  if (!byVariant) adamWPipelines.set(device, (byVariant = new Map()));
  let pipeline = byVariant.get(scaled);
  if (!pipeline) {
    const module = device.createShaderModule({ code: adamWSource(scaled), label: ADAMW_KERNEL });
    pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
      label: ADAMW_KERNEL,
    });
    byVariant.set(scaled, pipeline);
  }
  return pipeline;
}

interface AdamWArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: WebGPUBackend;
  attrs: AdamWConstants & { decays: number[] };
}

function gpuBuffer(backend: WebGPUBackend, tensor: tf.TensorInfo): GPUBuffer {
  if (tensor.dtype !== 'float32')
    throw new Error(`${ADAMW_KERNEL} takes float32, not ${tensor.dtype}`);
  backend.uploadToGPU(tensor.dataId);
  const resource = backend.tensorMap.get(tensor.dataId).resource;
  if (!(resource instanceof GPUBuffer)) throw new Error(`${ADAMW_KERNEL} reads buffers only`);
  return resource;
}

function adamWKernel({ inputs, backend, attrs }: AdamWArgs): tf.TensorInfo[] {
  const { device } = backend;
  const count = attrs.decays.length;
  const scale = inputs.gradientScale;
  const pipeline = adamWPipeline(device, scale !== undefined);
  const slots = Array.from({ length: count }, (_, i) => {
    const [param, firstMoment, secondMoment, gradient] = [
      inputs[`param${i}`]!,
      inputs[`firstMoment${i}`]!,
      inputs[`secondMoment${i}`]!,
      inputs[`gradient${i}`]!,
    ];
    const outputs = [param, firstMoment, secondMoment].map((t) =>
      backend.makeTensorInfo(t.shape, 'float32'),
    );
    const buffers = [param, firstMoment, secondMoment, gradient, ...outputs].map((t) =>
      gpuBuffer(backend, t),
    );
    return { size: tf.util.sizeFromShape(param.shape), buffers, outputs };
  });
  const scaleBuffer = scale && gpuBuffer(backend, scale);

  const stride =
    Math.ceil(ADAMW_UNIFORM_BYTES / device.limits.minUniformBufferOffsetAlignment) *
    device.limits.minUniformBufferOffsetAlignment;
  const uniformData = new ArrayBuffer(stride * count);
  slots.forEach((slot, i) => {
    new Uint32Array(uniformData, stride * i, 1)[0] = slot.size;
    new Float32Array(uniformData, stride * i + 4, 9).set([
      attrs.decays[i]!,
      attrs.beta1,
      1 - attrs.beta1,
      attrs.beta2,
      1 - attrs.beta2,
      attrs.correction1,
      attrs.correction2,
      attrs.learningRate,
      attrs.epsilon,
    ]);
  });
  const uniforms = backend.bufferManager.acquireBuffer(
    uniformData.byteLength,
    GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  );
  backend.queue.writeBuffer(uniforms, 0, uniformData);

  // Everything tfjs has recorded so far (the gradients, any uploads) runs before the update.
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();

  const encoder = device.createCommandEncoder({ label: ADAMW_KERNEL });
  const pass = encoder.beginComputePass({ label: ADAMW_KERNEL });
  pass.setPipeline(pipeline);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  slots.forEach((slot, i) => {
    if (slot.size === 0) return;
    const storage = scaleBuffer ? [...slot.buffers, scaleBuffer] : slot.buffers;
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        {
          binding: 0,
          resource: { buffer: uniforms, offset: stride * i, size: ADAMW_UNIFORM_BYTES },
        },
        ...storage.map((buffer, b) => ({ binding: b + 1, resource: { buffer } })),
      ],
    });
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.min(Math.ceil(slot.size / WORKGROUP), maxGroups));
    adamWDispatches++;
  });
  pass.end();
  backend.queue.submit([encoder.finish()]);
  // Reuse is safe now: later writes to the buffer queue up behind this submission.
  backend.bufferManager.releaseBuffer(uniforms);
  return slots.flatMap((slot) => slot.outputs);
}

/**
 * One workgroup per gradient: each invocation sums squares along a strided slice, then the
 * workgroup adds its partial sums pairwise. Gradients arrive flattened; their lengths are the
 * shape uniforms tfjs declares for every input.
 */
class SquaredNormsProgram implements WebGPUProgram {
  variableNames: string[];
  uniforms = 'offset : i32,';
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  shaderKey: string;

  constructor(gradientCount: number, totalCount: number) {
    this.variableNames = Array.from({ length: gradientCount }, (_, i) => `G${i}`);
    this.outputShape = [totalCount];
    this.dispatch = [gradientCount, 1, 1];
    this.shaderKey = `sealSquaredNorms_${gradientCount}`;
  }

  getUserCode(): string {
    const sums = this.variableNames
      .map(
        (name, i) => `if (which == ${i}) {
          for (var i = i32(localIndex); i < uniforms.g${i}Shape; i = i + ${WORKGROUP}) {
            let x = ${name}[i];
            sum = sum + x * x;
          }
        }`,
      )
      .join(' else ');
    return `
  var<workgroup> partial : array<f32, ${WORKGROUP}>;

  fn main(index : i32) {
    let which = i32(workgroupId.x);
    var sum = 0.0;
    ${sums}
    partial[localIndex] = sum;
    workgroupBarrier();
    for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
      if (localIndex < width) {
        partial[localIndex] = partial[localIndex] + partial[localIndex + width];
      }
      workgroupBarrier();
    }
    if (localIndex == 0u) {
      result[uniforms.offset + which] = partial[0];
    }
  }
`;
  }
}

function squaredNormsKernel({
  inputs,
  backend,
}: {
  inputs: Record<string, tf.TensorInfo>;
  backend: WebGPUBackend;
}): tf.TensorInfo {
  const gradients = Object.keys(inputs).map((_, i) => inputs[`gradient${i}`]!);
  // Every gradient and the output take one storage binding each.
  const perDispatch = backend.device.limits.maxStorageBuffersPerShaderStage - 1;
  const output = backend.makeTensorInfo([gradients.length], 'float32');
  for (let start = 0; start < gradients.length; start += perDispatch) {
    const group = gradients
      .slice(start, start + perDispatch)
      .map((g) => reshapeOnBackend(backend, g, [tf.util.sizeFromShape(g.shape)]));
    const program = new SquaredNormsProgram(group.length, gradients.length);
    backend.runWebGPUProgram(program, group, 'float32', [{ type: 'int32', data: [start] }], output);
    squaredNormDispatches++;
    for (const flat of group) backend.disposeData(flat.dataId);
  }
  return output;
}

/** Registers both kernels for webgpu, once. */
export function registerWebGpuOptimizerKernels(): void {
  if (tf.getKernel(ADAMW_KERNEL, 'webgpu')) return;
  tf.registerKernel({
    kernelName: ADAMW_KERNEL,
    backendName: 'webgpu',
    kernelFunc: adamWKernel as unknown as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: SQUARED_NORMS_KERNEL,
    backendName: 'webgpu',
    kernelFunc: squaredNormsKernel as unknown as tf.KernelFunc,
  });
}
