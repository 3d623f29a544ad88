/**
 * Our inference kernels (the ops of decodeOps.ts) checked against the stock op sequences on the
 * running backend, in the same process: each kernel on the shapes a model gives it, then a small
 * random model's logits through a KV cache and its greedy decoding, with the kernel calls per
 * decoded token and tensor growth over repeated generations (`compareInference`, any backend);
 * on webgpu also the buffer pool left after them and our sampling program
 * (`compareWebGpuInference`); and any model's cached logits and greedy decoding of given prompts
 * (`compareDecoding`). The browser tests call the webgpu ones through the engine on SwiftShader,
 * the unit tests the others on wasm and cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { ownKernelsEnabled, setOwnKernels } from './backend';
import { relativeError, readAndDispose, withGpuErrors } from './kernelAgreement';
import { countKernelCalls } from './kernelCalls';
import type { ModelConfig } from './model/config';
import { generate, type GenerationModel } from './model/generate';
import { KvCache } from './model/kvCache';
import { attentionBias, forwardCached, groupedQueryAttention } from './model/llama';
import { applyRotary, rotaryAt, rotaryTable } from './model/rope';
import { GREEDY } from './model/sampling';
import { disposeModelWeights } from './model/weights';
import { streamSeed } from './random';
import { compareWebGpuSampling, type SamplingAgreement } from './samplingKernelCheck';
import { randomModelWeights, SMALL_LLAMA_CONFIG } from './train/randomModel';
import {
  fusedAttention,
  fusedHeads,
  fusedRmsNorm,
  fusedSwiGlu,
  fusedWriteSlots,
  ownInferenceKernelRuns,
} from './decodeOps';
import { webGpuMemory } from './webgpuMemory';

export interface KernelAgreement {
  label: string;
  /** max |ours − stock| / max |stock|. */
  relativeError: number;
  /** Whether our program ran (false: the stock ops did both). */
  ranOwnProgram: boolean;
  /** WebGPU's validation error while ours ran (a program that does not compile), if any. */
  gpuError: string | null;
}

export interface InferenceComparison {
  kernels: KernelAgreement[];
  /** Logits of a left-padded batch through the KV cache, prompt pass and decode steps. */
  logitsRelativeError: number;
  /** Greedy continuations, stock and ours, of each prompt (a padded batch, then one alone). */
  stockTokens: number[][];
  ownTokens: number[][];
  /** Tokens each greedy continuation decodes. */
  newTokens: number;
  /** Kernel calls per decoded token, stock and ours: GPU dispatches on webgpu, else tfjs kernels. */
  dispatchesPerToken: { stock: number; own: number };
  /** Tensors alive after one more generation with our kernels minus before it. */
  tensorGrowth: number;
}

export interface WebGpuInferenceComparison extends InferenceComparison {
  /** Bytes the webgpu buffer pool still kept for reuse after a generation. */
  pooledBytesAfterGeneration: number;
  /** Our sampling program against the CPU's choice (samplingKernelCheck.ts). */
  sampling: SamplingAgreement[];
}

/** A model decoding some prompts, ours against the stock ops. */
export interface DecodingComparison {
  /** Logits through the KV cache, prompt pass and every decode step: max |ours − stock| / max |stock|. */
  logitsRelativeError: number;
  /** Greedy continuations of each prompt. */
  stockTokens: number[][];
  ownTokens: number[][];
  /** Runs of our inference programs while decoding `ownTokens` (0: the stock ops ran). */
  ownKernelRuns: number;
}

const CONFIG: ModelConfig = SMALL_LLAMA_CONFIG;
const PROMPTS = [
  [5, 17, 99, 3, 250, 41, 7, 77, 12, 200, 8, 64],
  [9, 31, 2, 140, 66],
];
const NEW_TOKENS = 4;
/** Decode steps after the prompt pass whose logits are compared. */
const DECODE_STEPS = 3;

/** Ours runs first and inside a validation error scope (see kernelAgreement.ts). */
async function compareKernel(
  label: string,
  stock: () => tf.Tensor,
  ours: () => tf.Tensor,
): Promise<KernelAgreement> {
  const runsBefore = ownInferenceKernelRuns();
  const { value: actual, gpuError } = await withGpuErrors(() => readAndDispose(tf.tidy(ours)));
  const ranOwnProgram = ownInferenceKernelRuns() > runsBefore;
  const expected = await readAndDispose(tf.tidy(stock));
  return { label, relativeError: relativeError(actual, expected), ranOwnProgram, gpuError };
}

function uniform(shape: number[], seed: number, stream: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', streamSeed(seed, stream));
}

/** x [B, T, heads·d] → [B, heads, T, d], as llama.ts splits heads. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [batch, length, width] = x.shape as [number, number, number];
  return x.reshape([batch, length, heads, width / heads]).transpose([0, 2, 1, 3]);
}

/** `entries` written into `cache` along `axis` from `start` on, as the stock ops of kvCache.ts. */
function writtenByStockOps(cache: tf.Tensor, entries: tf.Tensor, start: number, axis: number) {
  const padding = entries.shape.map((): [number, number] => [0, 0]);
  padding[axis] = [start, cache.shape[axis]! - start - entries.shape[axis]!];
  return cache.add(tf.pad(entries, padding));
}

/** Slots of the KV cache the kernels are checked on. */
const CAPACITY = 64;
/** The slot of the decoded token the kernels are checked at, well past the prompt's first. */
const DECODE_SLOT = 17;

/** The prompts left-padded to one length, as generation feeds them: ids and mask [B, T]. */
function paddedPrompts(prompts: number[][]): { ids: number[]; mask: number[]; length: number } {
  const length = Math.max(...prompts.map((p) => p.length));
  const padding = (p: number[]) => Array<number>(length - p.length).fill(0);
  return {
    ids: prompts.flatMap((p) => [...padding(p), ...p]),
    mask: prompts.flatMap((p) => [...padding(p), ...p.map(() => 1)]),
    length,
  };
}

/**
 * One pass of the model over the KV cache: `length` tokens from slot `start` on, their position
 * ids [B, T] and the cache's slot mask [B, CAPACITY] once they are written.
 */
interface CachePass {
  start: number;
  length: number;
  positions: tf.Tensor2D;
  slotMask: tf.Tensor2D;
}

/** The left-padded prompt pass from slot 0 and a decode step in slot DECODE_SLOT. */
function cachePasses(): { prompt: CachePass; decode: CachePass } {
  const { length } = paddedPrompts(PROMPTS);
  const paddings = PROMPTS.map((p) => length - p.length);
  const pass = (start: number, count: number): CachePass => ({
    start,
    length: count,
    positions: tf.tensor2d(
      paddings.flatMap((padding) =>
        Array.from({ length: count }, (_, t) => Math.max(0, start + t - padding)),
      ),
      [PROMPTS.length, count],
      'int32',
    ),
    slotMask: tf.tensor2d(
      paddings.flatMap((padding) =>
        Array.from({ length: CAPACITY }, (_, s) => (s >= padding && s < start + count ? 1 : 0)),
      ),
      [PROMPTS.length, CAPACITY],
    ),
  });
  return { prompt: pass(0, length), decode: pass(DECODE_SLOT, 1) };
}

/**
 * Each kernel against the stock ops on the shapes the model gives it: a batch of left-padded
 * prompts, grouped-query attention (fewer key/value heads than query heads), the prompt pass
 * from slot 0 and a decode step at a later slot, the slot mask written from an int32 mask.
 */
async function compareKernels(): Promise<KernelAgreement[]> {
  const { hiddenSize, intermediateSize, headDim, numHeads, numKvHeads, rmsNormEps } = CONFIG;
  const batch = PROMPTS.length;
  const { prompt, decode } = cachePasses();
  const table = rotaryTable(CONFIG, CAPACITY);
  const hidden = uniform([batch, prompt.length, hiddenSize], 1, 0).mul(3);
  const normWeight = uniform([hiddenSize], 1, 1);
  const gate = uniform([batch, decode.length, intermediateSize], 2, 0).mul(4);
  const up = uniform([batch, decode.length, intermediateSize], 2, 1);
  const queryRow = uniform([batch, decode.length, numHeads * headDim], 3, 0);
  const keyRows = uniform([batch, prompt.length, numKvHeads * headDim], 3, 1);
  const valueRows = uniform([batch, prompt.length, numKvHeads * headDim], 3, 2);
  // The cache holds zeros from the decoded token's slot on.
  const keyCache = tf.tidy(() => {
    const used = tf.range(0, CAPACITY).less(decode.start).toFloat().reshape([1, 1, CAPACITY, 1]);
    return uniform([batch, numKvHeads, CAPACITY, headDim], 4, 0).mul(used);
  });
  const newKeys = uniform([batch, numKvHeads, decode.length, headDim], 4, 1);
  const emptySlotMask = tf.zeros([batch, CAPACITY]);
  const promptMask = tf.tensor2d(paddedPrompts(PROMPTS).mask, [batch, prompt.length], 'int32');
  const keys = uniform([batch, numKvHeads, CAPACITY, headDim], 5, 0);
  const values = uniform([batch, numKvHeads, CAPACITY, headDim], 5, 1);
  const queries = (pass: CachePass) =>
    uniform([batch, numHeads, pass.length, headDim], 5, 2).mul(3);
  const stockRotary = (x: tf.Tensor, heads: number, pass: CachePass) =>
    applyRotary(splitHeads(x, heads), rotaryAt(table, pass.positions));
  const ownRotary = (x: tf.Tensor, heads: number, pass: CachePass) =>
    fusedHeads(x as tf.Tensor3D, heads, { ...table, positions: pass.positions });
  const attention = (pass: CachePass) =>
    compareKernel(
      `attention, ${pass === prompt ? 'prompt pass' : 'decode step'}`,
      () =>
        groupedQueryAttention(
          queries(pass) as tf.Tensor4D,
          keys as tf.Tensor4D,
          values as tf.Tensor4D,
          attentionBias(pass.slotMask, pass.start, pass.length),
        ),
      () =>
        fusedAttention(
          queries(pass) as tf.Tensor4D,
          keys as tf.Tensor4D,
          values as tf.Tensor4D,
          pass.slotMask,
          pass.start,
        ),
    );
  try {
    return [
      await compareKernel(
        'rmsNorm',
        () => hidden.mul(hidden.square().mean(-1, true).add(rmsNormEps).rsqrt()).mul(normWeight),
        () => fusedRmsNorm(hidden, normWeight, rmsNormEps),
      ),
      await compareKernel(
        'swiGlu',
        () => gate.mul(tf.sigmoid(gate)).mul(up),
        () => fusedSwiGlu(gate, up),
      ),
      await compareKernel(
        'query heads with rotary, decode step',
        () => stockRotary(queryRow, numHeads, decode),
        () => ownRotary(queryRow, numHeads, decode),
      ),
      await compareKernel(
        'key heads with rotary, prompt pass',
        () => stockRotary(keyRows, numKvHeads, prompt),
        () => ownRotary(keyRows, numKvHeads, prompt),
      ),
      await compareKernel(
        'value heads, prompt pass',
        () => splitHeads(valueRows, numKvHeads),
        () => fusedHeads(valueRows as tf.Tensor3D, numKvHeads),
      ),
      await compareKernel(
        'key cache write, decode step',
        () => writtenByStockOps(keyCache, newKeys, decode.start, 2),
        () => fusedWriteSlots(keyCache, newKeys, decode.start, 2),
      ),
      // The cast keeps the mask's int32 buffer (tfjs only relabels it), as in KvCache.append.
      await compareKernel(
        'slot mask write from an int32 mask, prompt pass',
        () => writtenByStockOps(emptySlotMask, promptMask.toFloat(), prompt.start, 1),
        () => fusedWriteSlots(emptySlotMask, promptMask.toFloat(), prompt.start, 1),
      ),
      await attention(prompt),
      await attention(decode),
    ];
  } finally {
    tf.dispose([table.cos, table.sin, hidden, normWeight, gate, up, queryRow, keyRows, valueRows]);
    tf.dispose([keyCache, newKeys, emptySlotMask, promptMask, keys, values]);
    tf.dispose([prompt.positions, prompt.slotMask, decode.positions, decode.slotMask]);
  }
}

/**
 * Logits [B, vocab] of the left-padded prompts' pass through a KV cache and of each decode step
 * after it, feeding `fed[step]` (one token per prompt).
 */
async function cachedLogits(
  own: boolean,
  model: GenerationModel,
  prompts: number[][],
  fed: number[][],
): Promise<Float32Array> {
  setOwnKernels(own);
  const { ids, mask, length } = paddedPrompts(prompts);
  const batch = prompts.length;
  const cache = new KvCache(model.config, batch, CAPACITY);
  try {
    const steps = tf.tidy(() => {
      const logits = [
        forwardCached(
          model.config,
          model.weights,
          tf.tensor2d(ids, [batch, length], 'int32'),
          cache,
          {
            attentionMask: tf.tensor2d(mask, [batch, length], 'int32'),
          },
        ),
      ];
      for (const tokens of fed) {
        logits.push(
          forwardCached(
            model.config,
            model.weights,
            tf.tensor2d(tokens, [batch, 1], 'int32'),
            cache,
          ),
        );
      }
      return tf.concat(logits);
    });
    return await readAndDispose(steps);
  } finally {
    cache.dispose();
  }
}

async function greedyTokens(
  own: boolean,
  model: GenerationModel,
  prompts: number[][],
  newTokens: number,
): Promise<number[][]> {
  setOwnKernels(own);
  const result = await generate(model, prompts, {
    maxNewTokens: newTokens,
    sampling: GREEDY,
    stopTokenIds: [],
  });
  return result.sequences.map((s) => s.tokens);
}

/** Greedy continuations of the padded batch of PROMPTS, then of the first prompt alone. */
async function checkTokens(own: boolean, model: GenerationModel): Promise<number[][]> {
  const batch = await greedyTokens(own, model, PROMPTS, NEW_TOKENS);
  const alone = await greedyTokens(own, model, [PROMPTS[0]!], NEW_TOKENS);
  return [...batch, ...alone];
}

async function dispatchesPerToken(own: boolean, model: GenerationModel): Promise<number> {
  setOwnKernels(own);
  const decode = (maxNewTokens: number) =>
    countKernelCalls(() =>
      generate(model, [PROMPTS[0]!], { maxNewTokens, sampling: GREEDY, stopTokenIds: [] }),
    );
  const short = await decode(NEW_TOKENS);
  const long = await decode(2 * NEW_TOKENS);
  const calls = (count: typeof short) => count.gpuDispatches ?? count.tfjsKernels;
  return (calls(long) - calls(short)) / NEW_TOKENS;
}

/**
 * `model` decoding `prompts` (a left-padded batch) for `newTokens` greedy tokens, ours against the
 * stock ops: the cached logits of the prompt pass and of each decode step, fed stock's greedy
 * tokens. Leaves our kernels switched as it found them.
 */
export async function compareDecoding(
  model: GenerationModel,
  prompts: number[][],
  newTokens: number,
): Promise<DecodingComparison> {
  const wasEnabled = ownKernelsEnabled();
  try {
    const stockTokens = await greedyTokens(false, model, prompts, newTokens);
    const runsBefore = ownInferenceKernelRuns();
    const ownTokens = await greedyTokens(true, model, prompts, newTokens);
    const ownKernelRuns = ownInferenceKernelRuns() - runsBefore;
    const fed = Array.from({ length: newTokens - 1 }, (_, step) =>
      stockTokens.map((tokens) => tokens[step]!),
    );
    const stockLogits = await cachedLogits(false, model, prompts, fed);
    const ownLogits = await cachedLogits(true, model, prompts, fed);
    return {
      logitsRelativeError: relativeError(ownLogits, stockLogits),
      stockTokens,
      ownTokens,
      ownKernelRuns,
    };
  } finally {
    setOwnKernels(wasEnabled);
  }
}

/** `compare` run on a small random model with our kernels on, then switched as they were. */
async function withCheckModel<T>(compare: (model: GenerationModel) => Promise<T>): Promise<T> {
  const wasEnabled = ownKernelsEnabled();
  const model = { config: CONFIG, weights: randomModelWeights(CONFIG, 3, 0.2) };
  try {
    setOwnKernels(true);
    return await compare(model);
  } finally {
    setOwnKernels(wasEnabled);
    disposeModelWeights(model.weights);
  }
}

async function compareOn(model: GenerationModel): Promise<InferenceComparison> {
  // Fixed tokens fed to the decode steps after the prompt pass.
  const fed = Array.from({ length: DECODE_STEPS }, (_, step) =>
    PROMPTS.map((_, row) => (step * 37 + row * 11) % CONFIG.vocabSize),
  );
  const kernels = await compareKernels();
  const stockLogits = await cachedLogits(false, model, PROMPTS, fed);
  const ownLogits = await cachedLogits(true, model, PROMPTS, fed);
  const stockTokens = await checkTokens(false, model);
  const ownTokens = await checkTokens(true, model);
  const tensorsBefore = tf.memory().numTensors;
  await checkTokens(true, model);
  const tensorGrowth = tf.memory().numTensors - tensorsBefore;
  return {
    kernels,
    logitsRelativeError: relativeError(ownLogits, stockLogits),
    stockTokens,
    ownTokens,
    newTokens: NEW_TOKENS,
    dispatchesPerToken: {
      stock: await dispatchesPerToken(false, model),
      own: await dispatchesPerToken(true, model),
    },
    tensorGrowth,
  };
}

/**
 * Each kernel, a small model's cached logits and greedy decoding, kernel calls per decoded token
 * and tensor growth, ours against the stock ops on the active backend. Leaves our kernels
 * switched as it found them.
 */
export function compareInference(): Promise<InferenceComparison> {
  return withCheckModel(compareOn);
}

/**
 * `compareInference` on webgpu, with what the buffer pool kept after the last generation (while
 * the model is still loaded) and our sampling program.
 */
export async function compareWebGpuInference(): Promise<WebGpuInferenceComparison> {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`our webgpu kernels need the webgpu backend, not ${tf.getBackend()}`);
  }
  return withCheckModel(async (model) => {
    const comparison = await compareOn(model);
    const pooledBytesAfterGeneration = webGpuMemory()!.pooledBytes;
    return { ...comparison, pooledBytesAfterGeneration, sampling: await compareWebGpuSampling() };
  });
}
