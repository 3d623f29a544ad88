/**
 * Pretraining from scratch: whole documents packed into rows of at most `sequenceLength` tokens,
 * next-token loss on every token, every weight trained with AdamW (linear warmup, then cosine).
 * The data order is a function of the seed and a cursor (epoch, row) alone, so a run saved with
 * `exportCheckpoint` and restored with `restoreCheckpoint` continues exactly as if it had never
 * stopped. The loss, clipping and optimizer are the fine-tuning ones.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config';
import {
  parseSafetensors,
  serializeSafetensors,
  type NamedFloat32Tensor,
} from '../model/safetensors';
import type { ModelWeights } from '../model/weights';
import { streamSeed } from '../random';
import { createRng } from '../world/random';
import { setBaseTrainable } from './lora';
import { AdamW, globalNormScale, learningRateAt, type AdamWState } from './optimizer';
import { makeBatch, weightedTokenLoss } from './sft';
import { variableGrads } from './gradients';

export interface PretrainOptions {
  /** Longest row in tokens; documents are packed whole into rows (longer ones are cut). */
  sequenceLength: number;
  /** Rows per optimizer step. */
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  /** Steps of the whole run: the cosine schedule reaches 0 at the last one. */
  totalSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Drives the document order of every epoch. */
  seed: number;
}

/** Where the next step's rows start: row `row` of epoch `epoch`'s packing. */
export interface DataCursor {
  epoch: number;
  row: number;
}

export interface PretrainState {
  /** Optimizer steps taken. */
  step: number;
  cursor: DataCursor;
  /** Tokens trained on so far. */
  tokens: number;
  options: PretrainOptions;
}

export interface PretrainCheckpoint {
  state: PretrainState;
  weights: NamedFloat32Tensor[];
  optimizer: AdamWState;
}

export interface PretrainStepResult {
  step: number;
  loss: number;
  learningRate: number;
  /** Tokens in this step's rows. */
  tokens: number;
}

function validateOptions(options: PretrainOptions): void {
  for (const field of ['sequenceLength', 'batchSize', 'totalSteps'] as const) {
    const value = options[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`${field} must be a positive integer, got ${value}`);
    }
  }
  if (options.sequenceLength < 2) throw new Error('sequenceLength must be at least 2 tokens');
  if (!(options.learningRate > 0)) {
    throw new Error(`learningRate must be positive, got ${options.learningRate}`);
  }
  if (!Number.isInteger(options.warmupSteps) || options.warmupSteps < 0) {
    throw new Error(`warmupSteps must be a whole number ≥ 0, got ${options.warmupSteps}`);
  }
  if (!(options.maxGradNorm > 0)) {
    throw new Error(`maxGradNorm must be positive, got ${options.maxGradNorm}`);
  }
}

/**
 * Packs documents, in `order`, into rows: each row holds whole consecutive documents up to
 * `sequenceLength` tokens; a document longer than that fills a row of its own, cut.
 */
export function packDocuments(
  documents: readonly (readonly number[])[],
  order: readonly number[],
  sequenceLength: number,
): number[][] {
  const rows: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    const document = documents[index]!;
    if (current.length + document.length > sequenceLength && current.length > 0) {
      rows.push(current);
      current = [];
    }
    current.push(...document.slice(0, sequenceLength - current.length));
  }
  if (current.length > 0) rows.push(current);
  return rows.filter((row) => row.length >= 2);
}

export class Pretrainer {
  private readonly params: tf.Variable[];
  private readonly optimizer: AdamW;
  private packed: { epoch: number; rows: number[][] } | null = null;
  private state: PretrainState;

  constructor(
    private readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    private readonly documents: readonly (readonly number[])[],
    options: PretrainOptions,
  ) {
    validateOptions(options);
    if (documents.length === 0) throw new Error('the pretraining corpus is empty');
    const bad = documents.flat().find((id) => !(id >= 0 && id < config.vocabSize));
    if (bad !== undefined) {
      throw new Error(
        `the corpus has token id ${bad}, outside the vocabulary of ${config.vocabSize}`,
      );
    }
    this.params = setBaseTrainable(weights, true);
    this.optimizer = new AdamW(this.params, { weightDecay: options.weightDecay });
    this.state = { step: 0, cursor: { epoch: 0, row: 0 }, tokens: 0, options };
  }

  get progress(): Readonly<PretrainState> {
    return this.state;
  }

  /** Rows of one epoch: the documents in that epoch's seeded order, packed. */
  rowsOfEpoch(epoch: number): number[][] {
    if (this.packed?.epoch !== epoch) {
      const { seed, sequenceLength } = this.state.options;
      const order = createRng(streamSeed(seed, epoch)).shuffle(
        Array.from({ length: this.documents.length }, (_, i) => i),
      );
      this.packed = { epoch, rows: packDocuments(this.documents, order, sequenceLength) };
    }
    return this.packed.rows;
  }

  /** The next step's rows; an epoch's last rows that do not fill a batch are skipped. */
  private takeRows(): number[][] {
    const { batchSize } = this.state.options;
    let { epoch, row } = this.state.cursor;
    if (row + batchSize > this.rowsOfEpoch(epoch).length) {
      epoch += 1;
      row = 0;
      if (batchSize > this.rowsOfEpoch(epoch).length) {
        throw new Error(`batchSize ${batchSize} is more than the corpus's rows per epoch`);
      }
    }
    const rows = this.rowsOfEpoch(epoch).slice(row, row + batchSize);
    this.state.cursor = { epoch, row: row + batchSize };
    return rows;
  }

  async trainStep(): Promise<PretrainStepResult> {
    const { options } = this.state;
    const rows = this.takeRows();
    const targets = rows.reduce((n, row) => n + row.length - 1, 0);
    const batch = makeBatch(
      rows.map((ids) => ({ ids, isTarget: ids.map((_, t) => t > 0) })),
      targets,
      this.config.vocabSize,
    );
    const model = { config: this.config, weights: this.weights };
    let loss: tf.Scalar;
    let grads: tf.NamedTensorMap;
    try {
      ({ value: loss, grads } = variableGrads(() => weightedTokenLoss(model, batch), this.params));
    } finally {
      tf.dispose([batch.inputIds, batch.attentionMask, batch.labelIndices, batch.lossWeights]);
    }
    const gradients = this.params.map((p) => grads[p.name]!);
    const learningRate = learningRateAt(this.state.step, {
      kind: 'cosine',
      peak: options.learningRate,
      warmupSteps: options.warmupSteps,
      totalSteps: options.totalSteps,
    });
    const { scale, norm } = globalNormScale(gradients, options.maxGradNorm);
    this.optimizer.step(gradients, learningRate, scale);
    tf.dispose([scale, norm, ...gradients]);
    const [value] = await loss.data();
    loss.dispose();
    const tokens = rows.reduce((n, row) => n + row.length, 0);
    this.state.step += 1;
    this.state.tokens += tokens;
    return { step: this.state.step, loss: value!, learningRate, tokens };
  }

  async exportCheckpoint(): Promise<PretrainCheckpoint> {
    const weights: NamedFloat32Tensor[] = [];
    for (const [name, variable] of this.weights) {
      weights.push({ name, shape: variable.shape, data: (await variable.data()) as Float32Array });
    }
    return {
      state: structuredClone(this.state),
      weights,
      optimizer: await this.optimizer.exportState(),
    };
  }

  /** Puts weights, optimizer and cursor back as `checkpoint` saved them. */
  restoreCheckpoint(checkpoint: PretrainCheckpoint): void {
    const byName = new Map(checkpoint.weights.map((w) => [w.name, w]));
    for (const [name, variable] of this.weights) {
      const saved = byName.get(name);
      if (!saved || saved.data.length !== variable.size) {
        throw new Error(`the checkpoint has no weight '${name}' of shape [${variable.shape}]`);
      }
      tf.tidy(() => variable.assign(tf.tensor(saved.data, variable.shape, 'float32')));
    }
    this.optimizer.loadState(checkpoint.optimizer);
    this.state = structuredClone(checkpoint.state);
  }

  /** Frees the optimizer's moments and leaves the weights non-trainable again. */
  dispose(): void {
    this.optimizer.dispose();
    setBaseTrainable(this.weights, false);
  }
}

export interface PretrainCheckpointFiles {
  'state.json': string;
  'model.safetensors': Uint8Array;
  'optimizer.safetensors': Uint8Array;
}

/** A checkpoint as files: the weights and the optimizer's moments as safetensors, the rest JSON. */
export function checkpointFiles(checkpoint: PretrainCheckpoint): PretrainCheckpointFiles {
  const { optimizer, weights, state } = checkpoint;
  const moments = (which: 'm' | 'v', values: Float32Array[]) =>
    values.map((data, i) => ({ name: `${which}.${i}`, shape: [data.length], data }));
  return {
    'state.json': JSON.stringify({ ...state, optimizerSteps: optimizer.steps }, null, 2) + '\n',
    'model.safetensors': serializeSafetensors(weights),
    'optimizer.safetensors': serializeSafetensors([
      ...moments('m', optimizer.firstMoments),
      ...moments('v', optimizer.secondMoments),
    ]),
  };
}

export function parseCheckpointFiles(files: PretrainCheckpointFiles): PretrainCheckpoint {
  const { optimizerSteps, ...state } = JSON.parse(files['state.json']) as PretrainState & {
    optimizerSteps: number;
  };
  const model = parseSafetensors(files['model.safetensors'], 'model.safetensors');
  const optimizer = parseSafetensors(files['optimizer.safetensors'], 'optimizer.safetensors');
  const count = optimizer.entries.size / 2;
  const read = (which: 'm' | 'v') =>
    Array.from({ length: count }, (_, i) => optimizer.readFloat32(`${which}.${i}`));
  return {
    state,
    weights: [...model.entries.values()].map((entry) => ({
      name: entry.name,
      shape: entry.shape,
      data: model.readFloat32(entry.name),
    })),
    optimizer: { steps: optimizerSteps, firstMoments: read('m'), secondMoments: read('v') },
  };
}
