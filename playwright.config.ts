import { defineConfig } from '@playwright/test';
import { chromiumArgs, findChromium } from './scripts/chromium.mjs';

// Another port lets two checkouts run their browser tests side by side.
const PORT = Number(process.env.PLAYWRIGHT_PORT ?? 4317);
const executablePath = findChromium() ?? undefined;

export default defineConfig({
  testDir: 'tests/browser',
  outputDir: 'test-output/playwright',
  timeout: 600_000,
  expect: { timeout: 60_000 },
  // Two test files at a time, each in its own browser (every test has a fresh context, so its own
  // IndexedDB; the persistence tests each make their own profile folder). Tests in one file run
  // in order.
  fullyParallel: false,
  workers: 2,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    headless: true,
    launchOptions: { executablePath },
  },
  webServer: {
    command: `npx vite preview --port ${PORT} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
  projects: [
    {
      name: 'webgpu',
      grepInvert: /@no-webgpu/,
      use: { launchOptions: { executablePath, args: chromiumArgs({ webgpu: true }) } },
    },
    {
      name: 'no-webgpu',
      grep: /@no-webgpu/,
      use: { launchOptions: { executablePath, args: chromiumArgs({ webgpu: false }) } },
    },
  ],
});
