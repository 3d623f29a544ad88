import { mount } from 'svelte';
import App from './ui/App.svelte';
import './ui/global.css';
import { requestedBackendFromUrl, requestedModelFromUrl } from './ui/backendUrl';
import { engine, listenToEngine, loadDefaultModel, startEngine } from './ui/state.svelte';

// The engine proxy is on `window.seal` for researchers who want to script it from the console.
(window as unknown as { seal: unknown }).seal = { engine };

listenToEngine();
void startEngine(requestedBackendFromUrl()).then(() => loadDefaultModel(requestedModelFromUrl()));

export default mount(App, { target: document.getElementById('app')! });
