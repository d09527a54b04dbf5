# Sourced by the scripts: puts a pinned uv in $UV, installing it into .tools/ on first use.
#
# uv installs exactly what uv.lock pins (the versions the suite was green with). It is
# fetched once, from PyPI, with the pip of the python3 that runs these scripts; no
# virtual environment is needed for it, and uv itself never downloads a Python.
UV_VERSION=0.13.9
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-python3}"

if command -v uv >/dev/null 2>&1 && [[ $(uv --version 2>/dev/null) == "uv $UV_VERSION"* ]]; then
    UV=uv
else
    UV=".tools/uv-$UV_VERSION/bin/uv"
    if [[ ! -x $UV ]]; then
        printf '==> installing uv %s into .tools/ (once)\n' "$UV_VERSION"
        python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
            --target ".tools/uv-$UV_VERSION" "uv==$UV_VERSION"
    fi
fi
