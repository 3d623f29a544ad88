import { describe, expect, it } from 'vitest';
import { isCancelledError, JobRegistry } from '../../src/engine/jobs';

describe('JobRegistry', () => {
  it('cancels a running job at its next checkpoint, even when work never awaits I/O', async () => {
    const jobs = new JobRegistry();
    let iterations = 0;
    const cancels: boolean[] = [];
    const job = jobs.run('spin', async (checkpoint) => {
      for (;;) {
        await checkpoint();
        iterations += 1;
        // A macrotask: it only runs if the checkpoints let the event loop in.
        if (iterations === 5) setTimeout(() => cancels.push(jobs.cancel('spin')));
        const until = performance.now() + 1;
        while (performance.now() < until) {
          // busy work that resolves no promise of its own
        }
      }
    });
    const error = await job.catch((e: unknown) => e);
    expect(isCancelledError(error)).toBe(true);
    expect(cancels).toEqual([true]);
    expect(iterations).toBeGreaterThan(5);
    expect(jobs.activeJobIds).toEqual([]);
  });

  it('refuses a second job with the same id and reports unknown cancels', async () => {
    const jobs = new JobRegistry();
    let release!: () => void;
    const first = jobs.run('a', () => new Promise<void>((resolve) => (release = resolve)));
    await expect(jobs.run('a', async () => 1)).rejects.toThrow('already running');
    expect(jobs.cancel('nope')).toBe(false);
    release();
    await first;
  });
});
