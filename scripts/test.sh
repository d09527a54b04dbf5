#!/usr/bin/env bash
# The project's test command: lint, format check, type check, then the test suite.
#
#   ./scripts/test.sh [PYTEST ARGS...]            the versions pinned in uv.lock, in .venv
#   ./scripts/test.sh --newest [PYTEST ARGS...]   the suite alone, with the newest release of
#                                                 every dependency, in .venv-newest (uv.lock
#                                                 is not touched; the linters, which judge
#                                                 the code and not the dependencies, stay at
#                                                 the versions the locked run used)
#
# pytest runs on two worker processes (pytest-xdist); pass `-n 0` to run in one process,
# or `-n auto` to use every core. Later arguments win.
#
# Needs python3 (>= 3.11) with pip, and for some tests Debian's packages postgresql,
# graphviz, chromium and nodejs with npm (.ci/run installs them; see the README). The suite
# starts its own PostgreSQL server (tests/pgserver.py): without the package those tests
# are skipped locally and fail under CI; the others fail saying what to install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh

step() { printf '\n==> %s\n' "$*"; }

venv=.venv
newest=false
if [[ ${1:-} == --newest ]]; then
    shift
    newest=true
    venv=.venv-newest
    step "installing the newest release of every dependency into $venv"
    "$UV" venv --quiet --allow-existing "$venv"
    "$UV" pip install --quiet --python "$venv/bin/python" --upgrade \
        -e . -e ./examples/shop -e ./examples/dagster_shop --group test
    "$UV" pip list --python "$venv/bin/python" --format freeze 2>/dev/null \
        | grep -iE '^(pydantic|pydantic-settings|pyyaml|jinja2|python-dotenv|click|dask|duckdb|psycopg)==' \
        | tr '\n' ' '
    echo
else
    step "installing the locked versions (uv.lock) into $venv"
    "$UV" sync --quiet --locked --group test --group lint
fi
# The YAML language server the editor tests run, at the version tools/editor pins.
if command -v npm >/dev/null 2>&1; then
    if [[ ! -f tools/editor/node_modules/.package-lock.json \
          || tools/editor/package-lock.json -nt tools/editor/node_modules/.package-lock.json ]]; then
        step "installing the editor tools (npm ci --prefix tools/editor)"
        npm ci --prefix tools/editor --no-audit --no-fund --silent
    fi
else
    echo "note: npm is not installed; tests/test_editor_schema.py will fail saying so"
fi

export VIRTUAL_ENV="$PWD/$venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"

dirs=(envres tests examples bench)

if ! $newest; then
    # A new ruff or mypy release judges the same code differently (new rules, a new
    # formatting style): that is not a dependency breaking envres, so the newest run
    # leaves them out.
    step "ruff check ${dirs[*]}"
    ruff check "${dirs[@]}"

    step "ruff format --check ${dirs[*]}"
    ruff format --check "${dirs[@]}"

    step "mypy"
    mypy

    # The benchmark's quick run checks that every measured command still runs; its
    # timings (tenth-size, on a shared machine) are for reading, never a verdict. Its
    # output is fenced off so that an "over" or "the machine was not quiet" in a green
    # run is not read as a failure.
    step "benchmark smoke run: INFORMATIONAL, NOT A TEST"
    echo "    Timings at a tenth of the benchmark's sizes on this machine: 'over' and 'the"
    echo "    machine was not quiet' are not failures. This step fails only if a measured"
    echo "    command crashes. The full benchmark is ./scripts/bench.sh."
    python bench/compare.py --quick 2>&1 | sed 's/^/    | /'
    echo "    (end of the informational benchmark run)"
fi

step "pytest -n 2 $*"
python -m pytest -n 2 "$@"
