#!/bin/sh
# Runs the real-GPU benchmark from an unpacked `pack.tar.xz` (see pack.sh) on a machine with an
# NVIDIA GPU and its driver but no Node, browser or package registry. The result is written to
# $OUT/real-gpu-bench.json (or ./ when OUT is unset). BANDWIDTH_GBPS is the GPU's memory bandwidth
# from its spec sheet (H200: 4800). Extra arguments go to the benchmark (e.g. --quick).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$HERE/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The driver installs its Vulkan ICD manifest where the loader looks; if it did not, point the
# loader at the driver's library directly.
if [ -z "${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json \
  /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  cat >"$HERE/nvidia_icd.json" <<'ICD'
{ "file_format_version": "1.0.0",
  "ICD": { "library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0" } }
ICD
  export VK_ICD_FILENAMES="$HERE/nvidia_icd.json"
fi
exec "$HERE/node" "$HERE/bench.mjs" --dawn "$HERE/dawn.node" --model "$HERE/seal-world-1m" \
  --out "${OUT:-.}/real-gpu-bench.json" --bandwidth-gbps "${BANDWIDTH_GBPS:-4800}" "$@"
