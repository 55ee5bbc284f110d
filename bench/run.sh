#!/usr/bin/env bash
# Runs the benchmarks against a fresh build. Loopback only, bounded in time.
#   npm run bench                 # full: 3 rounds × 5 s per target, streaming, then 1 vs 2 workers (about 15 minutes)
#   npm run bench -- --quick      # 2 rounds × 3 s (under 3 minutes)
#   BENCH_SECONDS=10 BENCH_ROUNDS=5 npm run bench
# Installs what the baselines need when missing: nginx (Debian nginx-light,
# as root) and the pinned OPA CLI (go install, via the policy build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
if ! command -v nginx >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench: nginx is needed for the baselines (apt-get install nginx-light); run as root or install it first" >&2
    exit 1
  fi
  echo "bench: installing nginx-light" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
command -v openssl >/dev/null 2>&1 || { echo "bench: openssl is needed (apt-get install openssl)" >&2; exit 1; }
npm run --silent build
bash rego/toolchain/build.sh
npx vite-node bench/proxy-overhead.ts -- "$@"
# Streaming as a chat user feels it (docs/streaming.md).
if [[ " $* " == *" --quick "* ]]; then npx vite-node bench/stream-latency.ts --quick; else npx vite-node bench/stream-latency.ts; fi
# The full run also compares 1 and 2 workers (docs/workers.md).
if [[ " $* " != *" --quick "* ]]; then
  npx vite-node bench/workers-scaling.ts
fi
