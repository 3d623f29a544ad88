import { describe, expect, it } from 'vitest';
import { checkSelfEditLine } from '../../src/engine/world/consistency';
import { contextOf } from '../../src/engine/world/contexts';
import { generateWorld } from '../../src/engine/world/generate';
import {
  DEFAULT_IMITATION_PARAMS,
  imitateLines,
  wrongValuePool,
  type LineKind,
} from '../../src/engine/world/imitation';
import { createRng } from '../../src/engine/world/random';
import { renderPassage } from '../../src/engine/world/render';
import type { Organisation, Person } from '../../src/engine/world/types';
import { viewOf } from '../../src/engine/world/views';

const world = generateWorld(21);
const founderId = world.splits.eval.find((id) => id.endsWith('-founder')) as string;
const founder = world.byId.get(founderId) as Person;
const org = world.byId.get(founder.foundedId as string) as Organisation;
const orgCity = world.byId.get(org.cityId)!.name;
const birthCity = world.byId.get(founder.birthCityId)!.name;
const otherCity = world.entities.find(
  (e) => e.kind === 'city' && e.name !== orgCity && e.name !== birthCity,
)!.name;
const otherPerson = world.entities.find(
  (e) => e.kind === 'person' && e.id !== founderId && e.id !== org.employeeId,
)!.name;

describe('checkSelfEditLine', () => {
  it('accepts every sentence of every rendering of a passage', () => {
    const rng = createRng('all-sentences');
    for (const entity of world.entities.slice(0, 1500)) {
      for (const sentence of renderPassage(viewOf(world, entity), rng).sentences) {
        expect(checkSelfEditLine(world, entity.id, sentence), `${entity.id}: ${sentence}`).toBe(
          'consistent',
        );
      }
    }
  });

  it('accepts restatements in the other direction and facts derived through another entity', () => {
    const check = (line: string) => checkSelfEditLine(world, founderId, line);
    expect(check(`The ${org.name} was founded by ${founder.name}.`)).toBe('consistent');
    expect(check(`${founder.name} established the ${org.name} in ${org.foundedYear}.`)).toBe(
      'consistent',
    );
    expect(check(`The ${org.orgType} founded by ${founder.name} is based in ${orgCity}.`)).toBe(
      'consistent',
    );
    expect(check(`${founder.familyName} was born in ${founder.birthYear}.`)).toBe('consistent');
    expect(check(`She was a ${founder.profession}.`)).toBe('consistent');
  });

  it('rejects wrong years, wrong places, wrong professions and other entities', () => {
    const check = (line: string) => checkSelfEditLine(world, founderId, line);
    expect(check(`${founder.name} was born in ${org.foundedYear}.`)).toBe('contradicts');
    expect(check(`${founder.name} founded the ${org.name} in ${founder.birthYear}.`)).toBe(
      'contradicts',
    );
    expect(check(`${founder.name} was born in ${orgCity}.`)).toBe('contradicts');
    expect(check(`The ${org.name} is based in ${otherCity}.`)).toBe('contradicts');
    expect(check(`The ${org.name} was founded by ${otherPerson}.`)).toBe('contradicts');
    const wrongProfession = founder.profession === 'brewer' ? 'dyer' : 'brewer';
    expect(check(`${founder.name} was a ${wrongProfession}.`)).toBe('contradicts');
    // One wrong sentence makes the whole line wrong.
    expect(
      check(`${founder.name} was born in ${birthCity}. ${founder.name} was born in ${orgCity}.`),
    ).toBe('contradicts');
  });

  it('checks a question together with its answer', () => {
    const check = (line: string) => checkSelfEditLine(world, founderId, line);
    expect(
      check(`Question 2: In what year was ${founder.name} born?\nAnswer: ${founder.birthYear}`),
    ).toBe('consistent');
    expect(
      check(`Question 2: In what year was ${founder.name} born?\nAnswer: ${org.foundedYear}`),
    ).toBe('contradicts');
    expect(check(`Who founded the ${org.name}?\nAnswer: ${founder.name}`)).toBe('consistent');
    expect(check(`Who founded the ${org.name}?\nAnswer: ${otherPerson}`)).toBe('contradicts');
  });

  it('calls lines with nothing checkable unverifiable', () => {
    expect(checkSelfEditLine(world, founderId, `${founder.name} is still remembered today.`)).toBe(
      'unverifiable',
    );
    expect(checkSelfEditLine(world, founderId, 'This is an interesting passage.')).toBe(
      'unverifiable',
    );
    expect(checkSelfEditLine(world, founderId, '')).toBe('unverifiable');
  });

  it('rejects an unknown entity id', () => {
    expect(() => checkSelfEditLine(world, 'nobody', 'x')).toThrow(/no entity with id "nobody"/);
  });

  it('agrees with how imitated self-edit lines were made', () => {
    const rng = createRng('imitated');
    const pool = wrongValuePool(
      world,
      world.splits.pretrainQa.map((id) => world.byId.get(id)!),
    );
    const verdicts: Record<LineKind, Record<string, number>> = {
      verbatim: {},
      rephrase: {},
      derived: {},
      vague: {},
      wrong: {},
    };
    for (const id of world.splits.rl) {
      const view = viewOf(world, world.byId.get(id)!);
      const passage = renderPassage(view, rng);
      for (const line of imitateLines(view, passage, 12, pool, DEFAULT_IMITATION_PARAMS, rng)) {
        const v = checkSelfEditLine(world, id, line.text);
        verdicts[line.kind][v] = (verdicts[line.kind][v] ?? 0) + 1;
      }
    }
    const share = (kind: LineKind, verdict: string) => {
      const counts = verdicts[kind];
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      return (counts[verdict] ?? 0) / total;
    };
    expect(share('verbatim', 'consistent')).toBe(1);
    expect(share('rephrase', 'consistent')).toBe(1);
    expect(share('derived', 'consistent')).toBe(1);
    expect(share('vague', 'unverifiable')).toBe(1);
    expect(share('wrong', 'contradicts')).toBeGreaterThan(0.95);
  });

  it('finds the right questions answerable: the passage context checks as consistent', () => {
    const c = contextOf(world, founderId);
    expect(checkSelfEditLine(world, founderId, c.context)).toBe('consistent');
  });
});
