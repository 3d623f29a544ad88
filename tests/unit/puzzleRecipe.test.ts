import { describe, expect, it } from 'vitest';
import {
  EPOCH_RANGE,
  LEARNING_RATE_RANGE,
  parseRecipe,
  randomRecipe,
  RECIPE_KEYS,
  recipeSteps,
  recipeText,
  sampleRecipeUntilValid,
  UNEVEN_RECIPES,
  withinBudget,
  type Recipe,
} from '../../src/engine/puzzles/recipe';
import { createRng } from '../../src/engine/world/random';

const example: Recipe = {
  basic: true,
  size: false,
  chain: false,
  repeat: false,
  loss: 'outputs',
  learningRate: 0.003,
  epochs: 2,
};
const exampleText =
  '{"basic":true,"size":false,"chain":false,"repeat":false,"loss":"outputs","lr":0.003,"epochs":2}';

/** The example's text with one key's value replaced (`undefined` drops the key). */
function withValue(key: string, value: unknown): string {
  return JSON.stringify({ ...(JSON.parse(exampleText) as object), [key]: value });
}

function reasonOf(text: string): string {
  const parsed = parseRecipe(text);
  if (parsed.ok) throw new Error(`expected ${text} to be refused`);
  return parsed.reason;
}

describe('recipe text', () => {
  it('writes the canonical compact form', () => {
    expect(recipeText(example)).toBe(exampleText);
  });

  it('round-trips many random recipes, keys always in the canonical order', () => {
    const rng = createRng('recipe round trip');
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const recipe = randomRecipe(rng);
      const text = recipeText(recipe);
      seen.add(text);
      expect(Object.keys(JSON.parse(text) as object)).toEqual([...RECIPE_KEYS]);
      expect(parseRecipe(text)).toEqual({ ok: true, recipe });
    }
    expect(seen.size).toBeGreaterThan(300);
  });

  it('writes the learning rate without float noise', () => {
    const noisy = { ...example, learningRate: 0.0001 * 3 };
    expect(String(noisy.learningRate)).not.toBe('0.0003');
    expect(recipeText(noisy)).toContain('"lr":0.0003,');
    expect(recipeText({ ...example, learningRate: 2.5e-4 })).toContain('"lr":0.00025,');
    expect(recipeText({ ...example, learningRate: 1e-5 })).toContain('"lr":0.00001,');
  });

  it('reads the recipe out of the text around it, in any key order, with spaces', () => {
    expect(parseRecipe(`${exampleText}\nend and more`)).toEqual({ ok: true, recipe: example });
    expect(parseRecipe(`recipe:\n${exampleText}{"basic":1}`)).toEqual({
      ok: true,
      recipe: example,
    });
    const reordered =
      '{ "epochs": 2, "lr": 3e-3, "loss": "outputs", "repeat": false,\n' +
      '"chain": false, "size": false, "basic": true }';
    expect(parseRecipe(reordered)).toEqual({ ok: true, recipe: example });
  });

  it('counts braces inside strings as text', () => {
    expect(reasonOf('{"loss":"a}b","x":1} tail')).toBe('missing "basic"');
  });
});

describe('invalid recipes', () => {
  const cases: [string, string][] = [
    ['', 'not JSON: no "{" in the text'],
    ['basic true', 'not JSON: no "{" in the text'],
    [exampleText.slice(0, 40), 'not JSON:'],
    ['{"basic":true,}', 'not JSON:'],
    [withValue('epochs', undefined), 'missing "epochs"'],
    [withValue('basic', undefined), 'missing "basic"'],
    [withValue('learningRate', 0.003), 'unknown key "learningRate"'],
    [withValue('basic', 'yes'), '"basic" must be true or false, got "yes"'],
    [withValue('repeat', 1), '"repeat" must be true or false, got 1'],
    [withValue('loss', 'answers'), '"loss" must be "all" or "outputs", got "answers"'],
    [withValue('lr', 3), 'lr 3 is outside 0.00001–0.1'],
    [withValue('lr', 0), 'lr 0 is outside 0.00001–0.1'],
    [withValue('lr', '0.003'), '"lr" must be a number, got "0.003"'],
    [withValue('epochs', 0), 'epochs 0 is outside 1–10'],
    [withValue('epochs', 11), 'epochs 11 is outside 1–10'],
    [withValue('epochs', 2.5), 'epochs 2.5 is not a whole number'],
    [withValue('epochs', null), '"epochs" must be a number, got null'],
  ];
  for (const [text, reason] of cases) {
    it(`refuses ${JSON.stringify(text)}: ${reason}`, () => {
      const actual = reasonOf(text);
      // JSON.parse's own message follows 'not JSON: '; every other reason is given in full.
      if (reason.endsWith(':')) expect(actual.startsWith(`${reason} `), actual).toBe(true);
      else expect(actual).toBe(reason);
    });
  }

  it('accepts the ends of the documented ranges', () => {
    for (const [lr, epochs] of [
      [LEARNING_RATE_RANGE.min, EPOCH_RANGE.min],
      [LEARNING_RATE_RANGE.max, EPOCH_RANGE.max],
    ] as const) {
      const parsed = parseRecipe(withValue('lr', lr).replace('"epochs":2', `"epochs":${epochs}`));
      expect(parsed).toEqual({ ok: true, recipe: { ...example, learningRate: lr, epochs } });
    }
  });
});

describe('sampleRecipeUntilValid', () => {
  it('resamples invalid texts and stops at the first valid one', async () => {
    const texts = ['{"basic":', 'no recipe', exampleText, withValue('epochs', 3)];
    const asked: number[] = [];
    const result = await sampleRecipeUntilValid(async (attempt) => {
      asked.push(attempt);
      return texts[attempt] as string;
    }, 10);
    expect(asked).toEqual([0, 1, 2]);
    expect(result.recipe).toEqual(example);
    expect(result.attempts.map((a) => a.text)).toEqual(texts.slice(0, 3));
    expect(result.attempts[0]?.reason).toMatch(/^not JSON: /);
    expect(result.attempts[1]?.reason).toBe('not JSON: no "{" in the text');
    expect(result.attempts[2]?.reason).toBeNull();
  });

  it('gives up after maxAttempts invalid texts', async () => {
    let calls = 0;
    const result = await sampleRecipeUntilValid(async () => {
      calls++;
      return withValue('lr', 5);
    }, 4);
    expect(calls).toBe(4);
    expect(result.recipe).toBeNull();
    expect(result.attempts).toHaveLength(4);
    expect(result.attempts.every((a) => a.reason === 'lr 5 is outside 0.00001–0.1')).toBe(true);
  });

  it('refuses a number of attempts below one', async () => {
    await expect(sampleRecipeUntilValid(async () => exampleText, 0)).rejects.toThrow(/attempts/);
  });
});

describe('step budget', () => {
  it('counts batches per epoch, rounding a partial batch up', () => {
    expect(recipeSteps(8, { epochs: 3 }, 2)).toBe(12);
    expect(recipeSteps(9, { epochs: 3 }, 2)).toBe(15);
    expect(recipeSteps(1, { epochs: 10 }, 4)).toBe(10);
    expect(recipeSteps(0, example, 2)).toBe(0);
    expect(recipeSteps(24, example, 1)).toBe(48);
  });

  it('refuses counts that are not whole numbers', () => {
    expect(() => recipeSteps(8, example, 0)).toThrow(/batch size/);
    expect(() => recipeSteps(-1, example, 2)).toThrow(/examples/);
    expect(() => recipeSteps(2.5, example, 2)).toThrow(/examples/);
  });

  it('keeps recipes at or under the budget', () => {
    expect(withinBudget(375, 375)).toBe(true);
    expect(withinBudget(376, 375)).toBe(false);
    expect(withinBudget(recipeSteps(40, { epochs: 10 }, 2), 100)).toBe(false);
    expect(withinBudget(recipeSteps(40, { epochs: 5 }, 2), 100)).toBe(true);
  });
});

describe('randomRecipe', () => {
  it('is reproducible from a seed and differs across seeds', () => {
    const draw = (seed: string) => {
      const rng = createRng(seed);
      return Array.from({ length: 20 }, () => recipeText(randomRecipe(rng)));
    };
    expect(draw('a')).toEqual(draw('a'));
    expect(draw('a')).not.toEqual(draw('b'));
  });

  it('spreads over every value the distribution allows', () => {
    const rng = createRng('spread');
    const recipes = Array.from({ length: 2000 }, () => randomRecipe(rng));
    expect(new Set(recipes.map((r) => r.learningRate))).toEqual(
      new Set(UNEVEN_RECIPES.learningRates),
    );
    expect(new Set(recipes.map((r) => r.epochs)).size).toBe(EPOCH_RANGE.max - EPOCH_RANGE.min + 1);
    for (const key of ['basic', 'size', 'chain', 'repeat'] as const) {
      const share = recipes.filter((r) => r[key]).length / recipes.length;
      expect(share).toBeGreaterThan(0.4);
      expect(share).toBeLessThan(0.6);
    }
    const outputs = recipes.filter((r) => r.loss === 'outputs').length / recipes.length;
    expect(outputs).toBeGreaterThan(0.4);
    expect(outputs).toBeLessThan(0.6);
  });

  it('follows a narrower spread', () => {
    const rng = createRng('narrow');
    const spread = {
      augmentation: { basic: 1, size: 0, chain: 0, repeat: 1 },
      outputsLoss: 1,
      learningRates: [0.001],
      epochs: { min: 2, max: 3 },
    };
    for (let i = 0; i < 50; i++) {
      const recipe = randomRecipe(rng, spread);
      expect(recipe).toMatchObject({ basic: true, size: false, chain: false, repeat: true });
      expect(recipe.loss).toBe('outputs');
      expect(recipe.learningRate).toBe(0.001);
      expect([2, 3]).toContain(recipe.epochs);
    }
  });

  it('refuses a spread that would draw invalid recipes', () => {
    const rng = createRng('bad');
    expect(() => randomRecipe(rng, { ...UNEVEN_RECIPES, learningRates: [0.5] })).toThrow(
      /learning rates/,
    );
    expect(() => randomRecipe(rng, { ...UNEVEN_RECIPES, learningRates: [] })).toThrow(
      /learning rates/,
    );
    expect(() => randomRecipe(rng, { ...UNEVEN_RECIPES, epochs: { min: 1, max: 20 } })).toThrow(
      /epochs/,
    );
  });
});
