/**
 * Our WebGPU path on a real GPU, from Node through Dawn (the `webgpu` package's dawn.node), for a
 * machine with a GPU but no browser: `scripts/gpu/pack.sh` bundles this file with tfjs and the
 * engine inlined, beside a Node binary, dawn.node, the Vulkan loader and the default model.
 *
 *   node bench.mjs --dawn ./dawn.node --model ./seal-world-1m --out result.json \
 *     [--bandwidth-gbps 4800] [--quick]
 *
 * Measures, with our kernels: greedy decoding (KV cache) and training (full fine-tuning and LoRA)
 * of the default model; greedy decoding (float32 and float16 weights) and LoRA training of a random
 * model of SmolLM2-135M's shape; and, given the GPU's memory bandwidth, the share of the bandwidth
 * bound reached in decoding (weight and KV-cache bytes read per token × tokens/s ÷ bandwidth).
 * `--quick` shrinks every run (to check the route on a software adapter). Never part of `npm test`.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const dawnPath = argument('--dawn') ?? './dawn.node';
const modelFolder = argument('--model') ?? 'models/seal-world-1m';
const outPath = argument('--out') ?? 'real-gpu-bench.json';
const bandwidthGbps = Number(argument('--bandwidth-gbps') ?? NaN);
const quick = process.argv.includes('--quick');

// tfjs's webgpu backend registers itself only if `navigator.gpu` exists when it is imported.
const { create, globals } = createRequire(import.meta.url)(dawnPath) as {
  create: (flags: string[]) => unknown;
  globals: Record<string, unknown>;
};
Object.assign(globalThis, globals);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });

const { runRealGpuBenchmark } = await import('./realGpuRuns');
const started = Date.now();
const result = await runRealGpuBenchmark({ modelFolder, bandwidthGbps, quick });
const report = { ...result, seconds: (Date.now() - started) / 1000, node: process.version };
writeFileSync(outPath, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
process.exit(0);
