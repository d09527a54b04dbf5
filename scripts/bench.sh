#!/usr/bin/env bash
# The benchmark: envres against the floor and against Dagster, in one run (bench/compare.py).
#
#   ./scripts/bench.sh             full run (about 12 minutes on 2 cores)
#   ./scripts/bench.sh --quick     the smoke run the test command also makes
#
# Installs its own environment, .venv-bench (envres with the Dagster and Dask extras at
# the versions uv.lock pins), so the project's .venv is left as it is. Arguments go to
# bench/compare.py (--repeat N, --json FILE, --no-dask, --help). Run it on a quiet
# machine: only ratios count, and a busy neighbour moves them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh

export UV_PROJECT_ENVIRONMENT="$PWD/.venv-bench"
echo "==> installing the benchmark environment (.venv-bench, from uv.lock)"
"$UV" sync --quiet --locked --group bench
exec .venv-bench/bin/python bench/compare.py "$@"
