"""envres against the floor and against Dagster, on one workload, in one run (issue #14).

    ./scripts/bench.sh [--quick] [--repeat N] [--json FILE]        (the documented command)
    python bench/compare.py [...]                                   (from an env with Dagster)

Every measurement is a whole child process (bench/measure.py: wall time around the
child, peak RSS from ``os.wait4``); the commands of one scenario run alternately,
in a different order each round, so drift on the machine hits them all. The
workload (bench/workload.py) is written to a temporary folder and byte-compiled
before anything is timed. Medians are compared; only ratios count.

Scenarios:

- import: ``import envres`` against ``import yaml, pydantic`` plus one model (the
  least any pydantic-based validator pays) and ``import dagster``;
- validate N resources (N assets): ``python -m envres validate`` against the floor
  (bench/floor.py: what any YAML + pydantic validator of the same profile must do)
  at 1,000, 10,000 and 100,000, and against Dagster's ``Definitions`` +
  ``validate_loadable`` at 1,000 (it takes about 5 minutes at 10,000);
- startup (issue 22): envres's fixed cost on a small real project, examples/shop
  (profile dev): ``envres validate`` against ``python -c "import shop.definitions"``,
  ``envres run`` against the same pipeline run by hand (bench/shop_floor.py),
  ``envres --help`` and shell completion against 100 ms (``--only startup`` runs
  this scenario alone);
- run 1,000 assets: ``python -m envres run`` against ``dagster.materialize``;
- injection: bench/injection.py (an asset call through envres vs a direct call);
- Dask: bench/dask_bench.py (200 x 50 ms and 2,000 x 1 ms workloads).

Targets are printed with PASS or FAIL; they never change the exit code, which is 1
only when a measured command crashed. ``--quick`` (the smoke run of the test
command) divides every size by 10 and runs each command once; its verdicts read
"ok" or "over" (small sizes measure start-up more than work: informational).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import measure
import workload

BENCH = Path(__file__).resolve().parent
PY = sys.executable

IMPORT_SNIPPET = (
    "import time; t0 = time.perf_counter(); {stmt}; "
    "print(f'IMPORT_SECONDS {{time.perf_counter() - t0}}')"
)
BASELINE_STMT = (
    "import yaml; from pydantic import BaseModel; "
    "type('M', (BaseModel,), {'__annotations__': {'x': int}})"
)


# -- collecting ----------------------------------------------------------------------


@dataclass
class Series:
    """One command, run several times."""

    label: str
    cmd: list[str]
    cwd: Path
    samples: list[measure.Outcome] = field(default_factory=list)
    timed_out: float | None = None  # the timeout it hit, if it did
    crashed: measure.Outcome | None = None
    budget_hit: bool = False
    #: Parse a number from the child's output instead of using the wall time (imports).
    metric: Callable[[str], float] | None = None
    #: Variables set for this command only, over the scenario's environment.
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.timed_out is not None or self.crashed is not None or self.budget_hit

    def values(self) -> list[float]:
        if self.metric is None:
            return [s.seconds for s in self.samples]
        return [self.metric(s.output) for s in self.samples]

    def median(self) -> float | None:
        v = self.values()
        return statistics.median(v) if v else None

    def wall_median(self) -> float | None:
        return statistics.median(s.seconds for s in self.samples) if self.samples else None

    def cpu_median(self) -> float | None:
        """The median of the runs' CPU time (user + system, seconds)."""
        return statistics.median(s.cpu_seconds for s in self.samples) if self.samples else None

    def peak_mib(self) -> float | None:
        """The median of the runs' peak RSS (MiB)."""
        if not self.samples:
            return None
        return statistics.median(s.maxrss_kib for s in self.samples) / 1024

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "cmd": self.cmd,
            "values": self.values(),
            "wall_seconds": [s.seconds for s in self.samples],
            "maxrss_kib": [s.maxrss_kib for s in self.samples],
            "cpu_seconds": [s.cpu_seconds for s in self.samples],
            "timed_out_after": self.timed_out,
            "crashed": self.crashed is not None,
        }


def import_seconds(output: str) -> float:
    for line in output.splitlines():
        if line.startswith("IMPORT_SECONDS "):
            return float(line.split()[1])
    raise ValueError(f"no IMPORT_SECONDS line in {output[-500:]!r}")


class Runner:
    def __init__(self, tmp: Path, env: dict[str, str], timeout: float, budget: float) -> None:
        self.tmp = tmp
        self.env = env
        self.timeout = timeout
        self.budget = budget
        self.count = 0
        self.crashes: list[tuple[Series, measure.Outcome]] = []

    def once(self, s: Series) -> None:
        self.count += 1
        out = measure.run(
            s.cmd,
            cwd=s.cwd,
            env={**self.env, **s.extra_env},
            timeout=self.timeout,
            log=self.tmp / f"run{self.count}.log",
        )
        if out.timed_out:
            s.timed_out = self.timeout
            print(f"    {s.label}: timed out after {self.timeout:.0f} s", flush=True)
            return
        if not out.ok:
            s.crashed = out
            self.crashes.append((s, out))
            print(f"    {s.label}: CRASHED (exit {out.returncode})\n{out.tail()}", flush=True)
            return
        s.samples.append(out)
        if sum(x.seconds for x in s.samples) > self.budget:
            s.budget_hit = True

    def alternate(self, series: Sequence[Series], repeat: int) -> None:
        """Run each series ``repeat`` times, interleaved, rotating the order every round."""
        for r in range(repeat):
            k = r % len(series)
            order = list(series[k:]) + list(series[:k])
            if r % 2:
                order.reverse()
            for s in order:
                if not s.done:
                    self.once(s)
            done = ", ".join(
                f"{s.label} {_fmt_s(s.samples[-1].seconds)}" for s in series if s.samples
            )
            print(f"    round {r + 1}/{repeat}: {done}", flush=True)

    def warm(self, cmd: Sequence[str], cwd: Path, extra_env: dict[str, str] | None = None) -> None:
        """One untimed run (page cache, .pyc files of installed packages)."""
        self.count += 1
        measure.run(
            cmd,
            cwd=cwd,
            env={**self.env, **(extra_env or {})},
            timeout=self.timeout,
            log=self.tmp / "warm.log",
        )


# -- reporting -----------------------------------------------------------------------


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_range(values: list[float]) -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    if hi < 1:
        if lo >= 0.01:
            return f"{lo * 1000:.0f}–{hi * 1000:.0f} ms"
        return f"{lo * 1000:.1f}–{hi * 1000:.1f} ms"
    return f"{lo:.2f}–{hi:.2f} s"


def _cell(s: Series | None) -> str:
    if s is None:
        return "not run"
    if s.samples:
        return _fmt_s(s.median())
    if s.timed_out is not None:
        return f"> {s.timed_out:.0f} s"
    if s.crashed is not None:
        return f"CRASHED ({s.crashed.returncode})"
    return "-"


def series_table(
    title: str, series: Sequence[Series], wall_note: bool = False, cpu: bool = False
) -> list[str]:
    lines = [title]
    head = f"  {'':<28}{'runs':>5}  {'median':>10}  {'min–max':>17}  {'peak RSS':>9}"
    if wall_note:
        head += f"  {'process':>9}"
    if cpu:
        head += f"  {'CPU':>9}"
    lines.append(head)
    for s in series:
        if not s.samples:
            lines.append(f"  {s.label:<28}{0:>5}  {_cell(s)}")
            continue
        rss = s.peak_mib()
        row = (
            f"  {s.label:<28}{len(s.samples):>5}  {_fmt_s(s.median()):>10}  "
            f"{_fmt_range(s.values()):>17}  {f'{rss:.0f} MiB' if rss else '-':>9}"
        )
        if wall_note:
            row += f"  {_fmt_s(s.wall_median()):>9}"
        if cpu:
            row += f"  {_fmt_s(s.cpu_median()):>9}"
        lines.append(row)
    return lines


@dataclass
class Target:
    name: str
    measured: float | None  # None: not measured
    bound: float
    at_least: bool  # True: measured >= bound passes; False: measured <= bound passes
    lower_bound_only: bool = False  # measured is a lower bound (the other side timed out)
    note: str = ""
    unit: str = "×"  # a ratio, or "ms": a time or a difference of times, in milliseconds

    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.bound if self.at_least else self.measured <= self.bound

    def verdict(self, quick: bool) -> str:
        met = self.met()
        if met is None:
            return "n/a"
        if quick:
            return "ok" if met else "over"
        return "PASS" if met else "FAIL"

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name.strip(),
            "measured": self.measured,
            "unit": self.unit,
            "bound": self.bound,
            "at_least": self.at_least,
            "lower_bound_only": self.lower_bound_only,
            "met": self.met(),
        }

    def row(self, quick: bool) -> str:
        if self.measured is None:
            m = "-"
        elif self.unit == "ms":
            m = f"{self.measured:.0f} ms"
        else:
            m = f"{self.measured:.2f}×"
        if self.lower_bound_only and self.measured is not None:
            m = "> " + m
        t = f"{'≥' if self.at_least else '≤'} {self.bound:g}{' ms' if self.unit == 'ms' else '×'}"
        return f"  {self.name:<54}{m:>9}  {t:>8}  {self.verdict(quick):<5} {self.note}".rstrip()


def ratio(a: Series | None, b: Series | None) -> tuple[float | None, bool]:
    """a / b by medians; when ``a`` timed out, timeout / b as a lower bound."""
    if a is None or b is None:
        return None, False
    bm = b.median()
    if bm is None:
        return None, False
    am = a.median()
    if am is not None:
        return am / bm, False
    if a.timed_out is not None:
        return a.timed_out / bm, True
    return None, False


# -- the benchmark -------------------------------------------------------------------


def child_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BENCH_", "ENVRES_", "DAGSTER_", "PYTHON"))
    }
    env.update(workload.ENV)
    env["DAGSTER_HOME"] = str(tmp / "dagster_home")
    (tmp / "dagster_home").mkdir(exist_ok=True)
    (tmp / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def machine() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(
            ["git", "-C", str(BENCH.parent), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        rev = ""
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "envres": f"{version('envres')} ({rev or 'unknown commit'})",
        "dagster": version("dagster"),
        "pydantic": version("pydantic"),
        "PyYAML": version("PyYAML"),
        "dask": version("distributed"),
        "load avg": f"{load} at start (1, 5, 15 min)",
    }


def injection(quick: bool) -> tuple[list[tuple[str, float, float, float]], str | None]:
    """Run bench/injection.py; its rows as (asset, direct ns, envres ns, ratio)."""
    cmd = [PY, str(BENCH / "injection.py"), *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        return [], proc.stderr.strip() or proc.stdout.strip()
    rows = []
    for line in proc.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 4:
            rows.append((parts[0], float(parts[1]), float(parts[2]), float(parts[3])))
    return rows, None


def dask(quick: bool, tmp: Path) -> tuple[dict[str, Any] | None, str, str | None]:
    """Run bench/dask_bench.py; its JSON report, its printed table, or why it failed."""
    out = tmp / "dask.json"
    cmd = [PY, str(BENCH / "dask_bench.py"), "--json", str(out), *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0 or not out.exists():
        return None, proc.stdout, (proc.stderr.strip() or proc.stdout.strip())[-2000:]
    return json.loads(out.read_text()), proc.stdout, None


#: examples/shop's envres project: the repository root (its pyproject.toml names
#: ``shop.definitions:defs``; the ``shop`` package is installed by the ``demo`` group).
ROOT = BENCH.parent


def startup(runner: Runner, tmp: Path, rounds: int) -> tuple[list[Series], list[str], list[Target]]:
    """Issue 22: envres's fixed cost on a small real project, examples/shop (profile dev).

    Against the user's own floor: ``import shop.definitions`` for validate, the same
    pipeline run by hand (bench/shop_floor.py) for run; ``--help`` and completion
    against an absolute bound, with ``python -c pass`` shown for what Python alone
    costs on the machine at that moment.
    """
    work = tmp / "shop"
    work.mkdir(exist_ok=True)
    # The run's DuckDB file and report go to the temporary folder, for both sides.
    env = {"SHOP_DUCKDB": str(work / "dev.duckdb"), "SHOP_OUT": str(work / "out")}
    script = Path(PY).parent / "envres"  # the console script users run
    envres = [str(script)] if script.exists() else [PY, "-m", "envres"]

    def series(label: str, cmd: list[str], **extra: str) -> Series:
        return Series(label, cmd, ROOT, extra_env={**env, **extra})

    def complete(words: str, cword: int) -> dict[str, str]:
        return {"_ENVRES_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": f"{cword}"}

    by = {
        s.label: s
        for s in (
            series("python -c pass", [PY, "-c", "pass"]),
            series("import shop.definitions", [PY, "-c", "import shop.definitions"]),
            series("envres validate", [*envres, "validate"]),
            series("shop run by hand", [PY, str(BENCH / "shop_floor.py")]),
            series("envres run", [*envres, "run"]),
            series("envres --help", [*envres, "--help"]),
            series("complete a command", envres, **complete("envres v", 1)),
            series("complete a profile", envres, **complete("envres validate --profile ", 3)),
        )
    }
    for s in by.values():
        runner.warm(s.cmd, s.cwd, s.extra_env)
    runner.alternate(list(by.values()), rounds)

    report = series_table(
        "startup: examples/shop, profile dev (whole process; CPU = the child's user + system time)",
        list(by.values()),
        cpu=True,
    )
    # CPU time moves less than wall time when neighbours share the machine: shown for
    # reading a busy run, never a verdict (the targets are on wall time).
    cpu = {label: s.cpu_median() for label, s in by.items()}
    v, i, r, f = (
        cpu["envres validate"],
        cpu["import shop.definitions"],
        cpu["envres run"],
        cpu["shop run by hand"],
    )
    if v and i and r is not None and f is not None:
        report.append(
            f"  by CPU time: validate / import {v / i:.2f}×, run - by hand "
            f"{(r - f) * 1000:+.0f} ms, --help {(cpu['envres --help'] or 0) * 1000:.0f} ms"
        )
    targets: list[Target] = []
    r, _ = ratio(by["envres validate"], by["import shop.definitions"])
    targets.append(Target("startup: envres validate / import shop.definitions", r, 1.25, False))
    run, floor = by["envres run"].median(), by["shop run by hand"].median()
    targets.append(
        Target(
            "startup: envres run - the same run by hand",
            None if run is None or floor is None else (run - floor) * 1000,
            100,
            False,
            unit="ms",
        )
    )
    for label in ("envres --help", "complete a command", "complete a profile"):
        m = by[label].median()
        targets.append(
            Target(f"startup: {label}", None if m is None else m * 1000, 100, False, unit="ms")
        )
    return list(by.values()), report, targets


def per_resource(a: Series, b: Series, na: int, nb: int) -> tuple[float, float] | None:
    """Marginal seconds and MiB per resource from size ``na`` to ``nb`` (medians)."""
    ta, tb, ra, rb = a.median(), b.median(), a.peak_mib(), b.peak_mib()
    if ta is None or tb is None or ra is None or rb is None:
        return None
    return (tb - ta) / (nb - na), (rb - ra) / (nb - na)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="envres against the floor and Dagster (issue #14).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes / 10, 1 repeat")
    parser.add_argument("--repeat", type=int, default=None, help="runs per command (default 5)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per process (default 180; quick 60)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=150.0,
        help="stop repeating a command once its runs add up to this many seconds (default 150)",
    )
    parser.add_argument("--no-dagster", action="store_true", help="leave Dagster out")
    parser.add_argument("--no-dask", action="store_true", help="leave bench/dask_bench.py out")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument(
        "--only",
        choices=["startup"],
        help="run one scenario alone (startup: examples/shop, issue 22); no Dagster needed",
    )
    parser.add_argument("--keep", type=Path, help="write the workload here and keep it")
    args = parser.parse_args(argv)

    quick = args.quick
    repeat = args.repeat or (1 if quick else 5)
    timeout = args.timeout or (60.0 if quick else 180.0)
    scale = 10 if quick else 1
    sizes = (1000 // scale, 10_000 // scale, 100_000 // scale)
    small, big, huge = sizes
    run_n = 1000 // scale

    have_dagster = importlib.util.find_spec("dagster") is not None
    use_dagster = have_dagster and not args.no_dagster
    if not have_dagster and not args.no_dagster and not quick and not args.only:
        print(
            "dagster is not installed in this environment: run ./scripts/bench.sh, which "
            "installs the benchmark's own environment (.venv-bench), or pass --no-dagster",
            file=sys.stderr,
        )
        return 2
    use_dask = not args.no_dask and importlib.util.find_spec("distributed") is not None

    info = machine()
    began = time.perf_counter()
    print(f"envres, the floor and Dagster: {'quick' if quick else 'full'} run, {repeat} run(s)")
    for k, v in info.items():
        print(f"  {k:<9}{v}")
    if not use_dagster:
        print(
            "  NOTE: no Dagster side ("
            + ("--no-dagster" if args.no_dagster else "not installed")
            + ")"
        )
    print(flush=True)

    with tempfile.TemporaryDirectory(prefix="envres-bench-") as tmpname:
        tmp = Path(tmpname)
        root = args.keep.resolve() if args.keep else tmp / "work"
        env = child_env(tmp)
        runner = Runner(tmp, env, timeout, args.budget)
        startup_rounds = 3 if quick else max(repeat, 7)  # cheap and noisy: never fewer than 7

        if args.only == "startup":
            print("startup ...", flush=True)
            st_series, report, st_targets = startup(runner, tmp, startup_rounds)
            report += ["", "targets" + (" (quick run: informational)" if quick else "")]
            report += [t.row(quick) for t in st_targets]
            print("\n" + "\n".join(report))
            if args.json:
                args.json.write_text(
                    json.dumps(
                        {
                            "machine": info,
                            "results": {"startup": [s.as_json() for s in st_series]},
                            "targets": [t.as_json() for t in st_targets],
                        },
                        indent=2,
                    )
                )
            return 1 if runner.crashes else 0

        print(f"writing the workload ({', '.join(f'{n:,}' for n in sizes)}) to {root}", flush=True)
        projects = {
            n: workload.write_all(root, n, dagster=use_dagster and n in (small, run_n))
            for n in sorted({*sizes, run_n})
        }

        def envres_cmd(command: str, n: int) -> Series:
            folder = projects[n][0]
            return Series(
                f"envres {command}", [PY, "-m", "envres", command, "--project", str(folder)], folder
            )

        def floor_cmd(n: int) -> Series:
            folder = projects[n][0]
            return Series("floor", [PY, str(BENCH / "floor.py"), str(folder)], folder)

        def dagster_cmd(command: str, n: int) -> Series:
            folder = projects[n][1]
            assert folder is not None
            return Series(
                f"dagster {'materialize' if command == 'run' else 'validate_loadable'}",
                [PY, str(BENCH / "dagster_side.py"), command, str(folder)],
                folder,
            )

        def imp(label: str, stmt: str) -> Series:
            return Series(
                label, [PY, "-c", IMPORT_SNIPPET.format(stmt=stmt)], tmp, metric=import_seconds
            )

        results: dict[str, list[Series]] = {}
        report: list[str] = []

        # 1. import
        print("import ...", flush=True)
        imports = [
            imp("python -c pass", "pass"),
            imp("yaml + pydantic + a model", BASELINE_STMT),
            imp(
                "import envres", "import envres; envres.Resource, envres.asset, envres.Definitions"
            ),
        ]
        if use_dagster:
            imports.append(imp("import dagster", "import dagster"))
        for s in imports:
            runner.warm(s.cmd, s.cwd)
        runner.alternate(imports, max(repeat, 7))  # cheap and noisy: never fewer than 7
        results["import"] = imports
        report += series_table(
            "import (time inside the child; 'process' = the whole child, start-up included)",
            imports,
            wall_note=True,
        )
        report.append("")

        # 1b. startup on a small real project (issue 22)
        print("startup ...", flush=True)
        st_series, st_report, st_targets = startup(runner, tmp, startup_rounds)
        results["startup"] = st_series
        report += [*st_report, ""]

        # 2. validate: envres and the floor at three sizes, Dagster at the smallest
        validate: dict[int, dict[str, Series]] = {}
        for n in sizes:
            title = f"validate {n:,} resources, {n:,} assets"
            print(f"{title} ...", flush=True)
            trio = {"envres": envres_cmd("validate", n), "floor": floor_cmd(n)}
            if use_dagster and n == small:
                trio["dagster"] = dagster_cmd("validate", n)
            if n == small:  # warms every code path of every side
                for s in trio.values():
                    runner.warm(s.cmd, s.cwd)
            # The smallest size is the noisiest (start-up dominates) and the cheapest: more
            # rounds; the largest takes seconds a run: three are enough.
            rounds = repeat if quick else (max(repeat, 11) if n == small else repeat)
            if n == huge and not quick:
                rounds = min(repeat, 3)
            runner.alternate(list(trio.values()), rounds)
            validate[n] = trio
            results[title] = list(trio.values())

        report.append("validate (whole process; the floor is bench/floor.py)")
        report.append(
            f"  {'resources':>11}  {'envres':>9}  {'floor':>9}  {'envres/floor':>12}  "
            f"{'RSS envres':>10}  {'RSS floor':>9}  {'dagster':>10}"
        )
        for n, trio in validate.items():
            r, _ = ratio(trio["envres"], trio["floor"])
            re_, rf = trio["envres"].peak_mib(), trio["floor"].peak_mib()
            report.append(
                f"  {n:>11,}  {_cell(trio['envres']):>9}  {_cell(trio['floor']):>9}  "
                f"{(f'{r:.2f}×' if r else '-'):>12}  {(f'{re_:.0f} MiB' if re_ else '-'):>10}  "
                f"{(f'{rf:.0f} MiB' if rf else '-'):>9}  {_cell(trio.get('dagster')):>10}"
            )
        # What one more resource costs, between sizes: envres's, and the floor's as the
        # measure of what the interpreter itself does at that size (a bigger heap).
        growth: dict[str, list[tuple[float, float] | None]] = {"envres": [], "floor": []}
        for side in ("envres", "floor"):
            for a, b in ((small, big), (big, huge)):
                pr = per_resource(validate[a][side], validate[b][side], a, b)
                growth[side].append(pr)
                if pr is not None:
                    report.append(
                        f"  {side} per resource from {a:,} to {b:,}: {pr[0] * 1e6:.1f} µs, "
                        f"{pr[1] * 1024:.2f} KiB"
                    )
        report.append("")

        # 3. run
        title = f"run {run_n:,} assets, one resource each"
        print(f"{title} ...", flush=True)
        pair = [envres_cmd("run", run_n)]
        if use_dagster:
            pair.append(dagster_cmd("run", run_n))
        runner.alternate(pair, repeat)
        results[title] = pair
        report += series_table(title + " (whole process)", pair)
        report.append("")

        # 4. injection
        print("injection ...", flush=True)
        inj_rows, inj_error = injection(quick)
        report.append("injection per asset call (bench/injection.py)")
        if inj_error:
            report.append(f"  FAILED: {inj_error}")
        for name, direct, envres_ns, r in inj_rows:
            report.append(
                f"  {name:<26}direct {direct:>5.0f} ns   envres {envres_ns:>5.0f} ns   {r:.2f}×"
            )
        report.append("")

        # 5. Dask
        dask_report: dict[str, Any] | None = None
        dask_error: str | None = None
        if use_dask:
            print("dask (bench/dask_bench.py) ...", flush=True)
            dask_report, dask_table, dask_error = dask(quick, tmp)
            report.append("dask (bench/dask_bench.py)")
            if dask_error:
                report.append(f"  FAILED: {dask_error}")
            else:
                report += ["  " + line for line in dask_table.rstrip().splitlines()]
            report.append("")

        # targets
        by = {s.label: s for s in imports}
        targets: list[Target] = []
        r, _ = ratio(by["import envres"], by["yaml + pydantic + a model"])
        targets.append(Target("import envres / (yaml + pydantic + a model)", r, 1.10, False))
        targets += st_targets
        for n, bound in ((small, 1.25), (big, 1.20)):
            r, _ = ratio(validate[n]["envres"], validate[n]["floor"])
            targets.append(Target(f"validate {n:,}: envres / floor", r, bound, False))
        # Linear: the cost of one more resource from 10,000 to 100,000 over that from
        # 1,000 to 10,000. The floor's own ratio is not 1 (a bigger heap is slower per
        # object on any machine), so the target is envres's ratio over the floor's:
        # envres adds nothing that grows faster than the work itself.
        for unit, index in (("µs", 0), ("KiB", 1)):
            steps = {}
            for side in ("envres", "floor"):
                first, second = growth[side]
                if first is not None and second is not None and first[index] > 0:
                    steps[side] = second[index] / first[index]
            span = f"{big:,}→{huge:,} / {small:,}→{big:,}"
            targets.append(
                Target(
                    f"linear: growth of {unit} per resource, envres / floor",
                    steps["envres"] / steps["floor"] if len(steps) == 2 else None,
                    1.10,
                    False,
                    note=f"({span}: "
                    + ", ".join(f"{side} {v:.2f}×" for side, v in steps.items())
                    + ")",
                )
            )
        r, lb = ratio(validate[small].get("dagster"), validate[small]["envres"])
        if r is not None:
            targets.append(Target(f"  (info) validate {small:,}: dagster / envres", r, 1, True, lb))
        run_e = pair[0]
        run_d = pair[1] if len(pair) > 1 else None
        r, lb = ratio(run_d, run_e)
        targets.append(Target(f"run {run_n:,}: dagster / envres", r, 40, True, lb))
        rss_e, rss_d = run_e.peak_mib(), run_d.peak_mib() if run_d else None
        targets.append(
            Target(
                f"run {run_n:,}: peak RSS envres / dagster",
                rss_e / rss_d if rss_e and rss_d else None,
                0.3,
                False,
                note=f"({rss_e:.0f} vs {rss_d:.0f} MiB)" if rss_e and rss_d else "",
            )
        )
        for name, _direct, _envres, r in inj_rows or [("(failed)", 0.0, 0.0, None)]:
            targets.append(Target(f"injection: envres / direct call ({name})", r, 1.5, False))
        if dask_report is not None:
            for t in dask_report.get("targets", []):
                targets.append(
                    Target(f"dask: {t['name']}", t.get("measured"), t["bound"], t["at_least"])
                )

        report.append(
            "targets (ratios of medians)"
            + (": quick run, sizes a tenth of the targets' own; informational" if quick else "")
        )
        report += [t.row(quick) for t in targets]

        elapsed = time.perf_counter() - began
        print()
        print("\n".join(report))
        print(f"\ntotal benchmark time {elapsed:.0f} s")

        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "machine": info,
                        "quick": quick,
                        "repeat": repeat,
                        "results": {k: [s.as_json() for s in v] for k, v in results.items()},
                        "injection": inj_rows,
                        "dask": dask_report,
                        "targets": [t.as_json() for t in targets],
                        "seconds": elapsed,
                    },
                    indent=2,
                )
            )
        if runner.crashes or inj_error or dask_error:
            print("\nsome runs crashed (see above)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
