import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { CHANGE_CHANNEL_NAME } from '../../src/engine/store/coordination';
import { openApp, TINY_SEAL_CONFIG, type PageWithEngine } from './helpers';

const TABS = [
  'Start here',
  'Model',
  'Generate',
  'Fine-tune',
  'SEAL',
  'Puzzles',
  'History',
  'System',
] as const;
const WALKTHROUGH_STEPS = 6;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };

/** A run small enough to pause after its first episode, with held-out contexts for Table 2. */
const TINY = { ...TINY_SEAL_CONFIG, heldOut: { contexts: 2 } };

/**
 * Fills the panels whose tables were the widest: a stored SEAL run (shown by the SEAL panel, its
 * results tables, and a row of History's runs) and an imported dataset; and every step of the
 * walkthrough.
 */
async function fillPanels(page: Page) {
  await openApp(page, '?backend=wasm');
  await page.getByRole('tab', { name: 'SEAL' }).click();
  await page.getByRole('button', { name: 'Use the tiny demo model' }).click();
  await expect(page.getByTestId('seal-model')).toHaveText(/tiny-seal-3-world-1/);
  await page.evaluate(
    async ({ config, channelName }) => {
      const { engine } = (window as unknown as PageWithEngine).seal;
      const passage = {
        id: 'p1',
        title: 'A passage with a rather long title',
        context: 'The river runs north.',
        questions: [{ question: 'Which way does the river run?', answer: 'north' }],
      };
      await engine.store.importDataset('passages.json', JSON.stringify([passage]));
      const changes = new BroadcastChannel(channelName);
      changes.onmessage = async () => {
        const [run] = await engine.store.listRuns();
        if ((run?.episodeCount ?? 0) >= 1) await engine.seal.stopRun('paused-run', 'paused');
      };
      try {
        await engine.seal.startRun('paused-run', { config, worldSeed: 1, workers: 1 });
      } finally {
        changes.close();
      }
    },
    { config: TINY, channelName: CHANGE_CHANNEL_NAME },
  );
  await page.getByTestId('seal-resumable').getByRole('button', { name: 'Show' }).click();
  await expect(page.getByTestId('seal-rounds')).toBeVisible();
  await page.getByRole('tab', { name: 'Start here' }).click();
  await page.getByLabel(/Quick look/).check();
  await page.getByRole('button', { name: '▶ Play' }).click();
  await expect(page.getByTestId('walkthrough-finished')).toBeVisible();
}

/** The views a tab shows: each step of the walkthrough, or the panel itself. */
async function* viewsOf(page: Page, tab: (typeof TABS)[number]): AsyncGenerator<string> {
  if (tab !== 'Start here') {
    yield tab;
    return;
  }
  const steps = page.getByRole('navigation', { name: 'Walkthrough steps' }).getByRole('button');
  for (let step = 0; step < WALKTHROUGH_STEPS; step++) {
    await steps.nth(step).click();
    await expect(steps.nth(step)).toHaveAttribute('aria-current', 'step');
    yield `${tab}, step ${step + 1}`;
  }
}

async function openTab(page: Page, tab: (typeof TABS)[number]) {
  await page.getByRole('tab', { name: tab }).click();
  await expect(page.getByRole('tab', { name: tab })).toHaveAttribute('aria-selected', 'true');
  if (tab === 'History') {
    await expect(page.getByTestId('datasets')).toBeVisible();
    const runs = page.getByTestId('runs');
    const episodes = runs.getByRole('button', { name: 'Episodes' }).first();
    if (await episodes.isVisible()) await episodes.click();
    await expect(page.getByTestId('episodes')).toBeVisible();
    // The Table 1 run the Puzzles tab made, with its table.
    const table1 = runs.getByRole('button', { name: 'Table 1', exact: true });
    if (await table1.isVisible()) await table1.click();
    await expect(page.getByTestId('history-table1').getByTestId('table1-table')).toBeVisible();
  }
  if (tab === 'Puzzles' && (await page.getByTestId('puzzle-vote').count()) === 0) {
    // The widest the panel gets: a puzzle model's vote, ballots and attempts beside the truth.
    await page.getByRole('button', { name: /with the tiny puzzle model$/ }).click();
    await page.getByTestId('puzzle-in-context').click();
    await expect(page.getByTestId('puzzle-verdict')).toBeVisible();
    // And Table 1 filled in by the tiny run: its table, chart and recipe cards.
    await page.getByTestId('table1-start').click();
    await expect(page.getByTestId('table1-message')).toHaveText(/The run is done/);
    await expect(page.getByTestId('table1-recipe').first()).toBeVisible();
  }
}

/**
 * What sticks out past the right edge of the window: the page's scroll width, and each element
 * whose right edge is past it, unless a scroll container inside the window holds it.
 */
function overflow(page: Page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const scrolls = (el: Element) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const outside: string[] = [];
    for (const el of document.body.querySelectorAll('*')) {
      const rect = el.getBoundingClientRect();
      if (rect.width === 0 || rect.right <= width + 0.5) continue;
      let holder = el.parentElement;
      while (holder && !scrolls(holder)) holder = holder.parentElement;
      if (holder && holder.getBoundingClientRect().right <= width + 0.5) continue;
      const name = el.getAttribute('aria-label') ?? el.textContent?.trim().slice(0, 40);
      outside.push(`${el.tagName.toLowerCase()} "${name}" to ${Math.round(rect.right)} px`);
    }
    return { scrollWidth: document.documentElement.scrollWidth, width, outside };
  });
}

/**
 * axe's serious and critical findings, one line each. Legacy mode runs axe in the page alone,
 * where the default opens another page per run to merge each frame's results (it skips
 * cross-origin frames only, and the app has none); only violations are detailed node by node.
 */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page })
    .setLegacyMode()
    .options({ resultTypes: ['violations'] })
    .analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

test('every panel fits a 390 px screen and has no serious accessibility violation at phone and desktop sizes', async ({
  page,
}) => {
  // Seven panels, the walkthrough's six steps each, at two sizes: axe takes seconds per view.
  test.setTimeout(360_000);
  await page.setViewportSize(PHONE);
  await fillPanels(page);
  for (const size of [PHONE, DESKTOP]) {
    await page.setViewportSize(size);
    for (const tab of TABS) {
      await openTab(page, tab);
      for await (const view of viewsOf(page, tab)) {
        if (size === PHONE) {
          const { scrollWidth, width, outside } = await overflow(page);
          expect(outside, `${view} at ${width} px`).toEqual([]);
          expect(scrollWidth, `${view}: the page's width`).toBeLessThanOrEqual(width);
        }
        expect(await seriousViolations(page), `${view} at ${size.width} px`).toEqual([]);
      }
      const directory = process.env.SCREENSHOTS_DIR;
      if (directory) {
        // The panel as one sees it after picking its tab: tabs at the top of the window.
        await page.getByRole('tablist').evaluate((tabs) => {
          tabs.scrollIntoView();
          for (const region of document.querySelectorAll('[role="region"]')) region.scrollLeft = 0;
        });
        const name = `${tab.toLowerCase().replace(/[^a-z]/g, '')}-${size.width}.png`;
        await page.screenshot({ path: `${directory}/${name}` });
      }
    }
  }
});

test('a control reached with Tab is scrolled clear of the sticky status bar', async ({ page }) => {
  await page.setViewportSize(PHONE);
  await openApp(page, '?backend=wasm');
  await page.getByRole('tab', { name: 'SEAL' }).click();
  const settings = page.getByTestId('seal-settings');
  const before = settings.getByLabel('Run seed');
  const target = settings.getByLabel('World seed');
  await before.focus();
  // Scroll so the next control sits just inside the window's bottom edge, under the bar: a
  // browser that only scrolls what is outside the window would leave it hidden there.
  const bar = page.getByRole('contentinfo', { name: 'Status' });
  const barTop = async () => (await bar.boundingBox())!.y;
  await target.evaluate((control) =>
    window.scrollBy(0, control.getBoundingClientRect().top - (window.innerHeight - 4)),
  );
  expect((await target.boundingBox())!.y).toBeGreaterThan(await barTop());
  await expect(before).toBeFocused();

  await page.keyboard.press('Tab');
  await expect(target).toBeFocused();
  const box = (await target.boundingBox())!;
  expect(box.y + box.height).toBeLessThanOrEqual(await barTop());
  expect(box.y).toBeGreaterThanOrEqual(0);
});

/** Each loop diagram's smallest drawn text, worst text contrast, and its arrows as drawn. */
function measureLoopDiagrams(page: Page) {
  return page.evaluate(() => {
    const luminance = (colour: string) => {
      const [r, g, b] = colour
        .match(/[\d.]+/g)!
        .slice(0, 3)
        .map(Number) as [number, number, number];
      const linear = (c: number) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const contrast = (a: string, b: string) => {
      const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
      return (light + 0.05) / (dark + 0.05);
    };
    /** What a text is drawn on: its step's box, else the first opaque background behind the SVG. */
    const backgroundOf = (text: SVGTextElement) => {
      const box = text.closest('g.step')?.querySelector('rect');
      if (box) return getComputedStyle(box).fill;
      let element: Element | null = text.ownerSVGElement;
      while (element) {
        const colour = getComputedStyle(element).backgroundColor;
        if (colour !== 'rgba(0, 0, 0, 0)') return colour;
        element = element.parentElement;
      }
      return 'rgb(255, 255, 255)';
    };
    const svgs = [...document.querySelectorAll('svg[role="img"]')].filter((svg) =>
      svg.getAttribute('aria-label')?.startsWith('The SEAL loop'),
    ) as SVGSVGElement[];
    return svgs.map((svg) => {
      // In the window, so that what is drawn at a point can be asked.
      svg.scrollIntoView({ block: 'center' });
      const scale = svg.getScreenCTM()!.a;
      const frame = svg.getBoundingClientRect();
      const texts = [...svg.querySelectorAll('text')];
      const measure = () => ({
        smallestPx: Math.min(...texts.map((t) => parseFloat(getComputedStyle(t).fontSize) * scale)),
        worstContrast: Math.min(
          ...texts.map((t) => contrast(getComputedStyle(t).fill, backgroundOf(t))),
        ),
      });
      // Every text inside the box it belongs to (step texts) or the diagram (the caption).
      const spilled = texts
        .filter((t) => {
          const r = t.getBoundingClientRect();
          const box = (t.closest('g.step')?.querySelector('rect') ?? svg).getBoundingClientRect();
          return (
            r.left < box.left || r.right > box.right || r.top < box.top || r.bottom > box.bottom
          );
        })
        .map((t) => t.textContent);
      const normal = measure();
      // The highlighted look of every step at once, as a run's current step would show it.
      const steps = [...svg.querySelectorAll('g.step')];
      steps.forEach((step) => step.classList.add('active'));
      const highlighted = measure();
      steps.forEach((step) => step.classList.remove('active'));
      const arrows = [...svg.querySelectorAll('.arrow')].map((arrow) => {
        const r = arrow.getBoundingClientRect();
        const inside =
          r.left >= frame.left &&
          r.right <= frame.right &&
          r.top >= frame.top &&
          r.bottom <= frame.bottom;
        // Drawn on top of nothing: the point under its middle is the arrow itself.
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return { width: r.width, height: r.height, inside, onTop: hit === arrow };
      });
      return { width: frame.width, normal, highlighted, spilled, steps: steps.length, arrows };
    });
  });
}

test('the loop diagram reads at 11 px or more with 4.5:1 contrast, highlighted or not, and shows every arrow, at phone and desktop sizes', async ({
  page,
}) => {
  await openApp(page, '?backend=wasm');
  await page.getByRole('tab', { name: 'SEAL' }).click();
  for (const size of [PHONE, DESKTOP]) {
    await page.setViewportSize(size);
    const diagrams = page.getByRole('img', { name: /^The SEAL loop/ });
    // One above the tabs, one in the SEAL panel beside the run it follows.
    await expect(diagrams).toHaveCount(2);
    for (const diagram of await measureLoopDiagrams(page)) {
      const where = `${size.width} px window, diagram ${Math.round(diagram.width)} px wide`;
      expect(diagram.normal.smallestPx, where).toBeGreaterThanOrEqual(11);
      expect(diagram.normal.worstContrast, where).toBeGreaterThanOrEqual(4.5);
      expect(diagram.highlighted.worstContrast, where).toBeGreaterThanOrEqual(4.5);
      expect(diagram.spilled, where).toEqual([]);
      expect(diagram.steps).toBe(6);
      expect(diagram.arrows).toHaveLength(6);
      for (const arrow of diagram.arrows) {
        expect(arrow.width, where).toBeGreaterThan(0);
        expect(arrow.height, where).toBeGreaterThan(0);
        expect(arrow, where).toMatchObject({ inside: true, onTop: true });
      }
    }
  }
});
