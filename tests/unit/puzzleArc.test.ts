import { describe, expect, it } from 'vitest';
import {
  arcTaskJson,
  ArcFormatError,
  parseArcFile,
  parseArcTask,
} from '../../src/engine/puzzles/arc';
import type { Grid } from '../../src/engine/puzzles/grid';
import { applyRule, makeRule } from '../../src/engine/puzzles/transforms';
import { generatePuzzleWorld } from '../../src/engine/puzzles/world';

// An ARC-style task as ARC's files lay it out (the rule is a half turn), with a key ARC tools add.
const HALF_TURN_TASK = `{
  "train": [
    {"input": [[2, 2, 1], [2, 1, 2], [2, 8, 1]], "output": [[1, 8, 2], [2, 1, 2], [1, 2, 2]]},
    {"input": [[9, 2, 4], [2, 4, 4], [2, 9, 2]], "output": [[2, 9, 2], [4, 4, 2], [4, 2, 9]]},
    {"input": [[8, 8, 8], [5, 5, 8], [8, 5, 5]], "output": [[5, 5, 8], [8, 5, 5], [8, 8, 8]]}
  ],
  "test": [
    {"input": [[6, 4, 4], [6, 6, 4], [4, 6, 7]], "output": [[7, 6, 4], [4, 6, 6], [4, 4, 6]]}
  ],
  "name": "half turn"
}`;

const g: Grid = [
  [1, 2],
  [3, 4],
];
const pair = { input: g, output: g };

/** The message `parseArcTask(value)` throws, checking it is an ArcFormatError. */
function refusal(value: unknown): string {
  try {
    parseArcTask(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ArcFormatError);
    return (error as Error).message;
  }
  throw new Error('the task was accepted');
}

describe('ARC task files', () => {
  it('reads an ARC-style task, whose pairs its rule reproduces', () => {
    const task = parseArcTask(HALF_TURN_TASK);
    expect(task.train).toHaveLength(3);
    expect(task.test[0]!.input).toEqual([
      [6, 4, 4],
      [6, 6, 4],
      [4, 6, 7],
    ]);
    const halfTurn = makeRule([{ primitive: 'rotate', params: { turns: 2 } }]);
    for (const p of [...task.train, ...task.test]) {
      expect(applyRule(halfTurn, p.input)).toEqual(p.output);
    }
    expect(Object.keys(task)).toEqual(['train', 'test']);
  });

  it('round-trips generated tasks through ARC JSON', () => {
    const { tasks } = generatePuzzleWorld({
      seed: 3,
      counts: { pretrain: 20, rl: 5, validation: 5, evaluation: 5 },
    });
    for (const { task } of tasks) {
      const text = arcTaskJson(task);
      expect(parseArcTask(text)).toEqual(task);
      expect(parseArcTask(JSON.parse(text))).toEqual(task);
    }
    const reread = parseArcTask(HALF_TURN_TASK);
    expect(parseArcTask(arcTaskJson(reread))).toEqual(reread);
    expect(JSON.parse(arcTaskJson(reread))).not.toHaveProperty('name');
  });

  it('copies the grids it reads', () => {
    const value = {
      train: [{ input: [[1]], output: [[2]] }],
      test: [{ input: [[3]], output: [[4]] }],
    };
    const task = parseArcTask(value);
    value.train[0]!.input[0]![0] = 9;
    expect(task.train[0]!.input).toEqual([[1]]);
  });

  it('says where and what is wrong', () => {
    expect(refusal('{"train": [')).toMatch(/^not JSON: /);
    expect(refusal([])).toBe('a task must be an object with "train" and "test" lists');
    expect(refusal({ test: [pair] })).toBe('a task needs "train", its list of demonstrations');
    expect(refusal({ train: [pair] })).toBe('a task needs "test", its list of pairs to solve');
    expect(refusal({ train: 'pairs', test: [pair] })).toBe(
      'train: the demonstrations must be a list of input/output pairs',
    );
    expect(refusal({ train: [], test: [pair] })).toBe(
      'train: at least one demonstration is needed',
    );
    expect(refusal({ train: [pair], test: [] })).toBe('test: at least one test pair is needed');
    expect(refusal({ train: [pair, 7], test: [pair] })).toBe(
      'train[1]: a pair must be an object with "input" and "output" grids',
    );
    expect(refusal({ train: [{ output: g }], test: [pair] })).toBe(
      'train[0]: an input grid is needed',
    );
    expect(refusal({ train: [{ input: g }], test: [pair] })).toBe(
      'train[0]: a demonstration needs an output',
    );
    expect(refusal({ train: [pair], test: [{ input: g }] })).toBe(
      'test[0]: an output is needed to grade the answer',
    );
  });

  it('refuses grids that are not rectangles of colours, and oversized ones', () => {
    const withOutput = (output: unknown) => ({ train: [pair, { input: g, output }], test: [pair] });
    expect(
      refusal(
        withOutput([
          [1, 2, 3, 4, 5],
          [1, 2, 3, 4],
        ]),
      ),
    ).toBe('train[1].output: row 2 has 4 cells, row 1 has 5: a grid must be a rectangle');
    expect(refusal(withOutput([[1, 10]]))).toBe(
      'train[1].output: cell (1, 2) is 10; a colour must be an integer 0–9',
    );
    expect(refusal(withOutput([[1, '2']]))).toBe(
      'train[1].output: cell (1, 2) is "2"; a colour must be an integer 0–9',
    );
    expect(refusal(withOutput([]))).toBe(
      'train[1].output: a grid must be a non-empty list of rows',
    );
    const tall = Array.from({ length: 31 }, () => [0]);
    expect(refusal({ train: [pair], test: [{ input: tall, output: g }] })).toBe(
      'test[0].input: a grid has 31 rows; at most 30 are allowed',
    );
    expect(refusal(withOutput([Array(31).fill(0)]))).toBe(
      'train[1].output: a grid has 31 columns; at most 30 are allowed',
    );
  });

  it('refuses too many pairs', () => {
    expect(refusal({ train: Array(11).fill(pair), test: [pair] })).toBe(
      'train: 11 demonstrations; at most 10 are allowed',
    );
    expect(refusal({ train: [pair], test: Array(5).fill(pair) })).toBe(
      'test: 5 test pairs; at most 4 are allowed',
    );
    expect(() =>
      parseArcTask({ train: Array(10).fill(pair), test: Array(4).fill(pair) }),
    ).not.toThrow();
  });

  it('reads one task or a collection by id, naming the task in every error', () => {
    expect(parseArcFile(HALF_TURN_TASK, 'half-turn')).toEqual([
      { id: 'half-turn', task: parseArcTask(HALF_TURN_TASK) },
    ]);
    const good = JSON.parse(arcTaskJson({ train: [pair], test: [pair] })) as unknown;
    const collection = JSON.stringify({ a1: good, b2: JSON.parse(HALF_TURN_TASK) });
    expect(parseArcFile(collection).map((t) => t.id)).toEqual(['a1', 'b2']);
    expect(parseArcFile(collection)[1]!.task).toEqual(parseArcTask(HALF_TURN_TASK));

    const broken = JSON.stringify({ a1: good, b2: { train: [pair], test: [{ input: g }] } });
    expect(() => parseArcFile(broken)).toThrow(
      new ArcFormatError('b2: test[0]: an output is needed to grade the answer'),
    );
    expect(() => parseArcFile('{"train": []}', 'mine')).toThrow(
      'mine: a task needs "test", its list of pairs to solve',
    );
    expect(() => parseArcFile('{"a1": 3}')).toThrow(
      'a1: a task must be an object with "train" and "test" lists',
    );
    expect(() => parseArcFile('{}')).toThrow('the file holds no tasks');
    expect(() => parseArcFile('[1]')).toThrow(
      'a task file must hold a task, or an object of tasks by id',
    );
    expect(() => parseArcFile('nope')).toThrow(/^not JSON: /);
  });
});
