/**
 * `npm run pretrain [-- options]`: trains a model from scratch on a synthetic world's corpus (Node,
 * wasm), checkpointing to a git-ignored folder and resuming with `--resume`, then writes the model
 * to `models/<name>/` in the Hub layout. Options:
 *   --world W            knowledge (the default model, seal-world-1m) or puzzles (the few-shot
 *                        puzzle model, seal-puzzles-1m, written with its model card)
 *   --seed N             world seed (1); also seeds the initial weights and the data order
 *   --name NAME          model folder under --out (seal-world-1m; seal-puzzles-1m for puzzles)
 *   --out DIR            where models go (models)
 *   --checkpoints DIR    where checkpoints go (.checkpoints)
 *   --steps N            optimizer steps of the whole run (1000; the cosine schedule ends there);
 *                        with --resume, a new total that extends a finished run: the cosine
 *                        restarts from where that total puts it (a warm restart)
 *   --max-minutes M      stop after M minutes of training this time (checkpoint + export)
 *   --checkpoint-minutes M   minutes between checkpoints (5)
 *   --resume             continue from the checkpoint in --checkpoints/NAME
 *   --export             write the model from the checkpoint without training
 *   --no-export          train and checkpoint but do not write the model folder
 *   --documents N        corpus documents (smaller for quick runs; 60000, or 50000 for puzzles)
 *   --mix KIND=W,…       from this session on, train on a fresh corpus of the same size with these
 *                        relative shares of document kinds (knowledge: passage, closedBook,
 *                        reading, selfEdit; puzzles: solve, recipe; a kind left out gets none),
 *                        tokenized with the world's tokenizer; the model card's training.json
 *                        records each phase's mix and first step
 *   --hidden, --layers, --heads, --kv-heads, --intermediate   model shape
 *   --seq-len, --batch, --lr, --warmup, --weight-decay        training settings (--seq-len: 256,
 *                        or 512 for puzzles)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/engine/backend';
import type { ModelConfig } from '../src/engine/model/config';
import { countParameters } from '../src/engine/model/weights';
import { exportMergedModel } from '../src/engine/train/peft';
import {
  checkpointFiles,
  parseCheckpointFiles,
  Pretrainer,
  type PretrainCheckpointFiles,
  type PretrainOptions,
} from '../src/engine/train/pretrain';
import { mean } from '../src/engine/seal/statistics';
import { randomModelWeights } from '../src/engine/train/randomModel';
import { SPECIAL_TOKENS } from '../src/engine/world/tokenizer';
import {
  PRETRAIN_WORLD_KINDS,
  PRETRAIN_WORLDS,
  type Mix,
  type PretrainWorldKind,
} from './pretrainCorpora';
import type { TrainingSummary } from './puzzleModelCard';

const { values: args } = parseArgs({
  options: {
    world: { type: 'string', default: 'knowledge' },
    seed: { type: 'string', default: '1' },
    name: { type: 'string' },
    out: { type: 'string', default: 'models' },
    checkpoints: { type: 'string', default: '.checkpoints' },
    steps: { type: 'string' },
    'max-minutes': { type: 'string' },
    'checkpoint-minutes': { type: 'string', default: '5' },
    resume: { type: 'boolean', default: false },
    export: { type: 'boolean', default: false },
    'no-export': { type: 'boolean', default: false },
    documents: { type: 'string' },
    mix: { type: 'string' },
    hidden: { type: 'string', default: '128' },
    layers: { type: 'string', default: '4' },
    heads: { type: 'string', default: '4' },
    'kv-heads': { type: 'string', default: '4' },
    intermediate: { type: 'string', default: '352' },
    'seq-len': { type: 'string' },
    batch: { type: 'string', default: '4' },
    lr: { type: 'string', default: '2e-3' },
    warmup: { type: 'string', default: '50' },
    'weight-decay': { type: 'string', default: '0.1' },
  },
});

function numberArg(name: keyof typeof args, integer = true): number {
  const text = args[name];
  const value = Number(text);
  if (
    typeof text !== 'string' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value))
  ) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
  }
  return value;
}

if (!PRETRAIN_WORLD_KINDS.includes(args.world as PretrainWorldKind)) {
  throw new Error(`--world must be ${PRETRAIN_WORLD_KINDS.join(' or ')}, got "${args.world}"`);
}
const worldKind = args.world as PretrainWorldKind;
const pretrainWorld = PRETRAIN_WORLDS[worldKind];
const modelName = args.name ?? pretrainWorld.defaults.name;
args.documents ??= String(pretrainWorld.defaults.documents);
args['seq-len'] ??= String(pretrainWorld.defaults.sequenceLength);

const DEFAULT_STEPS = 1000;
const seed = numberArg('seed');
const sequenceLength = numberArg('seq-len');
const modelDir = join(args.out!, modelName);
const checkpointDir = join(args.checkpoints!, modelName);

function parseMix(text: string): Mix {
  const mix: Mix = Object.fromEntries(Object.keys(pretrainWorld.defaultMix).map((k) => [k, 0]));
  for (const part of text.split(',')) {
    const [kind, weight] = part.split('=');
    const value = Number(weight);
    if (!kind || !Object.hasOwn(mix, kind) || weight === undefined || !(value >= 0)) {
      throw new Error(
        `--mix wants KIND=WEIGHT pairs with KIND one of ${Object.keys(mix).join(', ')} and WEIGHT ≥ 0, got "${part}"`,
      );
    }
    mix[kind] = value;
  }
  if (Object.values(mix).every((w) => w === 0)) throw new Error('--mix gives every kind 0');
  return mix;
}

function modelConfig(vocabSize: number): ModelConfig {
  const hiddenSize = numberArg('hidden');
  const numHeads = numberArg('heads');
  return {
    architecture: 'LlamaForCausalLM',
    vocabSize,
    hiddenSize,
    intermediateSize: numberArg('intermediate'),
    numLayers: numberArg('layers'),
    numHeads,
    numKvHeads: numberArg('kv-heads'),
    headDim: hiddenSize / numHeads,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 2 * sequenceLength,
    tieWordEmbeddings: true,
    attentionBias: false,
    mlpBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  };
}

function readCheckpoint(): PretrainCheckpointFiles & { config: ModelConfig } {
  const file = (name: string) => join(checkpointDir, name);
  if (!existsSync(file('state.json'))) {
    throw new Error(`no checkpoint in ${checkpointDir} (state.json is missing)`);
  }
  return {
    'state.json': readFileSync(file('state.json'), 'utf8'),
    'model.safetensors': readFileSync(file('model.safetensors')),
    'optimizer.safetensors': readFileSync(file('optimizer.safetensors')),
    config: JSON.parse(readFileSync(file('model-config.json'), 'utf8')) as ModelConfig,
  };
}

/** Written beside, then swapped in, so an interruption never leaves half a checkpoint. */
function writeCheckpoint(files: PretrainCheckpointFiles, config: ModelConfig, log: unknown): void {
  const temporary = `${checkpointDir}.writing`;
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(temporary, name), content);
  writeFileSync(join(temporary, 'model-config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(temporary, 'log.json'), JSON.stringify(log));
  const previous = `${checkpointDir}.previous`;
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(checkpointDir)) renameSync(checkpointDir, previous);
  renameSync(temporary, checkpointDir);
  rmSync(previous, { recursive: true, force: true });
}

interface TrainingLog {
  /** The world trained on (absent in logs written before there was a choice: knowledge). */
  world?: PretrainWorldKind;
  /** Mean loss of each block of 10 steps: [last step of the block, mean loss]. */
  losses: [number, number][];
  /** The cosine schedule's total steps, and from which step each total applied. */
  schedules: { fromStep: number; totalSteps: number }[];
  /** Wall-clock seconds spent training, over all sessions. */
  trainingSeconds: number;
  tokensPerSecond: number;
  worldSeed: number;
  corpusDocuments: number;
  corpusTokens: number;
  /** The corpus mix trained on from each step on (absent: the default mix throughout). */
  phases?: { fromStep: number; mix: Mix }[];
}

function readLog(): TrainingLog {
  return JSON.parse(readFileSync(join(checkpointDir, 'log.json'), 'utf8')) as TrainingLog;
}

/** Fails before the world is built when the checkpoint to continue is of another world. */
function checkCheckpointWorld(): void {
  if (!existsSync(join(checkpointDir, 'log.json'))) return;
  const trainedOn = readLog().world ?? 'knowledge';
  if (trainedOn !== worldKind) {
    throw new Error(
      `the checkpoint in ${checkpointDir} was trained on the ${trainedOn} world, not ${worldKind} (--world)`,
    );
  }
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m${String(s % 60).padStart(2, '0')}s`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const backend = await selectBackend('wasm');
  if (backend.active !== 'wasm') throw new Error(`wasm did not start: ${backend.fallbackReasons}`);

  const resuming = args.resume || args.export;
  if (resuming) checkCheckpointWorld();
  console.log(`building the ${worldKind} world of seed ${seed}…`);
  const build = pretrainWorld.build(seed, numberArg('documents'), sequenceLength);
  const { tokenizer, documents } = build;
  const corpusTokens = documents.reduce((n, d) => n + d.length, 0);
  const eos = tokenizer.tokenToId(SPECIAL_TOKENS.eos);
  if (eos !== 2 || tokenizer.bosTokenId !== 1) throw new Error('unexpected special token ids');
  console.log(
    `${documents.length} documents, ${corpusTokens} tokens (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );

  const saved = resuming ? readCheckpoint() : null;
  const config = saved?.config ?? modelConfig(Object.keys(build.tokenizerJson.model.vocab).length);
  const checkpoint = saved && parseCheckpointFiles(saved);
  const options: PretrainOptions = checkpoint?.state.options ?? {
    sequenceLength,
    batchSize: numberArg('batch'),
    learningRate: numberArg('lr', false),
    warmupSteps: numberArg('warmup'),
    totalSteps: args.steps === undefined ? DEFAULT_STEPS : numberArg('steps'),
    weightDecay: numberArg('weight-decay', false),
    maxGradNorm: 1,
    seed,
  };
  const weights = randomModelWeights(config, seed);
  const mix = args.mix === undefined ? null : parseMix(args.mix);
  const trainingDocuments = mix === null ? documents : build.remix(mix);
  const trainer = new Pretrainer(config, weights, trainingDocuments, options);
  let log: TrainingLog = {
    world: worldKind,
    losses: [],
    schedules: [{ fromStep: 0, totalSteps: options.totalSteps }],
    trainingSeconds: 0,
    tokensPerSecond: 0,
    worldSeed: seed,
    corpusDocuments: documents.length,
    corpusTokens,
  };
  if (checkpoint && saved) {
    log = readLog();
    log.schedules ??= [{ fromStep: 0, totalSteps: options.totalSteps }];
    if (log.corpusDocuments !== documents.length || log.worldSeed !== seed) {
      throw new Error(
        `the checkpoint was trained on world ${log.worldSeed} with ${log.corpusDocuments} documents, not world ${seed} with ${documents.length} (--seed, --documents)`,
      );
    }
    if (args.resume && args.steps !== undefined && numberArg('steps') !== options.totalSteps) {
      if (numberArg('steps') <= checkpoint.state.step) {
        throw new Error(
          `--steps ${args.steps} is not beyond the checkpoint's step ${checkpoint.state.step}`,
        );
      }
      options.totalSteps = numberArg('steps');
      log.schedules.push({ fromStep: checkpoint.state.step, totalSteps: options.totalSteps });
    }
    trainer.restoreCheckpoint(checkpoint);
    console.log(`resumed at step ${checkpoint.state.step} of ${options.totalSteps}`);
  }
  log.phases ??= [{ fromStep: 0, mix: pretrainWorld.defaultMix }];
  const phaseMix = mix ?? pretrainWorld.defaultMix;
  if (JSON.stringify(log.phases.at(-1)!.mix) !== JSON.stringify(phaseMix)) {
    log.phases.push({ fromStep: trainer.progress.step, mix: phaseMix });
    console.log(`corpus mix from step ${trainer.progress.step}:`, phaseMix);
  }
  console.log(
    `model: ${countParameters(config).toLocaleString('en')} parameters, ${config.numLayers} layers, hidden ${config.hiddenSize}; ` +
      `${options.totalSteps} steps of ${options.batchSize} × ≤${options.sequenceLength} tokens`,
  );

  const save = async () => {
    writeCheckpoint(checkpointFiles(await trainer.exportCheckpoint()), config, log);
    console.log(`checkpoint at step ${trainer.progress.step} → ${checkpointDir}`);
  };

  if (!args.export) {
    const maxMinutes =
      args['max-minutes'] === undefined ? Infinity : numberArg('max-minutes', false);
    const checkpointEvery = numberArg('checkpoint-minutes', false) * 60_000;
    const sessionStart = Date.now();
    const secondsBefore = log.trainingSeconds;
    const tokensBefore = trainer.progress.tokens;
    let lastCheckpoint = Date.now();
    let block: number[] = [];
    while (trainer.progress.step < options.totalSteps) {
      if (Date.now() - sessionStart > maxMinutes * 60_000) {
        console.log(`stopping after ${maxMinutes} minutes (--max-minutes)`);
        break;
      }
      const result = await trainer.trainStep();
      block.push(result.loss);
      const sessionSeconds = (Date.now() - sessionStart) / 1000;
      log.trainingSeconds = secondsBefore + sessionSeconds;
      log.tokensPerSecond = (trainer.progress.tokens - tokensBefore) / sessionSeconds;
      if (result.step % 10 === 0 || result.step === options.totalSteps) {
        const blockLoss = mean(block);
        log.losses.push([result.step, blockLoss]);
        block = [];
        const stepsPerSecond = (result.step - (checkpoint?.state.step ?? 0)) / sessionSeconds;
        const eta = (options.totalSteps - result.step) / stepsPerSecond;
        console.log(
          `step ${result.step}/${options.totalSteps}  loss ${blockLoss.toFixed(4)}  lr ${result.learningRate.toExponential(2)}  ` +
            `${Math.round(log.tokensPerSecond)} tok/s  epoch ${trainer.progress.cursor.epoch}  ` +
            `tokens ${(trainer.progress.tokens / 1e6).toFixed(2)}M  elapsed ${formatDuration(log.trainingSeconds)}  ETA ${formatDuration(eta)}`,
        );
      }
      if (Date.now() - lastCheckpoint > checkpointEvery) {
        await save();
        lastCheckpoint = Date.now();
      }
    }
    await save();
  }

  if (!args['no-export']) {
    const files = await exportMergedModel(config, weights, null);
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(join(modelDir, 'config.json'), files.config);
    writeFileSync(join(modelDir, 'model.safetensors'), files.weights);
    writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(build.tokenizerJson));
    writeFileSync(
      join(modelDir, 'tokenizer_config.json'),
      JSON.stringify(build.tokenizerConfig, null, 2) + '\n',
    );
    writeFileSync(
      join(modelDir, 'generation_config.json'),
      JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 3 }, null, 2) + '\n',
    );
    const last = log.losses.at(-1);
    const summary: TrainingSummary = {
      parameters: countParameters(config),
      worldSeed: log.worldSeed,
      corpusDocuments: log.corpusDocuments,
      corpusTokens: log.corpusTokens,
      steps: trainer.progress.step,
      totalSteps: options.totalSteps,
      tokensSeen: trainer.progress.tokens,
      epochs: trainer.progress.tokens / corpusTokens,
      finalLoss: last ? last[1] : null,
      trainingMinutes: log.trainingSeconds / 60,
      tokensPerSecond: log.tokensPerSecond,
      machine: `${os.cpus().length} CPU cores, Node ${process.version}, tfjs wasm`,
      options,
      schedules: log.schedules,
      phases: log.phases,
      losses: log.losses,
      ...(build.facts && { corpus: build.facts }),
    };
    writeFileSync(join(modelDir, 'training.json'), JSON.stringify(summary) + '\n');
    if (build.card) {
      const cardFile = join(modelDir, 'README.md');
      const previous = existsSync(cardFile) ? readFileSync(cardFile, 'utf8') : null;
      writeFileSync(cardFile, build.card(modelName, summary, config, previous));
    }
    console.log(`wrote ${modelDir}:`, { ...summary, losses: undefined });
  }
  trainer.dispose();
}

main().catch((error: unknown) => {
  console.error(`pretrain: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
