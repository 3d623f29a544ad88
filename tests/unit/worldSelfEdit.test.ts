import { describe, expect, it } from 'vitest';
import {
  SELF_EDIT_FORMATS,
  answerCompletion,
  closedBookPrompt,
  readingPrompt,
  selfEditPrompt,
  type SelfEditFormat,
} from '../../src/engine/prompts';
import { selfEditLines, selfEditTrainingTexts } from '../../src/engine/seal/selfEdit';
import { checkSelfEditLine } from '../../src/engine/world/consistency';
import { contextOf } from '../../src/engine/world/contexts';
import { generateWorld } from '../../src/engine/world/generate';
import {
  imitatedSelfEdit,
  wrongValuePool,
  DEFAULT_IMITATION_PARAMS,
} from '../../src/engine/world/imitation';
import { createRng } from '../../src/engine/world/random';

describe('self-edit prompts', () => {
  it('shows the passage as title then context and ends on the format cue', () => {
    const cues: Record<SelfEditFormat, RegExp> = {
      implications: /\n\nImplications:\n$/,
      'implications-long': /a long list[\s\S]*\n\nImplications:\n$/,
      'implications-very-long': /a very long list[\s\S]*\n\nImplications:\n$/,
      rewrite: /\n\nRewritten passages:\n$/,
      'self-qa': /\n\nQuestion 1: $/,
      'no-prompt': /^Title\nSome context\.\n$/,
    };
    for (const format of SELF_EDIT_FORMATS) {
      const prompt = selfEditPrompt(format, 'Title', 'Some context.');
      expect(prompt).toContain('Title\nSome context.');
      expect(prompt).toMatch(cues[format]);
    }
    expect(() => selfEditPrompt('poem' as SelfEditFormat, 't', 'c')).toThrow(
      /unknown self-edit format "poem"/,
    );
  });

  it('asks QA closed-book and with the passage in the same question/answer shape', () => {
    expect(closedBookPrompt('Who?')).toMatch(/\nQuestion: Who\?\nAnswer:$/);
    expect(readingPrompt('T', 'C.', 'Who?')).toMatch(
      /Passage:\nT\nC\.\n\nQuestion: Who\?\nAnswer:$/,
    );
    expect(answerCompletion('Kelmar')).toBe(' Kelmar\n');
  });
});

describe('self-edit parsing', () => {
  it('makes one example per line with the title, drops an opening filler line, adds the passage', () => {
    const completion =
      'Here are some implications:\nA founded B.\n\n  B is in C.  \nA was born in 1800.\n';
    expect(selfEditLines('implications', completion)).toEqual([
      'A founded B.',
      'B is in C.',
      'A was born in 1800.',
    ]);
    expect(selfEditTrainingTexts('implications', 'A', 'A founded B in C.', completion)).toEqual([
      'A\nA founded B.',
      'A\nB is in C.',
      'A\nA was born in 1800.',
      'A\nA founded B in C.',
    ]);
  });

  it('keeps a first line that is a statement, and returns only the passage for an empty edit', () => {
    expect(selfEditLines('rewrite', 'A founded B.\nB is in C.')).toEqual([
      'A founded B.',
      'B is in C.',
    ]);
    expect(selfEditTrainingTexts('implications', 'T', 'C.', '\n\n')).toEqual(['T\nC.']);
  });

  it('splits a self-QA completion into its question blocks, the first cue restored', () => {
    const completion =
      'Who founded B?\nAnswer: A\nQuestion 2: Where is B?\nAnswer: C\nQuestion 3:\n';
    expect(selfEditLines('self-qa', completion)).toEqual([
      'Question 1: Who founded B?\nAnswer: A',
      'Question 2: Where is B?\nAnswer: C',
    ]);
    expect(selfEditTrainingTexts('self-qa', 'B', 'ctx', completion).at(-1)).toBe('B\nctx');
  });
});

describe('imitated self-edits of the corpus', () => {
  const world = generateWorld(31, {
    pretrainClusters: 30,
    rlClusters: 50,
    evalClusters: 2,
    scratchClusters: 2,
  });
  const pool = wrongValuePool(
    world,
    world.splits.pretrainQa.map((id) => world.byId.get(id)!),
  );
  const rng = createRng('imitated-edits');

  it('parse into at least 3 lines, vary between samples, and are mostly consistent', () => {
    let lines = 0;
    let edits = 0;
    let consistent = 0;
    let contradicts = 0;
    for (const id of world.splits.rl) {
      const entity = world.byId.get(id)!;
      const { title } = contextOf(world, id);
      for (const format of ['implications', 'rewrite', 'self-qa'] as const) {
        const samples = [0, 1].map(() =>
          imitatedSelfEdit(world, entity, format, pool, DEFAULT_IMITATION_PARAMS, rng),
        );
        expect(samples[0]?.completion).not.toBe(samples[1]?.completion);
        for (const { prompt, completion } of samples) {
          expect(prompt).toContain(`Passage:\n${title}\n`);
          const parsed = selfEditLines(format, completion);
          lines += parsed.length;
          edits += 1;
          for (const line of parsed) {
            const verdict = checkSelfEditLine(world, id, line.replace(/^Question \d+: /, ''));
            if (verdict === 'consistent') consistent += 1;
            if (verdict === 'contradicts') contradicts += 1;
          }
        }
      }
    }
    expect(lines / edits).toBeGreaterThanOrEqual(2.5);
    expect(consistent / lines).toBeGreaterThan(0.5);
    expect(contradicts / lines).toBeGreaterThan(0.03);
  });
});
