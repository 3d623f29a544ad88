import { entityAs, entityOf } from './generate';
import type { Entity, World } from './types';

/**
 * Flat views of an entity and the neighbours its passage talks about. Templates, questions and
 * self-edit lines read only views, so a wrong statement is simply a view with one value changed.
 */

export interface PersonRef {
  full: string;
  profession: string;
  birthCity: string;
}

export interface OrgRef {
  /** In running text: "the Morrow Glassworks". */
  name: string;
  title: string;
  orgType: string;
  year: number;
  city: string;
  country: string;
}

export interface InventionRef {
  name: string;
  title: string;
  device: string;
  purpose: string;
  year: number;
}

export interface PersonView {
  kind: 'person';
  title: string;
  full: string;
  short: string;
  pronoun: 'he' | 'she';
  possessive: 'his' | 'her';
  profession: string;
  birthYear: number;
  birthCity: string;
  birthSettlement: string;
  birthCountry: string;
  founded?: OrgRef;
  invented?: InventionRef;
  employer?: OrgRef;
}

export interface OrgView {
  kind: 'organisation';
  title: string;
  name: string;
  short: string;
  orgType: string;
  field: string;
  year: number;
  city: string;
  settlement: string;
  country: string;
  founder: PersonRef;
  employee: PersonRef;
  invention: InventionRef;
}

export interface InventionView {
  kind: 'invention';
  title: string;
  name: string;
  short: string;
  device: string;
  purpose: string;
  year: number;
  inventor: PersonRef;
  user: OrgRef;
}

export interface CityView {
  kind: 'city';
  title: string;
  name: string;
  short: string;
  settlement: string;
  country: string;
  river: string;
  year: number;
  industry: string;
}

export type EntityView = PersonView | OrgView | InventionView | CityView;

function personRef(world: World, id: string): PersonRef {
  const p = entityAs(world, id, 'person');
  return { full: p.name, profession: p.profession, birthCity: entityOf(world, p.birthCityId).name };
}

function orgRef(world: World, id: string): OrgRef {
  const o = entityAs(world, id, 'organisation');
  const city = entityAs(world, o.cityId, 'city');
  return {
    name: `the ${o.name}`,
    title: o.name,
    orgType: o.orgType,
    year: o.foundedYear,
    city: city.name,
    country: city.country,
  };
}

function inventionRef(world: World, id: string): InventionRef {
  const i = entityAs(world, id, 'invention');
  return {
    name: `the ${i.name}`,
    title: i.name,
    device: i.device,
    purpose: i.purpose,
    year: i.year,
  };
}

export function viewOf(world: World, entity: Entity): EntityView {
  switch (entity.kind) {
    case 'person': {
      const city = entityAs(world, entity.birthCityId, 'city');
      const view: PersonView = {
        kind: 'person',
        title: entity.name,
        full: entity.name,
        short: entity.familyName,
        pronoun: entity.pronoun,
        possessive: entity.pronoun === 'he' ? 'his' : 'her',
        profession: entity.profession,
        birthYear: entity.birthYear,
        birthCity: city.name,
        birthSettlement: city.settlement,
        birthCountry: city.country,
      };
      if (entity.foundedId) view.founded = orgRef(world, entity.foundedId);
      if (entity.inventedId) view.invented = inventionRef(world, entity.inventedId);
      if (entity.employerId) view.employer = orgRef(world, entity.employerId);
      return view;
    }
    case 'organisation': {
      const city = entityAs(world, entity.cityId, 'city');
      return {
        kind: 'organisation',
        title: entity.name,
        name: `the ${entity.name}`,
        short: `the ${entity.orgType}`,
        orgType: entity.orgType,
        field: entity.field,
        year: entity.foundedYear,
        city: city.name,
        settlement: city.settlement,
        country: city.country,
        founder: personRef(world, entity.founderId),
        employee: personRef(world, entity.employeeId),
        invention: inventionRef(world, entity.inventionId),
      };
    }
    case 'invention':
      return {
        kind: 'invention',
        title: entity.name,
        name: `the ${entity.name}`,
        short: `the ${entity.device}`,
        device: entity.device,
        purpose: entity.purpose,
        year: entity.year,
        inventor: personRef(world, entity.inventorId),
        user: orgRef(world, entity.userId),
      };
    case 'city':
      return {
        kind: 'city',
        title: entity.name,
        name: entity.name,
        short: `the ${entity.settlement}`,
        settlement: entity.settlement,
        country: entity.country,
        river: entity.river,
        year: entity.foundedYear,
        industry: entity.industry,
      };
  }
}
