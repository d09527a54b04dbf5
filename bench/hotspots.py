"""Where envres spends its time on the benchmark's workload (issue #5).

    .venv-bench/bin/python bench/hotspots.py [--validate N] [--run N] [--top K]

Writes the workload of bench/workload.py (envres side only) to a temporary folder and:

runs ``python -m cProfile -o ... -m envres validate`` (N resources, default 10,000)
and ``... -m envres run`` (N assets, default 1,000) and prints, for each, the time of
envres's main phases (cumulative time of named functions, so it survives line
changes) and the top functions by own time.

cProfile slows Python-level code down by roughly 1.3x; read its numbers as shares.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

import workload

PY = sys.executable

#: envres's phases, by function name (file name part, function name).
PHASES = [
    ("import envres (package)", "envres/__init__.py", "<module>"),
    ("import the command line", "envres/_cli/_app.py", "<module>"),
    ("settings (pydantic-settings)", "envres/_settings.py", "load_settings"),
    ("import the definitions module", "envres/_project.py", "import_definitions"),
    ("  of which @asset (AssetDef.__init__)", "envres/_assets.py", "__init__"),
    ("  of which Definitions (Catalog.__init__)", "envres/_catalog.py", "__init__"),
    ("load profile (all)", "envres/_load.py", "load_profile"),
    ("  YAML (load_yaml)", "envres/_yaml.py", "load_yaml"),
    ("  merge + structure (load_merged)", "envres/_profiles.py", "load_merged"),
    ("  resolve (interpolate + validate + checks)", "envres/_validate.py", "resolve"),
    ("    read configs (ConfigReader.read)", "envres/_values.py", "read"),
    ("    interpolation", "envres/_interpolate.py", "interpolate"),
    ("    pydantic model_validate", "pydantic/main.py", "model_validate"),
    ("    reference checks (check_refs)", "envres/_checks.py", "check_refs"),
    ("    asset checks (check_assets)", "envres/_checks.py", "check_assets"),
    ("run: bound.run (setup, assets, teardown)", "envres/_bound.py", "run"),
    ("  progress lines", "envres/_cli/_progress.py", "__call__"),
]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "ENVRES_"))}
    env.update(workload.ENV)
    return env


def phases(prof: Path) -> list[tuple[str, float, int]]:
    stats = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    rows = []
    for label, file_part, func in PHASES:
        cum = 0.0
        calls = 0
        for (file, _line, name), (_cc, nc, _tt, ct, _callers) in stats.items():
            if name == func and file.replace(os.sep, "/").endswith(file_part):
                cum += ct
                calls += nc
        rows.append((label, cum, calls))
    return rows


def profile(cmd: list[str], cwd: Path, top: int, out: Path) -> None:
    prof = out.with_suffix(".prof")
    subprocess.run(
        [PY, "-m", "cProfile", "-o", str(prof), "-m", "envres", *cmd],
        cwd=cwd,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    st = pstats.Stats(str(prof))
    total = st.total_tt  # type: ignore[attr-defined]
    print(f"envres {' '.join(cmd[:1])}: {total:.3f} s under cProfile")
    print(f"  {'phase':<46}{'cum s':>8}{'share':>8}{'calls':>8}")
    for label, cum, calls in phases(prof):
        if calls:
            print(f"  {label:<46}{cum:>8.3f}{cum / total:>8.0%}{calls:>8}")
    print(f"\n  top {top} by own time:")
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    for (file, line, name), (_cc, nc, tt, ct, _c) in rows:
        where = file.split("site-packages/")[-1].split("/src/")[-1]
        print(f"  {tt:>7.3f} s own {ct:>7.3f} s cum {nc:>8} calls  {where}:{line}({name})")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", type=int, default=10_000, help="resources (validate)")
    parser.add_argument("--run", type=int, default=1000, help="assets (run)")
    parser.add_argument("--top", type=int, default=20, help="functions listed by own time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envres-hotspots-") as tmpname:
        tmp = Path(tmpname)
        for cmd, n in (("validate", args.validate), ("run", args.run)):
            project, _ = workload.write_all(tmp, n, dagster=False)
            argv = [cmd, "--project", str(project)]
            print(f"== envres {cmd}, {n:,} resources / assets\n")
            profile(argv, project, args.top, tmp / f"{cmd}_{n}")


if __name__ == "__main__":
    main()
