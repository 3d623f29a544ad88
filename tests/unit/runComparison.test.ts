import { describe, expect, it } from 'vitest';
import { parseComparedRuns, settingDifferences } from '../../src/ui/runComparison';

describe('runs compared side by side', () => {
  it('lists only the settings that differ, with every run’s value, a missing one as a dash', () => {
    const first = { seed: 1, selfEdit: { samples: 2, format: 'implications' }, lr: [1, 2] };
    const second = { seed: 1, selfEdit: { samples: 3, format: 'implications' }, lr: [1, 3] };
    const third = { seed: 1, selfEdit: { samples: 2, format: 'implications' }, extra: null };
    expect(settingDifferences([first, second, third])).toEqual([
      { setting: 'selfEdit.samples', values: ['2', '3', '2'] },
      { setting: 'lr', values: ['[1,2]', '[1,3]', '—'] },
      { setting: 'extra', values: ['—', '—', 'null'] },
    ]);
    expect(settingDifferences([first, structuredClone(first)])).toEqual([]);
  });

  it('reads the compared run ids from the address, each once, skipping empty ones', () => {
    const params = new URLSearchParams('tab=history&compare=run-a,,run-b,run-a');
    expect(parseComparedRuns(params)).toEqual(['run-a', 'run-b']);
    expect(parseComparedRuns(new URLSearchParams('tab=history'))).toEqual([]);
  });
});
