#!/usr/bin/env bash
# Runs Presidio's pattern recognizers on both PII quality corpora, for the
# comparison columns of bench/results/pii-quality.md. Installs presidio-analyzer
# (pinned) into .scratch/venv the first time; later runs reuse it.
#
#   bash bench/pii-quality/presidio.sh && npx vite-node bench/pii-quality/evaluate.ts
set -euo pipefail
cd "$(dirname "$0")/../.."

PRESIDIO_VERSION=2.2.366
VENV=.scratch/venv
if ! "$VENV/bin/python" -c "import presidio_analyzer, spacy" >/dev/null 2>&1 \
  || [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("presidio-analyzer"))')" != "$PRESIDIO_VERSION" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "presidio-analyzer==$PRESIDIO_VERSION"
fi

npx vite-node bench/pii-quality/generate.ts
"$VENV/bin/python" bench/pii-quality/presidio_eval.py .scratch/pii-corpus.json .scratch/presidio-findings.json
"$VENV/bin/python" bench/pii-quality/presidio_eval.py .scratch/pii-holdout.json .scratch/presidio-holdout-findings.json
