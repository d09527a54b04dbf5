#!/usr/bin/env bash
# The project's test command: lint, format check, type check, then the test suite.
#
#   ./scripts/test.sh [PYTEST ARGS...]
#
# Needs only python3 (>= 3.11, with venv/ensurepip) and pip; creates .venv on first use.
# The suite starts its own PostgreSQL server from Debian's postgresql package (see
# tests/pgserver.py); without it those tests are skipped locally and fail under CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    step "creating .venv"
    python3 -m venv .venv
fi

step "installing envres[test] into .venv"
.venv/bin/python -m pip install -q -e '.[test]'

dirs=()
for dir in src tests examples bench; do
    if [[ -d $dir ]]; then
        dirs+=("$dir")
    fi
done

step "ruff check ${dirs[*]}"
.venv/bin/ruff check "${dirs[@]}"

step "ruff format --check ${dirs[*]}"
.venv/bin/ruff format --check "${dirs[@]}"

step "mypy"
.venv/bin/mypy

step "benchmark smoke run (envres side; times are not checked)"
.venv/bin/python bench/compare.py --quick

step "pytest $*"
.venv/bin/python -m pytest "$@"
