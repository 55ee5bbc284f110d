#!/usr/bin/env bash
# Installs enclave-gate as a systemd service on a confidential VM, from a
# checkout in which `npm ci && npm run build && npm run policy:build` has run:
#
#   sudo bash deploy/systemd/install.sh
#
# What it creates (and nothing else):
#   - the system user and group `enclave-gate` (no home, no login shell);
#   - /opt/enclave-gate: package.json, the lockfile, dist/, the policy bundle,
#     and the production dependencies (npm ci --omit=dev --ignore-scripts);
#   - /etc/enclave-gate/enclave-gate.yaml (root:enclave-gate, 0640), only when
#     it does not exist yet: an existing config is never overwritten;
#   - /etc/systemd/system/enclave-gate.service, with ExecStart pointing at the
#     node found on PATH.
# It does not enable or start the service; it prints the commands.
#
#   bash deploy/systemd/install.sh --print-unit   # the unit it would install, to stdout
#
# DESTDIR=/some/root installs into a staging root instead (no user is created,
# no ownership is set, systemd is not reloaded), for packaging.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX=/opt/enclave-gate
CONFIG=/etc/enclave-gate/enclave-gate.yaml
UNIT=/etc/systemd/system/enclave-gate.service
DESTDIR="${DESTDIR:-}"

die() { echo "install.sh: $*" >&2; exit 1; }

node_bin() {
  local node
  node="$(command -v node)" || die "node is not on PATH (Node >= 20.18.1 is required)"
  # The unit runs this very binary, so resolve symlinks (nvm, alternatives).
  readlink -f "${node}"
}

check_node_version() {
  "$1" -e '
    const [major, minor, patch] = process.versions.node.split(".").map(Number);
    const ok = major > 20 || (major === 20 && (minor > 18 || (minor === 18 && patch >= 1)));
    if (!ok) { console.error(`install.sh: Node ${process.versions.node} is too old; >= 20.18.1 is required`); process.exit(1); }
  '
}

render_unit() {
  sed "s#^ExecStart=/usr/bin/node #ExecStart=$1 #" "${ROOT}/deploy/systemd/enclave-gate.service"
}

NODE="$(node_bin)"
if [[ "${1:-}" == "--print-unit" ]]; then
  render_unit "${NODE}"
  exit 0
fi
[[ $# -eq 0 ]] || die "usage: install.sh [--print-unit]"
check_node_version "${NODE}"
[[ -n "${DESTDIR}" || $(id -u) -eq 0 ]] || die "run as root (sudo), or set DESTDIR to stage the files"
for built in dist/cli/main.js rego/build/bundle.tar.gz; do
  [[ -f "${ROOT}/${built}" ]] || die "${built} is missing: run 'npm ci && npm run build && npm run policy:build' first"
done

if [[ -z "${DESTDIR}" ]] && ! id enclave-gate >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin enclave-gate
  echo "install.sh: created system user enclave-gate"
fi

# The package: root-owned, world-readable, replaced as a whole on upgrade.
target="${DESTDIR}${PREFIX}"
rm -rf "${target}.new"
install -d -m 0755 "${target}.new"
cp "${ROOT}/package.json" "${ROOT}/package-lock.json" "${target}.new/"
cp -R "${ROOT}/dist" "${target}.new/dist"
install -D -m 0644 "${ROOT}/rego/build/bundle.tar.gz" "${target}.new/rego/build/bundle.tar.gz"
install -D -m 0644 "${ROOT}/rego/capabilities.json" "${target}.new/rego/capabilities.json"
install -D -m 0644 "${ROOT}/src/demo/fraud-model.json" "${target}.new/src/demo/fraud-model.json"
(cd "${target}.new" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
rm -rf "${target}.old"
if [[ -d "${target}" ]]; then mv "${target}" "${target}.old"; fi
mv "${target}.new" "${target}"
rm -rf "${target}.old"
echo "install.sh: installed the package in ${target}"

# The config: never overwritten; readable by the service's group only.
if [[ -e "${DESTDIR}${CONFIG}" ]]; then
  echo "install.sh: kept the existing ${DESTDIR}${CONFIG}"
else
  if [[ -z "${DESTDIR}" ]]; then
    install -D -m 0640 -o root -g enclave-gate "${ROOT}/deploy/systemd/enclave-gate.yaml" "${CONFIG}"
  else
    install -D -m 0640 "${ROOT}/deploy/systemd/enclave-gate.yaml" "${DESTDIR}${CONFIG}"
  fi
  echo "install.sh: wrote ${DESTDIR}${CONFIG}: set tls.subjectAltNames to the names clients use"
fi

install -d -m 0755 "$(dirname "${DESTDIR}${UNIT}")"
render_unit "${NODE}" >"${DESTDIR}${UNIT}"
chmod 0644 "${DESTDIR}${UNIT}"
echo "install.sh: wrote ${DESTDIR}${UNIT} (ExecStart uses ${NODE})"

if [[ -z "${DESTDIR}" ]] && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  echo "install.sh: next: edit ${CONFIG}, then: systemctl enable --now enclave-gate && journalctl -u enclave-gate -f"
fi
