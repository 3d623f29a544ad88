import type { QuestionKind, WorldQuestion } from './types';
import type { EntityView, PersonView } from './views';

/**
 * Questions about a passage, with short gold answers. Every answer is stated by every rendering of
 * the passage. Kinds: `direct` asks the way the passage states it, `paraphrase` names the relation
 * in other words, `reverse` asks from the other side of a relation ("Who founded X?" for "A founded
 * X"), `derived` goes through another entity that the passage also describes.
 */

const q = (kind: QuestionKind, answer: string | number, phrasings: string[]): WorldQuestion => ({
  kind,
  answer: String(answer),
  phrasings,
});

function personQuestions(v: PersonView): WorldQuestion[] {
  const p = v.full;
  const out = [
    q('direct', v.birthYear, [
      `In what year was ${p} born?`,
      `When was ${p} born?`,
      `What year was ${p} born in?`,
    ]),
    q('direct', v.birthCity, [
      `Where was ${p} born?`,
      `In which town or city was ${p} born?`,
      `What is the birthplace of ${p}?`,
    ]),
    q('paraphrase', v.profession, [
      `What was ${p}'s profession?`,
      `What did ${p} do for a living?`,
      `What was the occupation of ${p}?`,
      `What trade did ${p} follow?`,
    ]),
    q('derived', v.birthCountry, [
      `In which country was ${p} born?`,
      `What country was ${p} born in?`,
    ]),
  ];
  const org = v.founded;
  if (org) {
    out.push(
      q('reverse', p, [
        `Who founded ${org.name}?`,
        `Who established ${org.name}?`,
        `Who was the founder of ${org.name}?`,
        `By whom was ${org.name} founded?`,
      ]),
      q('direct', org.title, [
        `What did ${p} found?`,
        `Which organisation did ${p} establish?`,
        `What is the name of the ${org.orgType} that ${p} founded?`,
      ]),
      q('paraphrase', org.year, [
        `In what year did ${p} found ${org.name}?`,
        `When was ${org.name} established?`,
        `In which year was ${org.name} set up?`,
      ]),
      q('derived', org.city, [
        `In which city is the organisation founded by ${p} based?`,
        `Where is the ${org.orgType} founded by ${p} based?`,
        `In which town does the organisation that ${p} founded have its seat?`,
      ]),
    );
  }
  const inv = v.invented;
  if (inv) {
    out.push(
      q('reverse', p, [
        `Who invented ${inv.name}?`,
        `Who devised ${inv.name}?`,
        `Who is the inventor of ${inv.name}?`,
      ]),
      q('direct', inv.title, [`What did ${p} invent?`, `Which device did ${p} invent?`]),
      q('paraphrase', inv.year, [
        `In what year did ${p} invent ${inv.name}?`,
        `When was ${inv.name} invented?`,
        `In which year was ${inv.name} devised?`,
      ]),
    );
  }
  const emp = v.employer;
  if (emp) {
    out.push(
      q('direct', emp.title, [
        `Which organisation did ${p} work for?`,
        `Who employed ${p}?`,
        `Where did ${p} work?`,
      ]),
      q('derived', emp.city, [
        `In which city is the organisation that ${p} worked for based?`,
        `Where is the employer of ${p} based?`,
      ]),
    );
    if (inv) {
      out.push(
        q('reverse', inv.title, [
          `Which device does ${emp.name} use?`,
          `What invention does ${emp.name} rely on?`,
        ]),
      );
    }
  }
  return out;
}

export function questionsFor(view: EntityView): WorldQuestion[] {
  switch (view.kind) {
    case 'person':
      return personQuestions(view);
    case 'organisation': {
      const o = view.name;
      const { founder: f, employee: e, invention: inv } = view;
      return [
        q('direct', view.year, [
          `In what year was ${o} founded?`,
          `When was ${o} established?`,
          `When was ${o} set up?`,
        ]),
        q('direct', f.full, [
          `Who founded ${o}?`,
          `Who established ${o}?`,
          `Who was the founder of ${o}?`,
        ]),
        q('reverse', view.title, [
          `What did ${f.full} found?`,
          `Which organisation did ${f.full} establish?`,
        ]),
        q('paraphrase', view.city, [
          `Where is ${o} based?`,
          `In which city does ${o} have its seat?`,
          `Where is the home of ${o}?`,
        ]),
        q('derived', view.country, [
          `In which country is ${o} based?`,
          `In what country does ${o} have its seat?`,
        ]),
        q('paraphrase', view.field, [
          `What field does ${o} work in?`,
          `What is the trade of ${o}?`,
          `In which trade is ${o} active?`,
        ]),
        q('reverse', view.title, [
          `Which organisation employed ${e.full}?`,
          `Where did ${e.full} work?`,
          `Who employed ${e.full}?`,
        ]),
        q('direct', inv.title, [
          `Which invention does ${o} use?`,
          `What device does ${o} rely on?`,
        ]),
        q('reverse', view.title, [
          `Which organisation uses ${inv.name}?`,
          `Where is ${inv.name} used?`,
        ]),
        q('derived', e.full, [
          `Who invented the device used by ${o}?`,
          `Who is the inventor of the device that ${o} uses?`,
        ]),
        q('derived', f.profession, [
          `What was the profession of the founder of ${o}?`,
          `What trade did the founder of ${o} follow?`,
        ]),
      ];
    }
    case 'invention': {
      const n = view.name;
      const { inventor: i, user: u } = view;
      return [
        q('direct', i.full, [
          `Who invented ${n}?`,
          `Who devised ${n}?`,
          `Who is the inventor of ${n}?`,
        ]),
        q('reverse', view.title, [
          `What did ${i.full} invent?`,
          `Which device did ${i.full} invent?`,
        ]),
        q('direct', view.year, [
          `In what year was ${n} invented?`,
          `When was ${n} invented?`,
          `In which year was ${n} devised?`,
        ]),
        q('paraphrase', view.purpose, [
          `What is ${n} used for?`,
          `What is the purpose of ${n}?`,
          `What job does ${n} do?`,
        ]),
        q('direct', u.title, [`Which organisation uses ${n}?`, `Where is ${n} used?`]),
        q('reverse', view.title, [
          `Which device does ${u.name} use?`,
          `What invention does ${u.name} rely on?`,
        ]),
        q('derived', u.city, [
          `In which city is the organisation that uses ${n} based?`,
          `Where is the organisation using ${n} based?`,
        ]),
        q('derived', i.birthCity, [
          `Where was the inventor of ${n} born?`,
          `In which town was the inventor of ${n} born?`,
        ]),
        q('derived', i.profession, [
          `What was the profession of the inventor of ${n}?`,
          `What trade did the inventor of ${n} follow?`,
        ]),
      ];
    }
    case 'city': {
      const c = view.name;
      return [
        q('direct', view.country, [`In which country is ${c}?`, `What country is ${c} in?`]),
        q('direct', view.river, [
          `On which river does ${c} lie?`,
          `Which river flows through ${c}?`,
        ]),
        q('direct', view.year, [`In what year was ${c} founded?`, `When was ${c} founded?`]),
        q('paraphrase', view.industry, [
          `What is ${c} known for?`,
          `What is the main trade of ${c}?`,
        ]),
        q('paraphrase', view.settlement, [`Is ${c} a city or a town?`]),
      ];
    }
  }
}
