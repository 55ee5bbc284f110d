#!/usr/bin/env bash
# Runs the benchmarks against a fresh build. Loopback only, bounded in time.
#   npm run bench                      # proxy overhead vs direct and nginx
#   BENCH_SECONDS=10 BENCH_ROUNDS=5 npm run bench
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
npm run --silent build
bash rego/toolchain/build.sh
command -v nginx >/dev/null 2>&1 || echo "bench: nginx not installed (apt-get install nginx-light); the nginx reference row is left out" >&2
npx vite-node bench/proxy-overhead.ts
npx vite-node bench/stream-latency.ts
