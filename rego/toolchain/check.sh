#!/usr/bin/env bash
# Static checks and unit tests of the Rego policy (part of the test command):
#   1. rego/capabilities.json matches what capabilities.mjs generates
#   2. opa fmt: every file formatted (lists the ones that are not)
#   3. opa check --strict with the wasm capabilities
#   4. opa test: every test passes; prints one summary line with coverage
#   5. the same fmt/check/test for each example under rego/examples/
# Exits non-zero on the first failing step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OPA="${ROOT}/.tools/bin/opa"
POLICY_DIR="${ROOT}/rego/policy"
CAPABILITIES="${ROOT}/rego/capabilities.json"
# Coverage below this fails the check; tests cover every rule today.
MIN_COVERAGE="${MIN_COVERAGE:-90}"

bash "${ROOT}/rego/toolchain/install-opa.sh"
node "${ROOT}/rego/toolchain/capabilities.mjs" --check

if ! UNFORMATTED="$("${OPA}" fmt --list --fail "${POLICY_DIR}")"; then
  echo "check: not formatted (run: ${OPA} fmt -w rego/policy):" >&2
  echo "${UNFORMATTED}" >&2
  exit 1
fi

"${OPA}" check --strict --capabilities "${CAPABILITIES}" "${POLICY_DIR}"

# Tests run topdown with the same capabilities; they mock the TypeScript
# builtins (topdown has no implementation of them).
if ! LOG="$("${OPA}" test --capabilities "${CAPABILITIES}" --fail-on-empty "${POLICY_DIR}" 2>&1)"; then
  echo "check: opa test failed:" >&2
  echo "${LOG}" >&2
  exit 1
fi
"${OPA}" test --capabilities "${CAPABILITIES}" --coverage --format json "${POLICY_DIR}" \
  | node -e '
    let text = "";
    process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const report = JSON.parse(text);
      const min = Number(process.argv[1]);
      const line = `opa test: ${process.argv[2]}; coverage ${report.coverage.toFixed(1)}%`;
      if (report.coverage < min) {
        console.error(`${line} is below ${min}%`);
        process.exit(1);
      }
      console.log(line);
    });' "${MIN_COVERAGE}" "$(echo "${LOG}" | tail -1)"

# Examples are opt-in policies users copy; each directory is checked on its own
# so one example's packages never collide with another's or the default's.
for example in "${ROOT}"/rego/examples/*/; do
  [[ -d "${example}" ]] || continue
  name="rego/examples/$(basename "${example}")"
  if ! "${OPA}" fmt --list --fail "${example}" >/dev/null; then
    echo "check: ${name} is not formatted (run: ${OPA} fmt -w ${name})" >&2
    exit 1
  fi
  "${OPA}" check --strict --capabilities "${CAPABILITIES}" "${example}"
  if ! EXAMPLE_LOG="$("${OPA}" test --capabilities "${CAPABILITIES}" --fail-on-empty "${example}" 2>&1)"; then
    echo "check: opa test failed in ${name}:" >&2
    echo "${EXAMPLE_LOG}" >&2
    exit 1
  fi
  echo "opa test (${name}): $(echo "${EXAMPLE_LOG}" | tail -1)"
done
