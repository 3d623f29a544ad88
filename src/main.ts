import { mount } from 'svelte';
import { registerSW } from 'virtual:pwa-register';
import App from './ui/App.svelte';
import './ui/global.css';
import {
  requestedBackendFromUrl,
  requestedModelFromUrl,
  requestedWeightStorageFromUrl,
} from './ui/backendUrl';
import { engine, listenToEngine, loadDefaultModel, startEngine } from './ui/state.svelte';

// The engine proxy is on `window.seal` for researchers who want to script it from the console.
(window as unknown as { seal: unknown }).seal = { engine };

listenToEngine();
void startEngine(requestedBackendFromUrl()).then(() =>
  loadDefaultModel(requestedModelFromUrl(), requestedWeightStorageFromUrl()),
);

// The service worker makes the app work offline after one visit (see offlineApp in vite.config.ts);
// in dev this is a no-op. When a new version takes over, the page reloads into it: the old page's
// files are gone from the cache, and a worker it spawned later would find none.
registerSW({ immediate: true });

export default mount(App, { target: document.getElementById('app')! });
