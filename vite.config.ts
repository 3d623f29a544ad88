/// <reference types="vitest/config" />
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { shippedModels } from './scripts/shippedModels.mjs';

/**
 * The app talks to its own origin only. The one exception is a model the user asks for from the
 * Hugging Face Hub (its files redirect to the Hub's CDN hosts). 'wasm-unsafe-eval' lets the WASM
 * backend compile its module; workers, the service worker included, come from our own origin, and
 * so does the web app manifest (manifest-src falls back to default-src).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' https://huggingface.co https://*.huggingface.co https://*.hf.co",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

function contentSecurityPolicyMeta(): Plugin {
  return {
    name: 'content-security-policy-meta',
    apply: 'build',
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
        injectTo: 'head-prepend',
      },
    ],
  };
}

/**
 * Installable and offline after one visit: the service worker precaches everything the build
 * writes (app shell, JS/CSS and worker bundles, the wasm binaries, the shipped models under
 * models/ and the recorded run under recorded/), each entry revisioned, so a new build replaces
 * what changed and nothing stays stale.
 * It has no runtime caching at all: requests it has not precached, the Hugging Face Hub's above
 * all, go to the network untouched (the app keeps Hub models in IndexedDB itself).
 */
function offlineApp(): Plugin[] {
  return VitePWA({
    registerType: 'autoUpdate',
    // src/main.ts registers it (virtual:pwa-register), which is a no-op in dev.
    injectRegister: false,
    manifest: {
      name: 'SEAL Playground',
      short_name: 'SEAL',
      description:
        'A small language model writes its own training data, fine-tunes on it and learns by RL, in the browser',
      // Relative to the manifest, which sits at the app's base: works under any base path.
      start_url: './',
      scope: './',
      display: 'standalone',
      theme_color: '#1f6feb',
      background_color: '#ffffff',
      icons: [
        { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
        { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png' },
        {
          src: 'icons/icon-maskable-512.png',
          sizes: '512x512',
          type: 'image/png',
          purpose: 'maskable',
        },
      ],
    },
    showMaximumFileSizeToCacheInBytesWarning: true,
    workbox: {
      // The manifest and its icons are added by the plugin itself.
      globPatterns: ['**/*.{html,js,css,wasm,svg}', 'models/**/*', 'recorded/*'],
      // The models' READMEs are for people browsing the repository, not for the app.
      globIgnores: ['models/**/README.md'],
      // The default model's weights are a few MB; a model too big for this is left to the network
      // (the build warns), rather than filling the browser's storage on every visit.
      maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
      // A new version takes over at once (the page reloads into it, see src/main.ts), and the
      // old version's precache goes with it.
      skipWaiting: true,
      clientsClaim: true,
      cleanupOutdatedCaches: true,
      // Any navigation inside the app (e.g. `/?backend=wasm`) opens the precached page offline.
      navigateFallback: 'index.html',
      // …but a shipped model's or the recorded run's file opened in the tab (e.g. to download it)
      // is that file.
      navigateFallbackDenylist: [/\/models\//, /\/recorded\//],
    },
  });
}

export default defineConfig({
  plugins: [svelte(), contentSecurityPolicyMeta(), shippedModels(), offlineApp()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 3000 },
  preview: {
    port: 4173,
    headers: { 'Content-Security-Policy': CONTENT_SECURITY_POLICY },
  },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
