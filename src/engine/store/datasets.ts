/**
 * Passage datasets the user imports: the SEAL repository's JSON (a list of passages, each with
 * its questions), the same items one per line (JSONL), or the original SQuAD v1.1 layout.
 */
import { get, values } from 'idb-keyval';
import * as v from 'valibot';
import { request, SCHEMA_VERSION } from './db';
import { checkRoom } from './capacity';
import type { StoreContext } from './context';
import {
  DatasetSchema,
  IdSchema,
  MAX_LIST_LENGTH,
  MAX_TEXT_LENGTH,
  newId,
  validate,
  type DatasetRecord,
  type Passage,
  type RunRecord,
} from './records';

/** Largest dataset file accepted, in characters. */
export const MAX_DATASET_FILE_LENGTH = 256 * 1024 * 1024;

const Text = v.pipe(v.string(), v.maxLength(MAX_TEXT_LENGTH));
const AnswerText = v.union([
  Text,
  v.pipe(v.array(v.union([Text, v.looseObject({ text: Text })])), v.minLength(1)),
]);

/** One passage as the SEAL repository writes it; unknown extra fields are ignored. */
const SealItemSchema = v.looseObject({
  id: v.optional(v.union([v.pipe(v.string(), v.maxLength(1000)), v.number()])),
  title: v.pipe(v.string(), v.maxLength(1000)),
  context: Text,
  questions: v.pipe(
    v.array(
      v.looseObject({
        question: Text,
        answer: v.optional(AnswerText),
        answers: v.optional(AnswerText),
      }),
    ),
    v.maxLength(MAX_LIST_LENGTH),
  ),
});

const SquadSchema = v.looseObject({
  data: v.array(
    v.looseObject({
      title: v.pipe(v.string(), v.maxLength(1000)),
      paragraphs: v.array(
        v.looseObject({
          context: Text,
          qas: v.array(
            v.looseObject({ question: Text, answers: v.array(v.looseObject({ text: Text })) }),
          ),
        }),
      ),
    }),
  ),
});

function firstAnswer(answer: v.InferOutput<typeof AnswerText> | undefined): string | null {
  if (answer === undefined) return null;
  if (typeof answer === 'string') return answer;
  const first = answer[0]!;
  return typeof first === 'string' ? first : first.text;
}

function passageFromItem(item: unknown, where: string, index: number): Passage {
  const parsed = validate(SealItemSchema, item, where);
  return {
    id: parsed.id === undefined ? String(index) : String(parsed.id),
    title: parsed.title,
    context: parsed.context,
    questions: parsed.questions.map((q, i) => {
      const answer = firstAnswer(q.answer) ?? firstAnswer(q.answers);
      if (answer === null) throw new Error(`${where}: questions.${i}: has no answer`);
      return { question: q.question, answer };
    }),
  };
}

export interface ParsedDataset {
  source: DatasetRecord['source'];
  passages: Passage[];
}

/** Reads a dataset file; errors name the file, the line or item, and the field. */
export function parseDataset(text: string, fileName: string): ParsedDataset {
  if (text.length > MAX_DATASET_FILE_LENGTH) {
    throw new Error(`${fileName}: larger than ${MAX_DATASET_FILE_LENGTH} characters`);
  }
  let whole: unknown;
  let isJson = true;
  try {
    whole = JSON.parse(text);
  } catch {
    isJson = false;
  }
  let parsed: ParsedDataset;
  if (isJson && Array.isArray(whole)) {
    parsed = {
      source: 'seal-json',
      passages: whole.map((item, i) => passageFromItem(item, `${fileName}: item ${i}`, i)),
    };
  } else if (isJson && typeof whole === 'object' && whole !== null && 'data' in whole) {
    const squad = validate(SquadSchema, whole, fileName);
    parsed = {
      source: 'squad-v1',
      passages: squad.data.flatMap((article, a) =>
        article.paragraphs.map((paragraph, p) => ({
          id: `${a}.${p}`,
          title: article.title,
          context: paragraph.context,
          questions: paragraph.qas.map((qa, q) => {
            const answer = qa.answers[0];
            if (!answer) {
              throw new Error(`${fileName}: data.${a}.paragraphs.${p}.qas.${q}: has no answer`);
            }
            return { question: qa.question, answer: answer.text };
          }),
        })),
      ),
    };
  } else if (isJson) {
    throw new Error(
      `${fileName}: expected a list of passages, an object with "data" (SQuAD) or one JSON ` +
        'object per line',
    );
  } else {
    const passages: Passage[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let item: unknown;
      try {
        item = JSON.parse(line);
      } catch (error) {
        throw new Error(`${fileName}: line ${i + 1}: not JSON (${(error as Error).message})`);
      }
      passages.push(passageFromItem(item, `${fileName}: line ${i + 1}`, passages.length));
    });
    parsed = { source: 'jsonl', passages };
  }
  if (parsed.passages.length === 0) throw new Error(`${fileName}: has no passages`);
  checkUniquePassageIds(parsed.passages, fileName);
  return parsed;
}

/** Episodes name passages by id, so a dataset with two passages of one id is refused. */
export function checkUniquePassageIds(passages: readonly Passage[], where: string): void {
  const ids = new Set<string>();
  for (const passage of passages) {
    if (ids.has(passage.id)) throw new Error(`${where}: passage id ${passage.id} appears twice`);
    ids.add(passage.id);
  }
}

export type DatasetSummary = Omit<DatasetRecord, 'passages'> & {
  passageCount: number;
  questionCount: number;
};

function summarize({ passages, ...rest }: DatasetRecord): DatasetSummary {
  return {
    ...rest,
    passageCount: passages.length,
    questionCount: passages.reduce((sum, p) => sum + p.questions.length, 0),
  };
}

export function createDatasetStore(ctx: StoreContext) {
  return {
    /** Parses a dataset file and stores it under a new id. */
    async importDataset(fileName: string, text: string, name?: string): Promise<DatasetSummary> {
      const { source, passages } = parseDataset(text, fileName);
      const record = validate(
        DatasetSchema,
        {
          schemaVersion: SCHEMA_VERSION,
          id: newId('dataset'),
          name: name ?? fileName.replace(/\.(jsonl?|json)$/i, ''),
          source,
          passages,
          sizeBytes: text.length,
          createdAt: ctx.now(),
        },
        fileName,
      );
      await checkRoom(ctx.estimateStorage, record.sizeBytes, `dataset ${record.name}`);
      await ctx.db.transact(['datasets'], 'readwrite', `dataset ${record.name}`, (tx) => {
        tx.objectStore('datasets').add(record, record.id);
      });
      ctx.changes.publish({ kind: 'dataset', id: record.id });
      return summarize(record);
    },

    async listDatasets(): Promise<DatasetSummary[]> {
      const all = await values<DatasetRecord>(ctx.db.use('datasets'));
      return all.map(summarize).sort((a, b) => b.createdAt - a.createdAt);
    },

    async getDataset(id: string): Promise<DatasetRecord | undefined> {
      return get<DatasetRecord>(id, ctx.db.use('datasets'));
    },

    async deleteDataset(id: string): Promise<void> {
      validate(IdSchema, id, 'dataset id');
      await ctx.db.transact(
        ['datasets', 'runs'],
        'readwrite',
        `the deletion of dataset ${id}`,
        async (tx) => {
          const runs = (await request(tx.objectStore('runs').getAll())) as RunRecord[];
          const user = runs.find((run) => run.datasetIds.includes(id));
          if (user)
            throw new Error(`Dataset ${id} is used by run ${user.id}; delete the run first.`);
          tx.objectStore('datasets').delete(id);
        },
      );
      ctx.changes.publish({ kind: 'dataset', id });
    },
  };
}
