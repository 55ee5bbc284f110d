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
# Write next to the target and rename, so a failed build never leaves a
# half-written bundle where the proxy would pick it up.
TMP="$(mktemp "${OUT_DIR}/.bundle.XXXXXX")"
trap 'rm -f "${TMP}"' EXIT

# Run from inside the policy directory with "." as the path: OPA stores file
# names relative to the path it is given, and they end up in the bundle and in
# the wasm module, so building from elsewhere would change the digest.
# The capabilities file limits builtins to what runs in wasm plus ours, so a
# builtin the runtime lacks fails here rather than at evaluation time.
# No -O: with OPA 1.22.3, -O=1 gives a byte-identical bundle for this policy,
# and fails ("unsupported built-in: enclave_gate.pii.scan") when partial
# evaluation meets our TypeScript builtin in some rule shapes, so it would only
# make future policy edits break for no gain.
if ! LOG="$(cd "${POLICY_DIR}" && "${OPA}" build . \
  --target wasm \
  --capabilities "${CAPABILITIES}" \
  --entrypoint enclave_gate/request/decision \
  --entrypoint enclave_gate/response/decision \
  --ignore '*_test.rego' \
  --output "${TMP}" 2>&1)"; then
  echo "build: opa build of rego/policy failed:" >&2
  echo "${LOG}" >&2
  exit 1
fi
chmod 0644 "${TMP}"  # mktemp makes it 0600; the proxy may run as another user
mv -f "${TMP}" "${OUT}"
trap - EXIT
