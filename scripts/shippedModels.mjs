// Serves the repository's `models/` folder under the app (`models/<name>/<file>`) in dev, copies
// it into the build, and writes `models/index.json` listing each model folder (one that holds a
// config.json) with its files and sizes, which the app reads to offer the shipped models.
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * @typedef {{ models: { name: string; files: { path: string; size: number }[] }[] }} ShippedModelListing
 */

/**
 * Every model folder directly under `folder`; hidden files are left out.
 * @param {string} folder
 * @returns {ShippedModelListing}
 */
export function listModelFolders(folder) {
  if (!existsSync(folder)) return { models: [] };
  const models = readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(folder, entry.name, 'config.json')))
    .map((entry) => ({
      name: entry.name,
      files: readdirSync(join(folder, entry.name), { withFileTypes: true })
        .filter((file) => file.isFile() && !file.name.startsWith('.'))
        .map((file) => ({
          path: file.name,
          size: statSync(join(folder, entry.name, file.name)).size,
        }))
        .sort((a, b) => a.path.localeCompare(b.path)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { models };
}

/**
 * @param {string} [folder]
 * @returns {import('vite').Plugin}
 */
export function shippedModels(folder = 'models') {
  const root = resolve(folder);
  let outDir = 'dist';
  return {
    name: 'shipped-models',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use('/models/', (request, response, next) => {
        const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
        const listing = listModelFolders(root);
        if (path === '/index.json') {
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify(listing));
          return;
        }
        const [, name, file] = path.split('/');
        const known = listing.models
          .find((model) => model.name === name)
          ?.files.find((entry) => entry.path === file);
        if (!name || !known) {
          next();
          return;
        }
        response.setHeader('content-length', String(known.size));
        createReadStream(join(root, name, known.path)).pipe(response);
      });
    },
    generateBundle() {
      this.emitFile({
        type: 'asset',
        fileName: 'models/index.json',
        source: JSON.stringify(listModelFolders(root)),
      });
    },
    // Weights can be gigabytes: copied file by file after the bundle, never held in memory.
    writeBundle() {
      for (const model of listModelFolders(root).models) {
        mkdirSync(join(outDir, 'models', model.name), { recursive: true });
        for (const file of model.files) {
          copyFileSync(
            join(root, model.name, file.path),
            join(outDir, 'models', model.name, file.path),
          );
        }
      }
    },
  };
}
