/**
 * `npm run world -- --seed N --out DIR [--documents N] [--vocab N]`: generates the synthetic
 * knowledge world and writes it to DIR: world.json (every entity and the splits), squad/*.json
 * (pretrain_qa, pretrain_probe, rl and eval contexts in the SQuAD-style shape the SEAL code reads),
 * corpus.jsonl (the pretraining documents), tokenizer.json + tokenizer_config.json, stats.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import { buildWorld } from '../src/engine/world/build';
import { DEFAULT_CORPUS_PARAMS } from '../src/engine/world/corpus';
import { DEFAULT_VOCAB_SIZE, tokenizerConfigJson } from '../src/engine/world/tokenizer';
import type { EntityKind } from '../src/engine/world/types';

function integerOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got "${value}"`);
  return n;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      out: { type: 'string' },
      documents: { type: 'string' },
      vocab: { type: 'string' },
    },
  });
  if (values.out === undefined) throw new Error('missing --out DIR (where to write the world)');
  const seed = integerOption('seed', values.seed, 1);
  const documents = integerOption('documents', values.documents, DEFAULT_CORPUS_PARAMS.documents);
  const vocabSize = integerOption('vocab', values.vocab, DEFAULT_VOCAB_SIZE);
  const out = values.out;

  const started = Date.now();
  const build = buildWorld(seed, { corpus: { documents }, vocabSize });
  const { world, squad, corpus, tokenizer } = build;

  const tok = new Tokenizer(tokenizer, tokenizerConfigJson(1024));
  const tokensByKind: Record<string, number> = {};
  let tokens = 0;
  for (const doc of corpus) {
    const n = tok.encode(doc.text, { add_special_tokens: false }).ids.length;
    tokens += n;
    tokensByKind[doc.kind] = (tokensByKind[doc.kind] ?? 0) + n;
  }
  const entityCounts: Record<string, Partial<Record<EntityKind, number>>> = {};
  for (const e of world.entities) {
    const bySplit = (entityCounts[e.split] ??= {});
    bySplit[e.kind] = (bySplit[e.kind] ?? 0) + 1;
  }
  const questionStats = (contexts: { questions: unknown[] }[]) => ({
    contexts: contexts.length,
    questions: contexts.reduce((s, c) => s + c.questions.length, 0),
    meanQuestions:
      contexts.reduce((s, c) => s + c.questions.length, 0) / Math.max(1, contexts.length),
  });
  const stats = {
    seed,
    entities: world.entities.length,
    entityCounts,
    squad: {
      pretrainQa: questionStats(squad.pretrainQa),
      pretrainProbe: questionStats(squad.pretrainProbe),
      rl: questionStats(squad.rl),
      eval: questionStats(squad.eval),
    },
    vocabSize: Object.keys(tokenizer.model.vocab).length,
    corpus: { ...build.corpusStats, tokens, tokensByKind },
    seconds: (Date.now() - started) / 1000,
  };

  mkdirSync(join(out, 'squad'), { recursive: true });
  const json = (path: string, data: unknown) =>
    writeFileSync(join(out, path), JSON.stringify(data, null, 2) + '\n');
  json('world.json', {
    seed,
    params: world.params,
    splits: world.splits,
    entities: world.entities,
  });
  json('squad/pretrain_qa.json', squad.pretrainQa);
  json('squad/pretrain_probe.json', squad.pretrainProbe);
  json('squad/rl.json', squad.rl);
  json('squad/eval.json', squad.eval);
  writeFileSync(join(out, 'corpus.jsonl'), corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
  writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(tokenizer));
  json('tokenizer_config.json', tokenizerConfigJson(1024));
  json('stats.json', stats);
  console.log(JSON.stringify(stats, null, 2));
  console.log(`wrote the world of seed ${seed} to ${out}`);
}

try {
  main();
} catch (error) {
  console.error(`world: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
