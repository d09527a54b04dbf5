"""envres and Dagster side by side, on the same synthetic workload (issue #5).

    bench/.venv/bin/python bench/compare.py [--quick] [--repeat N] [--timeout S] [--json FILE]

Every measurement is a whole child process (see bench/measure.py: wall time around
the child, peak RSS from ``os.wait4``), and the two sides run alternately (envres
first on odd rounds, Dagster first on even ones), so drift on the machine hits both.
The workload (bench/workload.py) is written to a temporary folder and byte-compiled
before anything is timed.

Scenarios:

- import: ``import envres`` / ``import dagster`` / ``import yaml, pydantic``, timed
  inside the child (the interpreter's own start-up is shown apart, as ``python -c pass``);
- validate N resources (N assets, one resource each): ``python -m envres validate``
  against a Dagster process that imports the same definitions and calls
  ``Definitions(...)`` and ``Definitions.validate_loadable``;
- run N assets: ``python -m envres run`` against ``dagster.materialize`` in process
  (ephemeral instance, default in-process executor, DAGSTER_HOME a temporary folder);
- growth: envres's validate at 10x the resources, over the smaller size;
- injection: bench/injection.py (an asset call through envres vs a direct call).

Targets are informational: a missed one prints FAIL and the exit code stays 0. The
exit code is 1 only when a run crashed (a non-zero exit that is not a timeout).
``--quick`` (CI smoke run) divides every size by 10, runs each command once, and runs
only the envres side when Dagster is not installed.
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

import measure
import workload

BENCH = Path(__file__).resolve().parent
PY = sys.executable

IMPORT_SNIPPET = (
    "import time; t0 = time.perf_counter(); {stmt}; "
    "print(f'IMPORT_SECONDS {{time.perf_counter() - t0}}')"
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

    def peak_mib(self) -> float | None:
        return max(s.maxrss_kib for s in self.samples) / 1024 if self.samples else None

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "cmd": self.cmd,
            "values": self.values(),
            "wall_seconds": [s.seconds for s in self.samples],
            "maxrss_kib": [s.maxrss_kib for s in self.samples],
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
            env=self.env,
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
        """Run each series ``repeat`` times, interleaved, flipping the order every round."""
        for r in range(repeat):
            order = list(series) if r % 2 == 0 else list(reversed(series))
            for s in order:
                if not s.done:
                    self.once(s)
            print(
                "    round {}/{}: {}".format(
                    r + 1, repeat, ", ".join(f"{s.label} {_fmt_s(s.samples[-1].seconds)}"
                                             for s in series if s.samples)
                ),
                flush=True,
            )  # fmt: skip

    def warm(self, cmd: Sequence[str], cwd: Path) -> None:
        """One untimed run (page cache, .pyc files of installed packages)."""
        self.count += 1
        measure.run(cmd, cwd=cwd, env=self.env, timeout=self.timeout, log=self.tmp / "warm.log")


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
        return f"{lo * 1000:.0f}–{hi * 1000:.0f} ms" if lo >= 0.01 else (
            f"{lo * 1000:.1f}–{hi * 1000:.1f} ms")  # fmt: skip
    return f"{lo:.2f}–{hi:.2f} s"


def series_table(title: str, series: Sequence[Series], wall_note: bool = False) -> list[str]:
    lines = [title]
    head = f"  {'':<26}{'runs':>5}  {'median':>10}  {'min–max':>17}  {'peak RSS':>9}"
    if wall_note:
        head += f"  {'process':>9}"
    lines.append(head)
    for s in series:
        if s.timed_out is not None and not s.samples:
            lines.append(f"  {s.label:<26}{0:>5}  skipped: > {s.timed_out:.0f} s (timeout)")
            continue
        if s.crashed is not None and not s.samples:
            lines.append(f"  {s.label:<26}{0:>5}  CRASHED (exit {s.crashed.returncode})")
            continue
        rss = s.peak_mib()
        row = (
            f"  {s.label:<26}{len(s.samples):>5}  {_fmt_s(s.median()):>10}  "
            f"{_fmt_range(s.values()):>17}  {f'{rss:.0f} MiB' if rss else '-':>9}"
        )
        if wall_note:
            row += f"  {_fmt_s(s.wall_median()):>9}"
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
    judged: bool = True  # False: context only, no PASS/FAIL (e.g. Dagster's own growth)

    def verdict(self) -> str:
        if not self.judged:
            return "-"
        if self.measured is None:
            return "n/a"
        ok = self.measured >= self.bound if self.at_least else self.measured <= self.bound
        return "PASS" if ok else "FAIL"

    def row(self) -> str:
        m = "-" if self.measured is None else f"{self.measured:.2f}×"
        if self.lower_bound_only and self.measured is not None:
            m = "> " + m
        t = f"{'≥' if self.at_least else '≤'} {self.bound:g}×"
        return f"  {self.name:<48}{m:>10}  {t:>8}  {self.verdict():<5} {self.note}".rstrip()


def ratio(a: Series | None, b: Series | None) -> tuple[float | None, bool]:
    """a / b by medians; when ``a`` timed out, timeout / b as a lower bound."""
    if a is None or b is None or b.median() is None:
        return None, False
    bm = b.median()
    assert bm is not None
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
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "envres": f"{version('envres')} ({rev or 'unknown commit'})",
        "dagster": version("dagster"),
        "pydantic": version("pydantic"),
        "PyYAML": version("PyYAML"),
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="envres vs Dagster on the same workload (issue #5).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes / 10, 1 repeat")
    parser.add_argument("--repeat", type=int, default=None, help="runs per command (default 5)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per process (default 120; quick 60)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=150.0,
        help="stop repeating a command once its runs add up to this many seconds (default 150)",
    )
    parser.add_argument("--no-dagster", action="store_true", help="run only the envres side")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument("--keep", type=Path, help="write the workload here and keep it")
    args = parser.parse_args(argv)

    repeat = args.repeat or (1 if args.quick else 5)
    timeout = args.timeout or (60.0 if args.quick else 120.0)
    scale = 10 if args.quick else 1
    small, big, run_n = 1000 // scale, 10_000 // scale, 1000 // scale

    have_dagster = importlib.util.find_spec("dagster") is not None
    dagster = have_dagster and not args.no_dagster
    if not have_dagster and not args.no_dagster and not args.quick:
        print(
            "dagster is not installed in this environment; set up the benchmark's own venv:\n"
            "  python3 -m venv bench/.venv && bench/.venv/bin/pip install -e . "
            "-r bench/requirements.txt\n(or pass --no-dagster / --quick for the envres side only)",
            file=sys.stderr,
        )
        return 2

    info = machine()
    began = time.perf_counter()
    print(f"envres vs Dagster, {'quick' if args.quick else 'full'} run, {repeat} run(s) each")
    for k, v in info.items():
        print(f"  {k:<9}{v}")
    if not dagster:
        why = "--no-dagster" if args.no_dagster else "dagster is not importable here"
        print(f"  NOTE: envres side only ({why}); no ratios against Dagster")
    print(flush=True)

    with tempfile.TemporaryDirectory(prefix="envres-bench-") as tmpname:
        tmp = Path(tmpname)
        root = args.keep.resolve() if args.keep else tmp / "work"
        env = child_env(tmp)
        runner = Runner(tmp, env, timeout, args.budget)

        print(f"writing the workload ({small:,}, {big:,} resources) to {root}", flush=True)
        projects = {
            n: workload.write_all(root, n, dagster=dagster) for n in sorted({small, big, run_n})
        }

        def envres_cmd(command: str, n: int) -> Series:
            return Series(
                f"envres {command}",
                [PY, "-m", "envres", command, "--project", str(projects[n][0])],
                projects[n][0],
            )

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
            imp("import yaml, pydantic", "import yaml, pydantic"),
            imp(
                "yaml + pydantic model",
                "import yaml; from pydantic import BaseModel; "
                "type('M', (BaseModel,), {'__annotations__': {'x': int}})",
            ),
            imp("import envres", "import envres"),
        ]
        if dagster:
            imports.append(imp("import dagster", "import dagster"))
        for s in imports:
            runner.warm(s.cmd, s.cwd)
        runner.alternate(imports, max(repeat, 5))  # cheap: never fewer than 5
        results["import"] = imports
        report += series_table(
            "import (in-process import time; 'process' = the whole child, start-up included)",
            imports,
            wall_note=True,
        )
        report.append("")

        # 2. validate at two sizes, 3. run
        scenarios = [
            (f"validate {small:,} resources, {small:,} assets", "validate", small),
            (f"validate {big:,} resources, {big:,} assets", "validate", big),
            (f"run {run_n:,} assets, one resource each", "run", run_n),
        ]
        for title, command, n in scenarios:
            print(f"{title} ...", flush=True)
            pair = [envres_cmd(command, n)]
            if dagster:
                pair.append(dagster_cmd(command, n))
            if n == small and command == "validate":  # warms every code path of both sides
                for s in pair:
                    runner.warm(s.cmd, s.cwd)
            runner.alternate(pair, repeat)
            results[title] = pair
            report += series_table(title + " (whole process)", pair)
            report.append("")

        # 4. injection
        print("injection ...", flush=True)
        inj_rows, inj_error = injection(args.quick)
        report.append("injection per asset call (bench/injection.py)")
        if inj_error:
            report.append(f"  FAILED: {inj_error}")
        for name, direct, envres_ns, r in inj_rows:
            report.append(
                f"  {name:<26}direct {direct:>5.0f} ns   envres {envres_ns:>5.0f} ns   {r:.2f}×"
            )
        report.append("")

        # targets
        imp_by = {s.label: s for s in imports}
        v_small, v_big, run_pair = (results[t[0]] for t in scenarios)

        def side(pair: list[Series], i: int) -> Series | None:
            return pair[i] if len(pair) > i else None

        targets: list[Target] = []
        r, _ = ratio(imp_by.get("import dagster"), imp_by["import envres"])
        targets.append(Target("import: dagster / envres", r, 5, True))
        r, _ = ratio(imp_by["import envres"], imp_by["import yaml, pydantic"])
        targets.append(Target("import: envres / (yaml, pydantic)", r, 1.3, False))
        r, _ = ratio(imp_by["import envres"], imp_by["yaml + pydantic model"])
        targets.append(Target("  (info) envres / (yaml + a pydantic model)", r, 1.3, False))
        r, lb = ratio(side(v_small, 1), v_small[0])
        targets.append(Target(f"validate {small:,}: dagster / envres", r, 20, True, lb))
        r, lb = ratio(side(v_big, 1), v_big[0])
        targets.append(Target(f"  (info) validate {big:,}: dagster / envres", r, 20, True, lb))
        r, lb = ratio(side(run_pair, 1), run_pair[0])
        targets.append(Target(f"run {run_n:,}: dagster / envres", r, 40, True, lb))
        rss_e = run_pair[0].peak_mib()
        rss_d = side(run_pair, 1).peak_mib() if side(run_pair, 1) else None  # type: ignore[union-attr]
        targets.append(
            Target(
                f"run {run_n:,}: peak RSS envres / dagster",
                rss_e / rss_d if rss_e and rss_d else None,
                1,
                False,
                note=f"({rss_e:.0f} vs {rss_d:.0f} MiB)" if rss_e and rss_d else "",
            )
        )
        r, _ = ratio(v_big[0], v_small[0])
        targets.append(Target(f"growth: envres validate {big:,} / {small:,}", r, 11, False))
        start = imp_by["import envres"].wall_median()
        eb, es = v_big[0].median(), v_small[0].median()
        if start is not None and eb is not None and es is not None and es > start:
            targets.append(
                Target(
                    "  (info) the same, net of `import envres` process",
                    (eb - start) / (es - start),
                    11,
                    False,
                )
            )
        r, lb = ratio(side(v_big, 1), side(v_small, 1))
        if r is not None:
            targets.append(
                Target(
                    f"  (info) growth: dagster validate {big:,} / {small:,}",
                    r,
                    11,
                    False,
                    lb,
                    judged=False,
                )
            )
        one = [row for row in inj_rows if row[0] == "one_resource"]
        targets.append(
            Target(
                "injection: envres / direct call (one resource)",
                one[0][3] if one else None,
                2,
                False,
            )
        )

        report.append("targets (ratios of medians; informational, never fail the run)")
        if args.quick:
            report.append(
                "  quick run: sizes are a tenth of the targets' own; verdicts are indicative only"
            )
        report += [t.row() for t in targets]

        elapsed = time.perf_counter() - began
        print()
        print("\n".join(report))
        print(f"\ntotal benchmark time {elapsed:.0f} s")

        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "machine": info,
                        "quick": args.quick,
                        "repeat": repeat,
                        "results": {k: [s.as_json() for s in v] for k, v in results.items()},
                        "injection": inj_rows,
                        "targets": [
                            {
                                "name": t.name.strip(),
                                "measured": t.measured,
                                "bound": t.bound,
                                "at_least": t.at_least,
                                "lower_bound_only": t.lower_bound_only,
                                "verdict": t.verdict(),
                            }
                            for t in targets
                        ],
                        "seconds": elapsed,
                    },
                    indent=2,
                )
            )
        if runner.crashes or inj_error:
            print("\nsome runs crashed (see above)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
