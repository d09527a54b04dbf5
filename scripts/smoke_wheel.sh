#!/usr/bin/env bash
# Packaging check: build envres's wheel, install it into a clean virtual environment
# outside the checkout, and use it from there. What the old src/ layout caught (a
# module missing from the wheel, py.typed left out, the tests importing the checkout
# instead of the installed package) fails here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh
root=$PWD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$UV" build --quiet --wheel --out-dir "$work/dist" .
"$UV" build --quiet --wheel --out-dir "$work/dist" examples/shop
"$UV" venv --quiet "$work/venv"
# envres with its dependencies; the example without its database drivers (validation
# imports neither driver).
"$UV" pip install --quiet --python "$work/venv/bin/python" "$work"/dist/envres-*.whl
"$UV" pip install --quiet --python "$work/venv/bin/python" --no-deps "$work"/dist/envres_example_shop-*.whl

cd "$work"
py="$work/venv/bin/python"
"$py" - "$root" <<'PY'
import importlib, importlib.util, pathlib, sys
import envres
where = pathlib.Path(envres.__file__).resolve()
assert "site-packages" in where.parts, f"envres imported from {where}, not the installed wheel"
assert (where.parent / "py.typed").is_file(), "py.typed is missing from the wheel"
root = pathlib.Path(sys.argv[1])
names = {
    ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    for p in (root / "envres").rglob("*.py")
}
# Not imported (they run the CLI, or need pytest or an extra), only looked for.
skipped = {"envres.__main__", "envres._executors._dask", "envres._integrations.pytest_plugin"}
# Need the dagster extra, which this venv does not have: importing them must say so.
extra = {"envres.dagster", "envres._integrations._dagster"}
for name in sorted(extra):
    try:
        importlib.import_module(name)
    except envres.UsageError as exc:
        assert "pip install 'envres[dagster]'" in str(exc), exc
    else:
        raise AssertionError(f"{name} imported without Dagster installed")
for name in sorted(names - extra):
    if name in skipped:
        assert importlib.util.find_spec(name) is not None, f"{name} is missing from the wheel"
        continue
    module = importlib.import_module(name)
    assert "site-packages" in pathlib.Path(module.__file__).parts, module.__file__
print(f"every module of envres/ is in the wheel ({len(names)} modules)")
PY
# The version is written once (envres.__version__); the wheel, its metadata and
# `envres --version` all say it.
version=$("$py" -c 'import envres; print(envres.__version__)')
ls "$work"/dist/envres-"$version"-py3-none-any.whl >/dev/null
[[ $("$work/venv/bin/envres" --version) == "envres, version $version" ]]
"$work/venv/bin/envres" validate --all --allow-missing-env --project "$root"
# What a user does next with the installed wheel: scaffold a project, and use it from
# one of its subfolders.
"$work/venv/bin/envres" init --project "$work/myproj" >/dev/null
(cd "$work/myproj/tests" && "$work/venv/bin/envres" validate && "$work/venv/bin/envres" run >/dev/null)
echo "wheel smoke test passed"
