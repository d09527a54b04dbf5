#!/usr/bin/env bash
# The demo command: install envres with the example's drivers into .venv, then run
# the example pipeline (examples/shop) on its default `dev` profile, an embedded DuckDB.
#
#   ./scripts/demo.sh [ENVRES RUN ARGS...]      e.g. ./scripts/demo.sh --jobs 3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e '.[examples]'
.venv/bin/envres run --project examples/shop "$@"
echo "report: examples/shop/out/dev/shop_report.html"
