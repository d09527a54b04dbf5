#!/usr/bin/env bash
# The demo command: install envres and the example (the versions in uv.lock) into .venv,
# then run the example pipeline on its default `dev` profile, an embedded DuckDB.
#
#   ./scripts/demo.sh [ENVRES RUN ARGS...]      e.g. ./scripts/demo.sh --jobs 3
#   ./scripts/demo.sh --dagster                 the same pipeline as Dagster assets
#                                               (examples/dagster_shop): installs Dagster
#                                               and its dg command, checks the code
#                                               location and materializes every asset
#
# Needs only python3 (>= 3.11) with pip. A second run installs nothing and costs
# little more than the pipeline itself. What else .venv holds (the test tools that
# ./scripts/test.sh installs) is left in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh

if [[ ${1:-} == --dagster ]]; then
    shift
    "$UV" sync --quiet --locked --inexact --group demo --group dagster-demo
    # Dagster keeps runs and event logs in DAGSTER_HOME: a throw-away one unless set.
    export DAGSTER_HOME="${DAGSTER_HOME:-$(mktemp -d)}"
    touch "$DAGSTER_HOME/dagster.yaml"
    # Dagster's dg command (the dagster-demo group): load and check the code location,
    # then materialize report and everything upstream of it, i.e. all six assets
    # ('*' alone makes Dagster 1.13 print a BetaWarning).
    .venv/bin/dg check defs --target-path examples/dagster_shop
    .venv/bin/dg launch --target-path examples/dagster_shop --assets '*report'
    echo "DAGSTER_HOME: $DAGSTER_HOME"
    exit 0
fi

"$UV" sync --quiet --locked --inexact --group demo
.venv/bin/envres run "$@"
echo "report: examples/shop/out/dev/shop_report.html"
