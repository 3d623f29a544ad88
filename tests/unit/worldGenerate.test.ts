import { describe, expect, it } from 'vitest';
import { contextOf, squadExport } from '../../src/engine/world/contexts';
import { generateWorld } from '../../src/engine/world/generate';
import { createRng } from '../../src/engine/world/random';
import { renderPassage } from '../../src/engine/world/render';
import { viewOf } from '../../src/engine/world/views';

const world = generateWorld(1);

const serialise = (seed: number) => {
  const w = generateWorld(seed);
  return JSON.stringify({
    entities: w.entities,
    splits: w.splits,
    eval: squadExport(w, w.splits.eval),
  });
};

describe('world generator', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(serialise(7)).toBe(serialise(7));
    expect(serialise(7)).not.toBe(serialise(8));
  });

  it('has the default split sizes, with at least 200 RL and 200 evaluation contexts', () => {
    const { splits } = world;
    expect(splits.rl.length).toBeGreaterThanOrEqual(200);
    expect(splits.eval.length).toBeGreaterThanOrEqual(200);
    expect(splits.pretrain.length).toBe(1240);
    expect(splits.pretrainQa.length + splits.pretrainProbe.length).toBe(splits.pretrain.length);
  });

  it('keeps the splits disjoint, and held-out entities only ever related to cities or each other', () => {
    const sets = ['pretrain', 'rl', 'eval', 'scratch'].map(
      (k) => new Set(world.splits[k as 'pretrain' | 'rl' | 'eval' | 'scratch']),
    );
    for (let i = 0; i < sets.length; i++) {
      for (let j = i + 1; j < sets.length; j++) {
        for (const id of sets[i] as Set<string>)
          expect((sets[j] as Set<string>).has(id)).toBe(false);
      }
    }
    const qa = new Set(world.splits.pretrainQa);
    expect(world.splits.pretrainProbe.some((id) => qa.has(id))).toBe(false);
    for (const e of world.entities) {
      const related =
        e.kind === 'person'
          ? [e.foundedId, e.inventedId, e.employerId]
          : e.kind === 'organisation'
            ? [e.founderId, e.employeeId, e.inventionId]
            : e.kind === 'invention'
              ? [e.inventorId, e.userId]
              : [];
      for (const id of related) {
        if (id) expect(world.byId.get(id)?.split).toBe(e.split);
      }
    }
  });

  it('gives every entity a unique name, and never reuses a family name or invented name part', () => {
    const names = world.entities.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    const parts = world.entities.flatMap((e) =>
      e.kind === 'person' ? [e.familyName] : e.kind === 'city' ? [e.name] : [e.coreName],
    );
    expect(new Set(parts).size).toBe(parts.length);
  });

  it('asks at least 5 questions per passage, every kind present, answers stated in the passage', () => {
    for (const id of [...world.splits.rl, ...world.splits.eval]) {
      const c = contextOf(world, id);
      expect(c.questions.length).toBeGreaterThanOrEqual(5);
      const kinds = new Set(c.questions.map((q) => q.kind));
      for (const kind of ['direct', 'paraphrase', 'reverse', 'derived'] as const) {
        expect(kinds.has(kind), `${id} lacks a ${kind} question`).toBe(true);
      }
      for (const q of c.questions)
        expect(c.context.toLowerCase()).toContain(q.answer.toLowerCase());
    }
  });

  it('states every answer in every rendering of a passage', () => {
    const rng = createRng('renderings');
    for (const id of world.splits.eval.slice(0, 40)) {
      const view = viewOf(world, world.byId.get(id)!);
      const questions = contextOf(world, id).questions;
      for (let k = 0; k < 10; k++) {
        const text = renderPassage(view, rng).context.toLowerCase();
        for (const q of questions) expect(text).toContain(q.answer.toLowerCase());
      }
    }
  });

  it('renders a passage in varied surface forms', () => {
    const rng = createRng('variety');
    const view = viewOf(world, world.byId.get(world.splits.eval[0] as string)!);
    const renderings = new Set(Array.from({ length: 20 }, () => renderPassage(view, rng).context));
    expect(renderings.size).toBeGreaterThan(10);
  });

  it('phrases reverse questions unlike the passage (the asked direction is not the stated one)', () => {
    const c = contextOf(world, world.splits.eval.find((id) => id.endsWith('founder')) as string);
    const reverse = c.questions.find((q) => q.kind === 'reverse');
    expect(reverse?.answer).toBe(c.title);
    expect(reverse?.phrasings.every((p) => p.startsWith('Who') || p.startsWith('By whom'))).toBe(
      true,
    );
  });

  it('exports the SQuAD-style shape: title, context, questions of question and answer', () => {
    const exported = squadExport(world, world.splits.eval);
    expect(exported.length).toBe(world.splits.eval.length);
    for (const item of exported) {
      expect(Object.keys(item).sort()).toEqual(['context', 'questions', 'title']);
      expect(typeof item.title).toBe('string');
      expect(typeof item.context).toBe('string');
      for (const q of item.questions) {
        expect(Object.keys(q).sort()).toEqual(['answer', 'question']);
        expect(q.question.endsWith('?')).toBe(true);
        expect(q.answer.length).toBeGreaterThan(0);
      }
    }
    expect(JSON.parse(JSON.stringify(exported))).toEqual(exported);
  });

  it('rejects bad seeds, bad params and unknown ids with a clear message', () => {
    expect(() => generateWorld(1.5)).toThrow(/seed must be an integer/);
    expect(() => generateWorld(1, { cities: 0 })).toThrow(/cities/);
    expect(() => generateWorld(1, { pretrainQaFraction: 2 })).toThrow(/pretrainQaFraction/);
    expect(() => contextOf(world, 'nobody')).toThrow(/no entity with id "nobody"/);
  });
});
