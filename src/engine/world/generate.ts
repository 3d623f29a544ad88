import { PROFESSIONS, SETTLEMENTS, TRADES, lexiconWords, titleCase } from './lexicon';
import { NameForge } from './names';
import { createRng, type Rng } from './random';
import {
  DEFAULT_WORLD_PARAMS,
  type City,
  type Entity,
  type Invention,
  type Organisation,
  type Person,
  type Split,
  type World,
  type WorldParams,
} from './types';

const GIVEN_NAMES_PER_PRONOUN = 60;

function checkParams(params: WorldParams): void {
  for (const [key, value] of Object.entries(params) as [keyof WorldParams, number][]) {
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(`world params: ${key} must be a non-negative number, got ${value}`);
    }
  }
  if (params.cities < 1 || params.countries < 1 || params.rivers < 1) {
    throw new Error('world params: cities, countries and rivers must each be at least 1');
  }
  if (params.pretrainQaFraction > 1) {
    throw new Error(
      `world params: pretrainQaFraction must be in [0, 1], got ${params.pretrainQaFraction}`,
    );
  }
}

/**
 * Generates a world from a seed. The same seed and params always give the same world; the
 * entities of the RL and evaluation splits share cities with the pretraining world (the geography
 * is known) but nothing else, so their names never occur in pretraining text.
 */
export function generateWorld(seed: number, overrides: Partial<WorldParams> = {}): World {
  if (!Number.isInteger(seed)) throw new Error(`world seed must be an integer, got ${seed}`);
  const params: WorldParams = { ...DEFAULT_WORLD_PARAMS, ...overrides };
  checkParams(params);
  const rng = createRng(`world/${seed}`);
  const names = new NameForge(rng.fork('names'), lexiconWords());
  const entities: Entity[] = [];
  const byId = new Map<string, Entity>();
  const add = <E extends Entity>(entity: E): E => {
    entities.push(entity);
    byId.set(entity.id, entity);
    return entity;
  };

  const countries = Array.from({ length: params.countries }, () => names.fresh(rng.pick([2, 3])));
  const rivers = Array.from({ length: params.rivers }, () => names.fresh(2));
  const givenNames = {
    he: Array.from({ length: GIVEN_NAMES_PER_PRONOUN }, () => names.fresh(2)),
    she: Array.from({ length: GIVEN_NAMES_PER_PRONOUN }, () => names.fresh(2)),
  };

  const cityRng = rng.fork('cities');
  const cities: City[] = [];
  for (let i = 0; i < params.cities; i++) {
    const name = names.fresh(cityRng.pick([2, 2, 3]));
    cities.push(
      add({
        kind: 'city',
        id: `city-${i}`,
        split: 'pretrain',
        name,
        settlement: cityRng.pick(SETTLEMENTS),
        country: cityRng.pick(countries),
        river: cityRng.pick(rivers),
        foundedYear: cityRng.between(850, 1550),
        industry: cityRng.pick(TRADES).field,
      }),
    );
  }

  const clusterCount =
    params.pretrainClusters + params.rlClusters + params.evalClusters + params.scratchClusters;
  const splitOfCluster: Split[] = [
    ...Array<Split>(params.rlClusters).fill('rl'),
    ...Array<Split>(params.evalClusters).fill('eval'),
    ...Array<Split>(params.pretrainClusters).fill('pretrain'),
    ...Array<Split>(params.scratchClusters).fill('scratch'),
  ];
  const person = (r: Rng, id: string, split: Split, bornFrom: number, bornTo: number): Person => {
    const pronoun = r.pick(['he', 'she'] as const);
    const givenName = r.pick(givenNames[pronoun]);
    const familyName = names.fresh(r.pick([2, 2, 3]));
    return {
      kind: 'person',
      id,
      split,
      name: `${givenName} ${familyName}`,
      givenName,
      familyName,
      pronoun,
      birthYear: r.between(bornFrom, bornTo),
      birthCityId: r.pick(cities).id,
      profession: r.pick(PROFESSIONS),
    };
  };
  const pretrainClusters: string[][] = [];
  for (let c = 0; c < clusterCount; c++) {
    const r = rng.fork(`cluster-${c}`);
    const split = splitOfCluster[c] as Split;
    const trade = r.pick(TRADES);
    const { device, purpose } = r.pick(trade.devices);
    const founder = person(r, `person-${c}-founder`, split, 1740, 1840);
    const inventor = person(
      r,
      `person-${c}-inventor`,
      split,
      founder.birthYear - 10,
      founder.birthYear + 30,
    );
    const orgCore = names.fresh(r.pick([2, 3]));
    const inventionCore = names.fresh(2);
    const organisation: Organisation = {
      kind: 'organisation',
      id: `org-${c}`,
      split,
      name: `${orgCore} ${titleCase(trade.orgType)}`,
      coreName: orgCore,
      orgType: trade.orgType,
      field: trade.field,
      foundedYear: founder.birthYear + r.between(22, 50),
      founderId: founder.id,
      cityId: r.pick(cities).id,
      employeeId: inventor.id,
      inventionId: `invention-${c}`,
    };
    const invention: Invention = {
      kind: 'invention',
      id: `invention-${c}`,
      split,
      name: `${inventionCore} ${device}`,
      coreName: inventionCore,
      device,
      purpose,
      year: inventor.birthYear + r.between(20, 45),
      inventorId: inventor.id,
      userId: organisation.id,
    };
    founder.foundedId = organisation.id;
    inventor.inventedId = invention.id;
    inventor.employerId = organisation.id;
    add(founder);
    add(organisation);
    add(inventor);
    add(invention);
    if (split === 'pretrain') {
      pretrainClusters.push([founder.id, organisation.id, inventor.id, invention.id]);
    }
  }

  const ofSplit = (split: Split) => entities.filter((e) => e.split === split).map((e) => e.id);
  const pretrain = ofSplit('pretrain');
  // Whole clusters go to the QA side or the probe side, so a probe entity's name never turns up in
  // a question or answer about a QA entity (their relations stay inside the cluster). Cities are
  // shared by everyone and stay on the QA side.
  const shuffled = rng.fork('pretrain-qa').shuffle(pretrainClusters);
  const qaSet = new Set([
    ...cities.map((c) => c.id),
    ...shuffled.slice(0, Math.round(shuffled.length * params.pretrainQaFraction)).flat(),
  ]);
  return {
    seed,
    params,
    entities,
    byId,
    splits: {
      pretrain,
      pretrainQa: pretrain.filter((id) => qaSet.has(id)),
      pretrainProbe: pretrain.filter((id) => !qaSet.has(id)),
      rl: ofSplit('rl'),
      eval: ofSplit('eval'),
      scratch: ofSplit('scratch'),
    },
  };
}

/** The entity with this id, or a clear error naming it. */
export function entityOf(world: World, id: string): Entity {
  const entity = world.byId.get(id);
  if (!entity) throw new Error(`world (seed ${world.seed}) has no entity with id "${id}"`);
  return entity;
}

export function entityAs<K extends Entity['kind']>(
  world: World,
  id: string,
  kind: K,
): Extract<Entity, { kind: K }> {
  const entity = entityOf(world, id);
  if (entity.kind !== kind) throw new Error(`entity "${id}" is a ${entity.kind}, not a ${kind}`);
  return entity as Extract<Entity, { kind: K }>;
}
