#!/usr/bin/env bash
# The demo command: install envres and the example (the versions in uv.lock) into .venv,
# then run the example pipeline on its default `dev` profile, an embedded DuckDB.
#
#   ./scripts/demo.sh [ENVRES RUN ARGS...]      e.g. ./scripts/demo.sh --jobs 3
#
# Needs only python3 (>= 3.11) with pip. A second run installs nothing and costs
# little more than the pipeline itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh

"$UV" sync --quiet --locked --group demo
.venv/bin/envres run "$@"
echo "report: examples/shop/out/dev/shop_report.html"
