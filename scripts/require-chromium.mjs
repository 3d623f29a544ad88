import { CHROMIUM_MISSING_MESSAGE, findChromium } from './chromium.mjs';

const chromium = findChromium();
if (!chromium) {
  console.error(CHROMIUM_MISSING_MESSAGE);
  process.exit(1);
}
console.log(`Browser tests use ${chromium}`);
