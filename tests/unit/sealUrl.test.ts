import { describe, expect, it } from 'vitest';
import { resolveSealConfig } from '../../src/engine/seal/config';
import { presetConfig, presetOf, sealPreset } from '../../src/engine/seal/presets';
import { durationRange } from '../../src/ui/format';
import {
  formOfLink,
  linkOfForm,
  parseSealLink,
  sealLinkParameters,
  type SealLink,
} from '../../src/ui/sealUrl';

function paramsOf(link: SealLink, others = 'tab=seal&backend=wasm'): URLSearchParams {
  const params = new URLSearchParams(others);
  for (const [name, value] of Object.entries(sealLinkParameters(link))) {
    if (value === null) params.delete(name);
    else params.set(name, value);
  }
  return params;
}

describe('the SEAL link', () => {
  it('reads a preset and settings by short name', () => {
    expect(parseSealLink(new URLSearchParams('preset=quick-demo&k=3&rounds=2&world=5'))).toEqual({
      run: null,
      preset: 'quick-demo',
      settings: { k: 3, rounds: 2 },
      world: 5,
    });
  });

  it('leaves out unknown presets, the defaults and values that are not whole numbers', () => {
    for (const query of ['preset=nonsense&k=2.5&rounds=', 'preset=defaults&k=three']) {
      expect(parseSealLink(new URLSearchParams(query))).toEqual({
        run: null,
        preset: null,
        settings: {},
        world: null,
      });
    }
  });

  it('round-trips through the address, keeping the other parameters', () => {
    const links: SealLink[] = [
      { run: null, preset: 'classroom', settings: { k: 4, epochs: 2, seed: -3 }, world: 2 },
      { run: null, preset: null, settings: { heldout: 0, contexts: 7 }, world: null },
      { run: 'run-123', preset: null, settings: {}, world: null },
    ];
    for (const link of links) {
      const params = paramsOf(link);
      expect(parseSealLink(params)).toEqual(link);
      expect(params.get('tab')).toBe('seal');
      expect(params.get('backend')).toBe('wasm');
    }
    // A link without settings removes the ones the address had.
    const params = paramsOf(links[0]!);
    const cleared = paramsOf(links[2]!, params.toString());
    expect([...cleared.keys()].sort()).toEqual(['backend', 'run', 'tab']);
  });

  it('fills a form with the preset and the settings, and writes the same link back', () => {
    const link: SealLink = {
      run: null,
      preset: 'quick-demo',
      settings: { k: 3, rounds: 2 },
      world: 4,
    };
    const form = formOfLink(link);
    const quick = presetConfig(sealPreset('quick-demo')!);
    expect(form.presetId).toBe('quick-demo');
    expect(form.worldSeed).toBe(4);
    expect(form.config).toEqual({
      ...quick,
      selfEdit: { ...quick.selfEdit, samples: 3 },
      outer: { ...quick.outer, rounds: 2 },
    });
    expect(linkOfForm(form, form.presetId, null)).toEqual(link);
  });

  it('keeps the preset’s value of a setting the link breaks the rule of', () => {
    const form = formOfLink({ run: null, preset: 'classroom', settings: { k: 0 }, world: null });
    expect(form.config).toEqual(presetConfig(sealPreset('classroom')!));
    expect(presetOf(form.config, form.worldSeed)?.id).toBe('classroom');
  });

  it('names only a run shown unchanged', () => {
    const form = { config: resolveSealConfig({ selfEdit: { samples: 9 } }), worldSeed: 1 };
    expect(linkOfForm(form, 'defaults', 'run-1')).toEqual({
      run: 'run-1',
      preset: null,
      settings: {},
      world: null,
    });
    expect(linkOfForm(form, 'defaults', null)).toEqual({
      run: null,
      preset: null,
      settings: { k: 9 },
      world: null,
    });
  });
});

describe('durationRange', () => {
  it('picks a readable unit and rounds in it', () => {
    expect(durationRange(40, 70)).toBe('about 40–70 seconds');
    expect(durationRange(78, 137)).toBe('about 1–2 minutes');
    expect(durationRange(654, 1098)).toBe('about 11–18 minutes');
    expect(durationRange(12_600, 18_000)).toBe('about 3.5–5 hours');
    expect(durationRange(142_620, 245_328)).toBe('about 1.7–2.8 days');
    expect(durationRange(55, 65)).toBe('about 55–65 seconds');
    expect(durationRange(60, 85)).toBe('about 60–85 seconds');
    expect(durationRange(3000, 3100)).toBe('about 50–52 minutes');
    expect(durationRange(95, 100)).toBe('about 2 minutes');
  });
});
