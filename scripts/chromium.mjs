// Finds a system Chromium for browser tests and benchmarks; nothing is ever downloaded.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', 'chromium-browser', 'google-chrome'];

/** @param {string} name */
function resolveOnPath(name) {
  if (name.startsWith('/')) return existsSync(name) ? name : null;
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** `CHROMIUM_PATH`, then the usual system locations; null when none is installed. */
export function findChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  for (const candidate of CANDIDATES) {
    const found = resolveOnPath(candidate);
    if (found) return found;
  }
  return null;
}

export const CHROMIUM_MISSING_MESSAGE = [
  'No Chromium found for the browser tests.',
  `Looked at CHROMIUM_PATH${process.env.CHROMIUM_PATH ? ` (${process.env.CHROMIUM_PATH})` : ''}, then ${CANDIDATES.join(', ')}.`,
  'Install one, e.g. on Debian/Ubuntu:  sudo apt-get install -y chromium',
  'or point CHROMIUM_PATH at a Chromium or Chrome binary.',
].join('\n');

/**
 * Flags that give headless Chromium a WebGPU adapter (SwiftShader where there is no GPU).
 * @param {{ webgpu: boolean }} options
 */
export function chromiumArgs({ webgpu }) {
  return [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
  ];
}
