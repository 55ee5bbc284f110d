#!/usr/bin/env bash
# Installs the pinned OPA CLI with `go install` into .tools/bin (idempotent).
# Why go install: the project may only use the Go module proxy, never a binary
# downloaded from elsewhere; pinning the version keeps `opa build` output and
# `opa fmt` stable between machines.
set -euo pipefail
OPA_VERSION="${OPA_VERSION:-v1.22.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${ROOT}/.tools/bin"
OPA="${BIN_DIR}/opa"

# Output is captured before it is matched: piping `opa version` into an early
# exiting reader (grep -q, head) can kill opa with SIGPIPE, which pipefail
# turns into a failure.
installed_version() {
  local out
  out="$("${OPA}" version 2>/dev/null || true)"
  printf '%s\n' "${out}" | sed -n 's/^Version: //p'
}
if [[ -x "${OPA}" ]] && [[ "$(installed_version)" == "${OPA_VERSION#v}" ]]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-opa: the Go toolchain is required to build OPA ${OPA_VERSION} (go install)" >&2
  exit 1
fi
mkdir -p "${BIN_DIR}"
echo "install-opa: building OPA ${OPA_VERSION} with go install (first run takes a few minutes)" >&2
GOBIN="${BIN_DIR}" CGO_ENABLED=0 go install "github.com/open-policy-agent/opa@${OPA_VERSION}"
echo "install-opa: installed OPA $(installed_version)" >&2
