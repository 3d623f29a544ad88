import { describe, expect, it } from 'vitest';
import { evaluateAndStore, positionsAfter, stepWindows } from '../../src/engine/storedRun';

const at = (contextIndex: number) => ({ round: 0, contextIndex, sampleIndex: 0 });

describe('the steps of a round', () => {
  it('run in windows that keep the workers busy, never mixing weights, one at a time alone', () => {
    const steps = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ n, weights: n <= 5 ? 'a' : 'b' }));
    const ids = (windows: { n: number }[][]) => windows.map((w) => w.map((s) => s.n));
    const sameWeights = (a: { weights: string }, b: { weights: string }) => a.weights === b.weights;
    expect(ids(stepWindows(steps, 1, sameWeights))).toEqual([
      [1],
      [2],
      [3],
      [4],
      [5],
      [6],
      [7],
      [8],
    ]);
    expect(ids(stepWindows(steps, 2, sameWeights))).toEqual([
      [1, 2, 3, 4, 5],
      [6, 7, 8],
    ]);
    expect(ids(stepWindows(steps, 1))).toHaveLength(8);
    expect(ids(stepWindows(steps, 2))).toEqual([
      [1, 2, 3, 4, 5, 6],
      [7, 8],
    ]);
  });

  it('move the run to the next step, and past the last to the end given', () => {
    const steps = [{ position: at(0) }, { position: at(1) }];
    const after = positionsAfter(steps, { round: 1, contextIndex: 0, sampleIndex: 0 });
    expect(after.get(steps[0]!)).toEqual(at(1));
    expect(after.get(steps[1]!)).toEqual({ round: 1, contextIndex: 0, sampleIndex: 0 });
  });

  it('are evaluated side by side but stored in plan order, and a pause stores nothing more', async () => {
    const log: string[] = [];
    const releases = new Map<number, () => void>();
    // Resolves once step n's evaluation has begun.
    const starts = new Map<number, () => void>();
    const started = new Map(
      [1, 2, 3, 4].map((n) => [n, new Promise<void>((resolve) => starts.set(n, resolve))]),
    );
    let pauses = 0;
    const done = evaluateAndStore(
      [
        [1, 2],
        [3, 4],
      ],
      {
        beforeWindow: async (first) => void log.push(`ready ${first}`),
        evaluate: (n) =>
          new Promise<number>((resolve) => {
            log.push(`evaluate ${n}`);
            releases.set(n, () => resolve(n * 10));
            starts.get(n)!();
          }),
        store: async (n, result) => void log.push(`store ${n}: ${result}`),
        checkpoint: async () => {
          if (++pauses === 3) throw new Error('paused');
        },
      },
    );
    // The second step of a window finishes first; the first is still stored first.
    await started.get(2);
    releases.get(2)!();
    releases.get(1)!();
    await started.get(4);
    releases.get(4)!();
    releases.get(3)!();
    await expect(done).rejects.toThrow('paused');
    expect(log).toEqual([
      'ready 1',
      'evaluate 1',
      'evaluate 2',
      'store 1: 10',
      'store 2: 20',
      'ready 3',
      'evaluate 3',
      'evaluate 4',
    ]);
  });

  it('surface the failure of a step stored later without an unhandled rejection', async () => {
    const done = evaluateAndStore([[1, 2]], {
      evaluate: async (n) => {
        if (n === 2) throw new Error('step 2 failed');
        return n;
      },
      store: async () => undefined,
    });
    await expect(done).rejects.toThrow('step 2 failed');
  });
});
