/**
 * AdamW with decoupled weight decay (as in PyTorch's torch.optim.AdamW), learning-rate schedules
 * and global-norm gradient clipping. Clipping stays on the device: the scale is a tensor, so a
 * training step never waits for the GPU to report the gradient norm. On webgpu with our kernels
 * on, the update and the norm run fused programs (webgpuOptimizerKernels.ts); elsewhere, stock ops.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedAdamW, ownOptimizerKernelsActive, squaredNorms } from '../webgpuOptimizerKernels';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Applied only to parameters of rank ≥ 2 (matrices), never to norms' gains or biases. */
  weightDecay?: number;
}

export interface AdamWState {
  steps: number;
  /** One array per parameter, in the order the optimizer was given them. */
  firstMoments: Float32Array[];
  secondMoments: Float32Array[];
}

export type ScheduleKind = 'constant' | 'cosine';

export interface LearningRateSchedule {
  kind: ScheduleKind;
  peak: number;
  /** Steps of linear warmup from 0 to `peak`. */
  warmupSteps: number;
  /** All optimizer steps of the run; the cosine schedule reaches 0 at the last one. */
  totalSteps: number;
}

/**
 * The learning rate of 0-based optimizer step `step`, exactly as transformers'
 * get_constant_schedule_with_warmup / get_cosine_schedule_with_warmup give it.
 */
export function learningRateAt(step: number, schedule: LearningRateSchedule): number {
  const { kind, peak, warmupSteps, totalSteps } = schedule;
  if (step < warmupSteps) return (peak * step) / warmupSteps;
  if (kind === 'constant') return peak;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / decaySteps);
  return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * The factor that brings the joint L2 norm of `gradients` to at most `maxNorm` (1 when it is
 * within), and that norm: scalar tensors the caller disposes. `AdamW.step` takes the factor, so
 * clipping costs no pass over the gradients of its own.
 */
export function globalNormScale(
  gradients: tf.Tensor[],
  maxNorm: number,
): { scale: tf.Scalar; norm: tf.Scalar } {
  return tf.tidy(() => {
    // Not tf.addN: on webgpu it binds every input to one shader and silently sums wrong once
    // they outnumber the device's storage-buffer slots; stack (a concat) splits such inputs.
    const squares = ownOptimizerKernelsActive()
      ? squaredNorms(gradients)
      : tf.stack(gradients.map((g) => g.square().sum()));
    const norm = squares.sum().sqrt() as tf.Scalar;
    const scale = tf.minimum(1, tf.div(maxNorm, norm.add(1e-6))) as tf.Scalar;
    return { scale, norm };
  });
}

function zerosVariableLike(param: tf.Variable): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zerosLike(param), false));
}

export class AdamW {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly firstMoments: tf.Variable[];
  private readonly secondMoments: tf.Variable[];
  private stepsTaken = 0;

  constructor(
    private readonly params: tf.Variable[],
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.firstMoments = params.map((p) => zerosVariableLike(p));
    this.secondMoments = params.map((p) => zerosVariableLike(p));
  }

  get steps(): number {
    return this.stepsTaken;
  }

  /**
   * One update; `gradients[i]` belongs to the i-th parameter given to the constructor. With
   * `gradientScale` (see `globalNormScale`) every gradient is multiplied by it first.
   */
  step(gradients: tf.Tensor[], learningRate: number, gradientScale?: tf.Scalar): void {
    if (gradients.length !== this.params.length) {
      throw new Error(`AdamW got ${gradients.length} gradients for ${this.params.length} params`);
    }
    this.stepsTaken++;
    const t = this.stepsTaken;
    const correction1 = 1 - this.beta1 ** t;
    const correction2 = 1 - this.beta2 ** t;
    if (ownOptimizerKernelsActive()) {
      this.fusedStep(gradients, learningRate, correction1, correction2, gradientScale);
      return;
    }
    tf.tidy(() => {
      this.params.forEach((param, i) => {
        const gradient = gradientScale ? gradients[i]!.mul(gradientScale) : gradients[i]!;
        const m = this.firstMoments[i]!;
        const v = this.secondMoments[i]!;
        const newM = m.mul(this.beta1).add(gradient.mul(1 - this.beta1));
        const newV = v.mul(this.beta2).add(gradient.square().mul(1 - this.beta2));
        m.assign(newM);
        v.assign(newV);
        const update = newM
          .div(correction1)
          .div(newV.div(correction2).sqrt().add(this.epsilon))
          .mul(learningRate);
        const decayed =
          this.weightDecay > 0 && param.rank >= 2
            ? param.mul(1 - learningRate * this.weightDecay)
            : param;
        param.assign(decayed.sub(update));
      });
    });
  }

  /** The same update as one fused program per parameter; the variables take its outputs over. */
  private fusedStep(
    gradients: tf.Tensor[],
    learningRate: number,
    correction1: number,
    correction2: number,
    gradientScale: tf.Scalar | undefined,
  ): void {
    const slots = this.params.map((param, i) => ({
      param,
      firstMoment: this.firstMoments[i]!,
      secondMoment: this.secondMoments[i]!,
      gradient: gradients[i]!,
      decay: this.weightDecay > 0 && param.rank >= 2 ? 1 - learningRate * this.weightDecay : 1,
    }));
    const constants = {
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      learningRate,
      correction1,
      correction2,
    };
    tf.tidy(() => {
      fusedAdamW(slots, constants, gradientScale).forEach((updated, i) => {
        this.params[i]!.assign(updated.param);
        this.firstMoments[i]!.assign(updated.firstMoment);
        this.secondMoments[i]!.assign(updated.secondMoment);
      });
    });
  }

  /** The moments and step count, to save a run and resume it exactly where it stopped. */
  async exportState(): Promise<AdamWState> {
    const read = (moments: tf.Variable[]) =>
      Promise.all(moments.map(async (m) => (await m.data()) as Float32Array));
    return {
      steps: this.stepsTaken,
      firstMoments: await read(this.firstMoments),
      secondMoments: await read(this.secondMoments),
    };
  }

  loadState(state: AdamWState): void {
    const restore = (moments: tf.Variable[], values: Float32Array[], which: string) => {
      if (values.length !== moments.length) {
        throw new Error(`AdamW state has ${values.length} ${which} for ${moments.length} params`);
      }
      moments.forEach((m, i) => {
        if (values[i]!.length !== m.size) {
          throw new Error(
            `AdamW state: ${which} ${i} has ${values[i]!.length} values, not ${m.size}`,
          );
        }
        tf.tidy(() => m.assign(tf.tensor(values[i]!, m.shape, 'float32')));
      });
    };
    restore(this.firstMoments, state.firstMoments, 'first moments');
    restore(this.secondMoments, state.secondMoments, 'second moments');
    this.stepsTaken = state.steps;
  }

  dispose(): void {
    tf.dispose([...this.firstMoments, ...this.secondMoments]);
  }
}
