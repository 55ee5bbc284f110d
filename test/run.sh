#!/usr/bin/env bash
# The whole test suite, as `npm test` and CI run it on a fresh machine:
# installs what the tests start (Debian packages, the pinned OPA CLI), then
# type check, lint, Rego format/check/test, the policy bundle build, vitest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

step() { printf '\n== %s\n' "$*"; }

# Debian packages the tests start or call: prometheus (scrapes the admin
# listener in test/integration/prometheus.test.ts) and openssl (parses the
# RA-TLS certificate). Installed only when missing.
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# python3 runs the client SDK tests and kubernetes-validate (in .venv, below).
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
# deploy/ validation (test/integration/deploy.test.ts): promtool (in Debian's
# prometheus package) and systemd-analyze (systemd).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# curl: the identity and audit tests call the proxy with a client certificate.
command -v curl >/dev/null 2>&1 || need+=(curl)
# swtpm and tpm2-tools: the azure-vtpm provider runs against a real software
# TPM provisioned with tpm2-tools (test/fakes/swtpm.ts).
command -v swtpm >/dev/null 2>&1 || need+=(swtpm)
command -v tpm2_createprimary >/dev/null 2>&1 || need+=(tpm2-tools)
# gcc: builds the stand-in libnvidia-ml.so.1 (test/fakes/fake-nvml.c).
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if ((${#need[@]})); then
  step "installing Debian packages: ${need[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "test/run.sh: need ${need[*]} (apt-get install ${need[*]}); run as root or install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Python client tests (test/clients/python, test/integration/sdk-errors.test.ts,
# deploy validation) run the real SDKs from PyPI in a venv under .venv/,
# created once; pip runs only when a pinned requirement is missing.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  step "installing Debian package: python3-venv"
  [[ $(id -u) -eq 0 ]] || { echo "test/run.sh: need python3-venv (apt-get install python3-venv)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
[[ -x .venv/bin/python ]] || { step "creating .venv for the Python client tests"; python3 -m venv .venv; }
if ! .venv/bin/python test/clients/python/requirements-met.py test/clients/python/requirements.txt; then
  step "installing Python test requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r test/clients/python/requirements.txt
fi

step "type check"
npx tsc -p tsconfig.json

step "lint"
npx eslint .

step "Rego: opa fmt --fail, opa check --strict, opa test"
bash rego/toolchain/check.sh

step "policy bundle"
bash rego/toolchain/build.sh

step "vitest"
mkdir -p .scratch
set +e
npx vitest run --reporter=default --reporter=json --outputFile=.scratch/vitest.json "$@"
status=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(".scratch/vitest.json", "utf8"));
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' || true
exit "${status}"
