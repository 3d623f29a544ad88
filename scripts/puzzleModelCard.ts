/**
 * The model card (README.md) of a puzzle model written by `npm run pretrain -- --world puzzles`:
 * what the model is, the world and corpus it learned from, its shape and how it was trained, all
 * from the run's own figures. Measured abilities come from `npm run eval:puzzles`, so a card
 * already in the folder keeps its *Measured abilities* section when the model is written again.
 */
import type { ModelConfig } from '../src/engine/model/config';
import type { PretrainOptions } from '../src/engine/train/pretrain';
import type { PuzzleCorpusFacts } from './pretrainCorpora';

/** What training.json records about a run. */
export interface TrainingSummary {
  parameters: number;
  worldSeed: number;
  corpusDocuments: number;
  corpusTokens: number;
  steps: number;
  totalSteps: number;
  tokensSeen: number;
  epochs: number;
  finalLoss: number | null;
  trainingMinutes: number;
  tokensPerSecond: number;
  machine: string;
  options: PretrainOptions;
  schedules: { fromStep: number; totalSteps: number }[];
  phases: { fromStep: number; mix: Record<string, number> }[];
  losses: [number, number][];
  corpus?: object;
}

const MEASURED_HEADING = '## Measured abilities';

const NOT_YET_MEASURED = `${MEASURED_HEADING}

Not yet measured. On validation tasks only:

\`\`\`sh
npm run eval:puzzles -- --model models/<name> --split validation
npm run eval:puzzles -- --model models/<name> --split validation --recipes random:8
\`\`\`

The first measures in-context success (no update) and success after test-time training with one
fixed recipe; the second shows the spread of success over recipes drawn from the uneven spread
the corpus teaches.
`;

/** The card's *Measured abilities* section, up to the next section, or null. */
function measuredSection(card: string): string | null {
  const start = card.indexOf(`\n${MEASURED_HEADING}\n`);
  if (start < 0) return null;
  const end = card.indexOf('\n## ', start + 1);
  return card.slice(start + 1, end < 0 ? undefined : end + 1);
}

const count = (n: number) => n.toLocaleString('en');
const percent = (share: number) => `${(100 * share).toFixed(0)} %`;

export function puzzleModelCard(
  modelName: string,
  facts: PuzzleCorpusFacts,
  summary: TrainingSummary,
  config: ModelConfig,
  previousCard: string | null,
): string {
  const { worldParams: world, corpus, corpusParams } = facts;
  const { options } = summary;
  const splits = world.counts;
  const [first, ...restarts] = summary.schedules;
  const measured =
    (previousCard && measuredSection(previousCard)) ??
    NOT_YET_MEASURED.replaceAll('<name>', modelName);
  const fit =
    corpus.shrunk + corpus.dropped === 0
      ? 'Every document fits the context as drawn.'
      : `${count(corpus.shrunk)} documents lost demonstrations to fit the context and ${count(corpus.dropped)} were dropped.`;
  return `---
license: mit
language: en
library_name: seal-playground
pipeline_tag: text-generation
---

# ${modelName}

The default model of SEAL Playground's few-shot puzzle experiment: a
${count(summary.parameters)}-parameter \`LlamaForCausalLM\` trained from random weights, in this
repository, on the puzzle world of seed ${summary.worldSeed} (\`src/engine/puzzles/\`). It reads a
puzzle's demonstrations as grids of digits and writes the answer grid, or writes a training recipe
(a self-edit) for test-time training. It has seen the puzzle world's pretraining tasks only; the
compositions of rules held out for RL, validation and evaluation are new to it.

## Data

- **World.** Seed ${summary.worldSeed}: grids of ${world.minSide}–${world.maxSide} cells a side in 10 colours,
  ${world.minDemonstrations}–${world.maxDemonstrations} demonstrations and one test pair per task; a task's rule is one
  primitive or (${percent(world.compositionShare)} of tasks) a composition of two.
  Splits: ${count(splits.pretrain)} pretraining, ${count(splits.rl)} RL, ${count(splits.validation)} validation and
  ${count(splits.evaluation)} evaluation tasks. ${facts.heldOutCompositions} compositions
  (${percent(world.heldOutShare)} of those that make fair tasks) appear only outside pretraining.
- **Corpus.** ${count(corpus.documents)} documents, ${count(corpus.tokens)} tokens, from ${count(corpus.tasks)}
  pretraining tasks (\`src/engine/puzzles/corpus.ts\`):
  - \`solve\` (${percent(corpus.byKind.solve.share)} of documents, ${count(corpus.byKind.solve.tokens)} tokens): one of the
    task's pairs is the query, the others are the demonstrations, then the answer grid; in
    ${percent(corpusParams.fewerDemonstrationsShare)} of them one demonstration fewer;
  - \`recipe\` (${percent(corpus.byKind.recipe.share)}, ${count(corpus.byKind.recipe.tokens)} tokens): the demonstrations, then a
    training recipe drawn from an uneven spread (every augmentation a coin flip, learning rates
    from 1e-4 to 0.1, 1–10 epochs), so the model writes recipes of mixed quality for RL to sharpen.

  Each document's grids are turned or mirrored by a random symmetry of the square
  (${percent(corpusParams.symmetryShare)} of documents) and recoloured by a random permutation of the colours 1–9
  (${percent(corpusParams.colourShare)}). ${fit} ${count(corpus.heldOutAnswers)} solve documents were left out
  because their answer grid, by chance, is a held-out task's test answer.
- **Held out.** No RL, validation or evaluation task, nor any task of a held-out composition,
  appears in the corpus.
- **Tokenizer.** ${config.vocabSize} tokens (\`tokenizer.json\`, byte-level BPE): every cell digit and every row
  break is one token, and the markers (\`in\`, \`out\`, \`end\`, \`recipe\`) and the recipe's keys
  are one token each. \`<s>\` is prepended and documents end with \`</s>\`.

## Model

| | |
|---|---|
| architecture | \`LlamaForCausalLM\` (RMSNorm, rotary positions θ = ${count(config.ropeTheta)}, SwiGLU MLP) |
| parameters | ${count(summary.parameters)} |
| layers | ${config.numLayers} |
| hidden size | ${config.hiddenSize} |
| attention heads | ${config.numHeads} (head dim ${config.headDim}, ${config.numKvHeads} key/value heads) |
| MLP size | ${config.intermediateSize} |
| vocabulary | ${config.vocabSize} |
| embeddings | ${config.tieWordEmbeddings ? 'tied (the output layer is the embedding matrix)' : 'untied'} |
| trained context | ${options.sequenceLength} tokens (\`max_position_embeddings\` ${config.maxPositionEmbeddings}) |
| weights | float32, \`model.safetensors\` |

It is small so that test-time training, a fresh LoRA fine-tuned for each puzzle, takes seconds.

## Training

- **Objective.** Next-token cross-entropy on every token. Whole documents are packed into rows of
  at most ${options.sequenceLength} tokens, ${options.batchSize} rows per step.
- **Optimizer.** AdamW (β = 0.9, 0.999; weight decay ${options.weightDecay} on matrices), gradients clipped to
  norm ${options.maxGradNorm}. The learning rate warms up linearly over ${options.warmupSteps} steps to ${options.learningRate}.
- **Schedule.** ${
    restarts.length === 0
      ? `One cosine to 0 at step ${count(first!.totalSteps)}.`
      : `Cosine segments, each a warm restart from where the longer schedule stands: ${summary.schedules
          .map((s) => `from step ${count(s.fromStep)} towards ${count(s.totalSteps)}`)
          .join('; ')}.`
  }
- **Length.** ${count(summary.steps)} steps of ${count(summary.totalSteps)}; ${count(summary.tokensSeen)} tokens seen
  (${summary.epochs.toFixed(2)} passes over the corpus).
- **Final loss.** ${summary.finalLoss === null ? 'none recorded' : `${summary.finalLoss.toFixed(3)} nats per token (mean of the last 10 steps)`}; every 10th
  step's mean loss is in \`training.json\`.
- **Wall time.** ${summary.trainingMinutes.toFixed(1)} minutes of training on ${summary.machine},
  ${count(Math.round(summary.tokensPerSecond))} tokens/s in the last session.

${measured}
## Reproduce

\`\`\`sh
npm run pretrain -- --world puzzles --name ${modelName} --documents ${corpusParams.documents} --steps ${first!.totalSteps}
${restarts.map((s) => `npm run pretrain -- --world puzzles --name ${modelName} --resume --steps ${s.totalSteps}\n`).join('')}\`\`\`

with the shape and settings above (the script's defaults for \`--world puzzles\` unless stated).
Checkpoints go under \`.checkpoints/${modelName}/\`; \`--resume\` continues an interrupted run exactly and
\`--export\` writes the model folder from the checkpoint.

## Files

- \`config.json\`
- \`model.safetensors\`
- \`tokenizer.json\`
- \`tokenizer_config.json\`
- \`generation_config.json\` (end of sequence \`</s>\` = 2)
- \`training.json\` (the figures above, the corpus's facts and the loss curve)
- this card
`;
}
