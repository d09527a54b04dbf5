#!/usr/bin/env bash
# The demo command: install envres and the example (the versions in uv.lock) into .venv,
# then run the example pipeline on its default `dev` profile, an embedded DuckDB.
#
#   ./scripts/demo.sh [ENVRES RUN ARGS...]      e.g. ./scripts/demo.sh --jobs 3
#   ./scripts/demo.sh --dagster                 the same pipeline as Dagster assets
#                                               (examples/dagster_shop): installs Dagster,
#                                               validates the code location and
#                                               materializes every asset
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
    cd examples/dagster_shop
    ../../.venv/bin/dagster definitions validate -m dagster_shop.definitions
    ../../.venv/bin/dagster asset materialize -m dagster_shop.definitions --select '*'
    echo "DAGSTER_HOME: $DAGSTER_HOME"
    exit 0
fi

"$UV" sync --quiet --locked --inexact --group demo
.venv/bin/envres run "$@"
echo "report: examples/shop/out/dev/shop_report.html"
