// Renders public/favicon.svg into the PNG icons the web app manifest lists (install prompts and
// home screens want PNGs), with the system Chromium the browser tests use. Run it again after
// changing the favicon: `node scripts/icons.mjs`.
import { readFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { findChromium } from './chromium.mjs';

const svg = readFileSync('public/favicon.svg', 'utf8');
const dataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;

/**
 * `any` icons are the favicon edge to edge on a clear background; a `maskable` one keeps the
 * favicon inside the safe zone (the inner 80%) on the favicon's own blue, as launchers crop it.
 */
const ICONS = [
  { file: 'icon-192.png', size: 192, padding: 0, background: 'transparent' },
  { file: 'icon-512.png', size: 512, padding: 0, background: 'transparent' },
  { file: 'icon-maskable-512.png', size: 512, padding: 0.12, background: '#1f6feb' },
];

const browser = await chromium.launch({ executablePath: findChromium() ?? undefined });
try {
  for (const icon of ICONS) {
    const page = await browser.newPage({ viewport: { width: icon.size, height: icon.size } });
    const inset = Math.round(icon.size * icon.padding);
    await page.setContent(
      `<body style="margin:0;background:${icon.background}">` +
        `<img src="${dataUrl}" style="display:block;margin:${inset}px;` +
        `width:${icon.size - 2 * inset}px;height:${icon.size - 2 * inset}px"></body>`,
    );
    await page.locator('img').evaluate((img) => /** @type {HTMLImageElement} */ (img).decode());
    await page.screenshot({ path: `public/icons/${icon.file}`, omitBackground: true });
    await page.close();
  }
} finally {
  await browser.close();
}
