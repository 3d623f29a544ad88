// A Node worker thread starts without the parent's TypeScript loader: it registers tsx's own,
// then loads the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./nodeWorker.ts', import.meta.url).href);
