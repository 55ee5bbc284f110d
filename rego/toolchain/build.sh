#!/usr/bin/env bash
# Compiles the Rego policy into the wasm bundle the proxy loads:
#   rego/policy  ->  rego/build/bundle.tar.gz
# Quiet on success; on failure prints OPA's diagnostics and exits non-zero.
# Idempotent: OPA writes fixed timestamps and file order, so the same sources
# give a byte-identical bundle (and the same policy digest) on every run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OPA="${ROOT}/.tools/bin/opa"
POLICY_DIR="${ROOT}/rego/policy"
CAPABILITIES="${ROOT}/rego/capabilities.json"
OUT_DIR="${ROOT}/rego/build"
OUT="${OUT_DIR}/bundle.tar.gz"

bash "${ROOT}/rego/toolchain/install-opa.sh"
for f in "${POLICY_DIR}" "${CAPABILITIES}"; do
  [[ -e "${f}" ]] || { echo "build: missing ${f}" >&2; exit 1; }
done

mkdir -p "${OUT_DIR}"
# src/policy/compile.ts runs the build (same code as `--policy DIR` at run
# time): `opa build -b -t wasm` from a scratch copy, with "." as the path so
# file names and the digest do not depend on where the checkout is; the
# capabilities file, so a builtin the runtime lacks fails here rather than at
# evaluation time; and the input-usage metadata in .manifest, which lets the
# proxy give the policy a compact input (docs/policy.md). No -O: with OPA
# 1.22.3, -O=1 gives the same module for this policy and fails ("unsupported
# built-in: enclave_gate.pii.scan") when partial evaluation meets our
# TypeScript builtin in some rule shapes.
cd "${ROOT}"
npx --no-install vite-node rego/toolchain/build-bundle.ts "${POLICY_DIR}" "${OUT}" "${OPA}" "${CAPABILITIES}"
