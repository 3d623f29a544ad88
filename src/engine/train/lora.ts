/**
 * LoRA adapters (Hu et al., 2021) in PEFT's layout: for a linear with weight W [out, in], an
 * adapter adds `scale · dropout(x) · Aᵀ · Bᵀ` to `x · Wᵀ`, with A [r, in], B [out, r] and
 * scale = alpha / r. The sum W + scale·B·A is never formed during training: it plugs into the
 * forward pass through the `LinearAdapter` hook, so one base model serves any number of adapters.
 */
import * as tf from '@tensorflow/tfjs';
import type { LinearAdapter } from '../model/llama';
import { logicalShape, unpackHalves } from '../model/float16';
import { assignWideWeight, weightStorageOf, type ModelWeights } from '../model/weights';
import { streamSeed } from '../random';
import { isLoraTarget, LORA_TARGETS, type LoraTarget } from './targets';

export interface LoraSettings {
  /** Projection names, as in PEFT's `target_modules`. */
  targets: string[];
  rank: number;
  alpha: number;
  dropout: number;
}

export interface LoraModule {
  /** HF module path, e.g. 'model.layers.3.self_attn.q_proj'. */
  path: string;
  /** [rank, in] */
  a: tf.Variable;
  /** [out, rank] */
  b: tf.Variable;
}

const LINEAR_WEIGHT = /^(model\.layers\.\d+\.(?:self_attn|mlp)\.(\w+))\.weight$/;

/** Module paths of the model's linears named `target`, in layer order. */
function linearPaths(weights: ModelWeights, target: string): string[] {
  const paths: string[] = [];
  for (const name of weights.keys()) {
    const match = LINEAR_WEIGHT.exec(name);
    if (match && match[2] === target) paths.push(match[1]!);
  }
  return paths;
}

/**
 * The projection a module path names when LoRA applies to it (a q/k/v/o/gate/up/down linear of
 * a decoder layer), else null: the forward pass consults adapters on those linears only.
 */
export function loraTargetOf(path: string): LoraTarget | null {
  const name = LINEAR_WEIGHT.exec(`${path}.weight`)?.[2];
  return name !== undefined && isLoraTarget(name) ? name : null;
}

/** The size of one module's A [rank, in] and B [out, rank], as a file or an adapter holds them. */
export interface LoraModuleShape {
  path: string;
  inFeatures: number;
  outFeatures: number;
}

/**
 * Checks that every module is a linear LoRA applies to, among `targets`, with the shape of the
 * model's linear: a module elsewhere (e.g. on the embeddings) would do nothing while the adapter
 * is active, yet change the model when merged.
 */
export function checkModulesFit(
  modules: Iterable<LoraModuleShape>,
  targets: readonly string[],
  weights: ModelWeights,
): void {
  for (const { path, inFeatures, outFeatures } of modules) {
    const target = loraTargetOf(path);
    if (target === null) {
      throw new Error(
        `adapter module '${path}' is not one LoRA applies to (the ${LORA_TARGETS.join(', ')} linears of the decoder layers)`,
      );
    }
    if (!targets.includes(target)) {
      throw new Error(
        `adapter module '${path}' is a ${target}, which the adapter's targets (${targets.join(', ')}) do not name`,
      );
    }
    const base = weights.get(`${path}.weight`);
    if (!base) throw new Error(`the model has no linear '${path}' for this adapter`);
    const [modelOut, modelIn] = logicalShape(base);
    if (inFeatures !== modelIn || outFeatures !== modelOut) {
      throw new Error(
        `adapter for '${path}' is [${outFeatures}×${inFeatures}], the model's linear is [${modelOut}×${modelIn}]`,
      );
    }
  }
}

export function validateLoraSettings(settings: LoraSettings): void {
  const { targets, rank, alpha, dropout } = settings;
  if (!Number.isInteger(rank) || rank < 1) {
    throw new Error(`LoRA rank must be a positive integer, got ${rank}`);
  }
  if (!(alpha > 0)) throw new Error(`LoRA alpha must be positive, got ${alpha}`);
  if (!(dropout >= 0 && dropout < 1)) {
    throw new Error(`LoRA dropout must be in [0, 1), got ${dropout}`);
  }
  if (targets.length === 0) throw new Error('LoRA needs at least one target module');
}

export class LoraAdapter implements LinearAdapter {
  readonly scale: number;
  /** Set while training: each forward pass then draws its dropout masks from this seed. */
  private dropoutSeed: number | null = null;
  private dropoutCalls = 0;

  private constructor(
    readonly settings: LoraSettings,
    readonly modules: Map<string, LoraModule>,
  ) {
    this.scale = settings.alpha / settings.rank;
  }

  /**
   * A fresh adapter on `weights`' linears named in `settings.targets`: A drawn like PEFT
   * (kaiming-uniform with a = √5, i.e. U(±1/√in)), B zero, so it starts as the identity.
   */
  static create(weights: ModelWeights, settings: LoraSettings, seed: number): LoraAdapter {
    validateLoraSettings(settings);
    const paths: string[] = [];
    for (const target of settings.targets) {
      const found = linearPaths(weights, target);
      if (found.length === 0) {
        const known = LORA_TARGETS.filter((t) => linearPaths(weights, t).length > 0);
        throw new Error(
          `LoRA target '${target}' is not a linear of this model; it has: ${known.join(', ')}`,
        );
      }
      paths.push(...found);
    }
    const modules = new Map<string, LoraModule>();
    for (const path of paths) {
      const weight = weights.get(`${path}.weight`)!;
      const [outFeatures, inFeatures] = logicalShape(weight) as [number, number];
      modules.set(path, {
        path,
        a: tf.tidy(() => tf.variable(tf.zeros([settings.rank, inFeatures]), true)),
        b: tf.tidy(() => tf.variable(tf.zeros([outFeatures, settings.rank]), true)),
      });
    }
    const adapter = new LoraAdapter({ ...settings, targets: [...settings.targets] }, modules);
    adapter.reset(seed);
    return adapter;
  }

  /** Wraps given tensors (e.g. read from a file) as an adapter; it takes ownership of them. */
  static fromTensors(
    settings: LoraSettings,
    tensors: { path: string; a: tf.Tensor2D; b: tf.Tensor2D }[],
  ): LoraAdapter {
    validateLoraSettings(settings);
    const modules = new Map<string, LoraModule>();
    for (const { path, a, b } of tensors) {
      modules.set(path, { path, a: tf.variable(a, true), b: tf.variable(b, true) });
      // The variables hold their own reference to the data.
      tf.dispose([a, b]);
    }
    return new LoraAdapter({ ...settings, targets: [...settings.targets] }, modules);
  }

  /** Checks that every module fits `weights` (see `checkModulesFit`). */
  checkFits(weights: ModelWeights): void {
    const shapes = [...this.modules.values()].map(({ path, a, b }) => ({
      path,
      inFeatures: a.shape[1]!,
      outFeatures: b.shape[0]!,
    }));
    checkModulesFit(shapes, this.settings.targets, weights);
  }

  /** Re-initialises every A from `seed` and zeroes every B, in place. */
  reset(seed: number): void {
    let index = 0;
    for (const { a, b } of this.modules.values()) {
      const bound = 1 / Math.sqrt(a.shape[1]!);
      const moduleSeed = streamSeed(seed, index++);
      tf.tidy(() => {
        a.assign(tf.randomUniform(a.shape, -bound, bound, 'float32', moduleSeed));
        b.assign(tf.zerosLike(b));
      });
    }
  }

  clone(): LoraAdapter {
    const modules = new Map<string, LoraModule>();
    for (const { path, a, b } of this.modules.values()) {
      modules.set(path, {
        path,
        a: tf.tidy(() => tf.variable(a.clone(), true)),
        b: tf.tidy(() => tf.variable(b.clone(), true)),
      });
    }
    return new LoraAdapter({ ...this.settings, targets: [...this.settings.targets] }, modules);
  }

  /** The trainable tensors, in a stable order (module order, A before B). */
  variables(): tf.Variable[] {
    return [...this.modules.values()].flatMap(({ a, b }) => [a, b]);
  }

  /** Turns dropout on with masks drawn from `seed` (one per training step), or off with null. */
  setDropoutSeed(seed: number | null): void {
    this.dropoutSeed = seed;
    this.dropoutCalls = 0;
  }

  adapt(path: string, input: tf.Tensor, output: tf.Tensor): tf.Tensor {
    const module = this.modules.get(path);
    if (!module) return output;
    const inFeatures = input.shape[input.rank - 1]!;
    let rows = input.reshape([-1, inFeatures]) as tf.Tensor2D;
    if (this.dropoutSeed !== null && this.settings.dropout > 0) {
      const seed = streamSeed(this.dropoutSeed, this.dropoutCalls++);
      rows = tf.dropout(rows, this.settings.dropout, undefined, seed) as tf.Tensor2D;
    }
    const delta = rows
      .matMul(module.a, false, true)
      .mul(this.scale)
      .matMul(module.b, false, true)
      .reshape(output.shape);
    return output.add(delta);
  }

  /**
   * W + scale·B·A (float32) for the module at `path`, or null when this adapter does not touch
   * it; W may be stored as halves.
   */
  mergedWeight(path: string, base: tf.Tensor): tf.Tensor | null {
    const module = this.modules.get(path);
    if (!module) return null;
    return tf.tidy(() => unpackHalves(base).add(module.b.matMul(module.a).mul(this.scale)));
  }

  /**
   * Adds scale·B·A into the base weights in place; the model then behaves as base + adapter
   * (rounded to float16 where the weights are stored as halves).
   */
  mergeInto(weights: ModelWeights): void {
    this.checkFits(weights);
    for (const path of this.modules.keys()) {
      const base = weights.get(`${path}.weight`)!;
      tf.tidy(() => assignWideWeight(base, this.mergedWeight(path, base)!));
    }
  }

  dispose(): void {
    tf.dispose(this.variables());
  }
}

/** Runs `use` with a fresh adapter on `weights`, and frees the adapter after, whatever happens. */
export async function withFreshLora<T>(
  weights: ModelWeights,
  settings: LoraSettings,
  seed: number,
  use: (adapter: LoraAdapter) => Promise<T>,
): Promise<T> {
  const adapter = LoraAdapter.create(weights, settings, seed);
  try {
    return await use(adapter);
  } finally {
    adapter.dispose();
  }
}

/** Refuses weights stored as float16 halves, which full fine-tuning cannot train. */
export function checkFullyTrainable(weights: ModelWeights): void {
  if (weightStorageOf(weights) === 'float16') {
    throw new Error(
      'full fine-tuning needs float32 weights, and this model keeps its matrices as float16: reload it with float32 weights, or train a LoRA adapter (which works on float16 weights)',
    );
  }
}

/**
 * Makes every base weight trainable (full fine-tuning) or frozen again; returns them. Weights
 * stored as float16 halves are refused before anything changes.
 */
export function setBaseTrainable(weights: ModelWeights, trainable: boolean): tf.Variable[] {
  if (trainable) checkFullyTrainable(weights);
  for (const variable of weights.values()) variable.trainable = trainable;
  return [...weights.values()];
}
