"""envres on Dask against local threads and against plain Dask (issue 14).

    python bench/dask_bench.py [--quick] [--repeat N] [--workers W] [--json FILE]

Writes a temporary project whose assets each spin a pure Python loop on a
resource for a calibrated time, and runs two workloads through the Python API:

1. CPU-bound: 200 independent assets of 50 ms (``--quick``: 20), three ways:
   - local threads: ``bound.run(jobs=W)`` (the GIL lets one thread run at once);
   - dask, cold: ``bound.run(jobs=W, executor="dask")``, which starts a LocalCluster
     of W worker processes and closes it after the run;
   - dask, warm: the same on a cluster started beforehand.
2. Per-task overhead: 2,000 independent assets of 1 ms (``--quick``: 200):
   - local threads: ``bound.run(jobs=W)``;
   - envres on dask: ``bound.run(jobs=W, executor=client)`` on a running cluster;
   - plain dask: ``client.map`` of 2,000 plain functions doing the same work (the
     same loop, no envres) on the SAME running cluster, then ``client.gather``.
     envres and plain Dask run alternately, so drift on the machine hits both.

Every cluster is W worker processes of one thread each. Each measurement is repeated
``--repeat`` times (default 3; ``--quick``: 1) and the tables show the median and the
range. Before the running cluster's measurements, one untimed run of each kind warms
it (workers import the project, Dask learns the task durations).

Columns: "vs ideal" is the median over N x M / W; "per task" is (median - N x M / W)
/ N, what each task costs beyond its share of the ideal, perfectly parallel time;
"asset time" is measured inside each asset (``RunResult.seconds``): above M, the
workers were slowed by each other or by the client and scheduler (on a W-core
machine they share the cores), and on the thread pool it includes waiting for the GIL.

Targets (ratios of medians): local threads / dask warm >= 1.8 and local threads /
dask cold >= 1.7 on the CPU-bound workload; envres on dask / plain dask <= 1.3 on the
2,000 small assets. A full run prints PASS or FAIL for each; ``--quick`` prints the
ratios for information only. ``--json FILE`` writes every measurement and the
verdicts. The exit code is 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import envres

MODULE = "dask_bench_defs"

DEFINITIONS = """
from __future__ import annotations

import envres


def spin(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


class Burner(envres.Resource):
    iterations: int

    def burn(self) -> int:
        return spin(self.iterations)


SMALL_ITERATIONS = {small_iterations}


def call(fn):
    return fn()


{assets}

BIG = [{big}]
SMALL = [{small}]
PLAIN = [{plain}]

defs = envres.Definitions(assets=[*BIG, *SMALL], resource_types={{"burner": Burner}})
"""

BIG_ASSET = """
@envres.asset
def t{i}(burner: Burner) -> int:
    return burner.burn()
"""

SMALL_ASSET = """
@envres.asset
def u{i}(nibbler: Burner) -> int:
    return nibbler.burn()


def plain_u{i}() -> int:
    return spin(SMALL_ITERATIONS)
"""

PROFILE = """\
resources:
  burner: {{type: burner, config: {{iterations: {big}}}}}
  nibbler: {{type: burner, config: {{iterations: {small}}}}}
"""


def _spin(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def calibrate(ms: float) -> int:
    """Loop iterations that take about ``ms`` milliseconds here (fastest of 5 timings)."""
    n = 100_000
    while True:
        started = time.perf_counter()
        _spin(n)
        if time.perf_counter() - started > 0.1:
            break
        n *= 2
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        _spin(n)
        timings.append(time.perf_counter() - started)
    return max(1, int(n * ms / 1000 / min(timings)))


def project(root: Path, big: int, small: int, big_iterations: int, small_iterations: int) -> Path:
    body = "".join(BIG_ASSET.format(i=i) for i in range(big))
    body += "".join(SMALL_ASSET.format(i=i) for i in range(small))
    (root / f"{MODULE}.py").write_text(
        DEFINITIONS.format(
            small_iterations=small_iterations,
            assets=body,
            big=", ".join(f"t{i}" for i in range(big)),
            small=", ".join(f"u{i}" for i in range(small)),
            plain=", ".join(f"plain_u{i}" for i in range(small)),
        ),
        encoding="utf-8",
    )
    (root / "pyproject.toml").write_text(
        f'[tool.envres]\ndefinitions = "{MODULE}:defs"\n', encoding="utf-8"
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "bench.yaml").write_text(
        PROFILE.format(big=big_iterations, small=small_iterations), encoding="utf-8"
    )
    return root


# -- measuring -----------------------------------------------------------------------


@dataclass
class Series:
    """One way of running one workload, repeated."""

    label: str
    assets: int
    ms: float
    workers: int
    walls: list[float] = field(default_factory=list)
    asset_ms: list[float] = field(default_factory=list)  # mean per run, measured inside
    outputs: list[dict[str, int]] = field(default_factory=list)

    @property
    def ideal(self) -> float:
        return self.assets * self.ms / 1000 / self.workers

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def measure(self, run: Callable[[], envres.RunResult | list[int]], names: list[str]) -> None:
        started = time.perf_counter()
        result = run()
        self.walls.append(time.perf_counter() - started)
        if isinstance(result, envres.RunResult):
            self.asset_ms.append(statistics.mean(result.seconds.values()) * 1000)
            self.outputs.append(dict(result.outputs))
        else:
            self.outputs.append(dict(zip(names, result, strict=True)))

    def row(self) -> str:
        spread = f" ({min(self.walls):.2f}–{max(self.walls):.2f})" if len(self.walls) > 1 else ""
        per_task = (self.median - self.ideal) / self.assets * 1000
        asset = f"{statistics.mean(self.asset_ms):.1f} ms" if self.asset_ms else "–"
        return (
            f"| {self.label} | {self.median:.2f} s{spread} | {self.median / self.ideal:.2f}x "
            f"| {per_task:+.2f} ms | {asset} |"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "assets": self.assets,
            "ms_per_asset": self.ms,
            "workers": self.workers,
            "wall_seconds": self.walls,
            "median_seconds": self.median,
            "ideal_seconds": self.ideal,
            "per_task_ms": (self.median - self.ideal) / self.assets * 1000,
            "mean_asset_ms": self.asset_ms,
        }


@dataclass
class Target:
    name: str
    measured: float
    bound: float
    at_least: bool

    @property
    def met(self) -> bool:
        return self.measured >= self.bound if self.at_least else self.measured <= self.bound

    def row(self, judged: bool) -> str:
        verdict = ("PASS" if self.met else "FAIL") if judged else "(info)"
        bound = f"{'≥' if self.at_least else '≤'} {self.bound:g}x"
        return f"  {self.name:<52}{self.measured:>6.2f}x  {bound:>7}  {verdict}"


def alternate(repeat: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """``repeat`` rounds of both, ``first`` first in odd rounds: drift hits both alike."""
    for i in range(repeat):
        for step in (first, second) if i % 2 == 0 else (second, first):
            step()


def table(title: str, series: list[Series]) -> list[str]:
    return [
        title,
        "",
        "| executor | wall time: median (range) | vs ideal | per task | asset time |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(s.row() for s in series),
        "",
    ]


def machine() -> dict[str, Any]:
    # The envres measured is the one imported, which may not be this checkout's.
    source = Path(envres.__file__).resolve().parent
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        cwd=source,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "dask": importlib.metadata.version("dask"),
        "distributed": importlib.metadata.version("distributed"),
        "envres": str(source),
        "commit": commit or None,
        "load_average": list(os.getloadavg()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes / 10, 1 run, no verdicts")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="--jobs and Dask workers")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    repeat = args.repeat or (1 if args.quick else 3)
    w = args.workers
    big, big_ms = 200 // scale, 50.0
    small, small_ms = 2000 // scale, 1.0

    from distributed import Client, LocalCluster

    began = time.perf_counter()
    info = machine()
    big_iterations, small_iterations = calibrate(big_ms), calibrate(small_ms)
    big_names = [f"t{i}" for i in range(big)]
    small_names = [f"u{i}" for i in range(small)]
    cpu_local = Series(f"local threads (`--jobs {w}`)", big, big_ms, w)
    cpu_cold = Series(f"dask, new LocalCluster of {w} processes (cold)", big, big_ms, w)
    cpu_warm = Series(f"dask, running cluster of {w} processes (warm)", big, big_ms, w)
    small_local = Series(f"local threads (`--jobs {w}`)", small, small_ms, w)
    small_envres = Series("envres on dask, running cluster", small, small_ms, w)
    small_plain = Series("plain dask `client.map`, same cluster", small, small_ms, w)

    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp), big, small, big_iterations, small_iterations)
        bound = envres.load("bench", project=root, env={})
        defs_module = sys.modules[MODULE]
        plain = defs_module.PLAIN
        call = defs_module.call

        def local(names: list[str]) -> Callable[[], envres.RunResult]:
            return lambda: bound.run(names, jobs=w)

        def on_dask(names: list[str], executor: object) -> Callable[[], envres.RunResult]:
            return lambda: bound.run(names, jobs=w, executor=executor)

        alternate(
            repeat,
            lambda: cpu_local.measure(local(big_names), big_names),
            lambda: cpu_cold.measure(on_dask(big_names, "dask"), big_names),
        )
        for _ in range(repeat):
            small_local.measure(local(small_names), small_names)

        with (
            LocalCluster(
                n_workers=w,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            # Plain Dask imports the project's module by name, like envres's workers.
            client.run(sys.path.insert, 0, str(root))

            def plain_map() -> list[int]:
                futures = client.map(call, plain, pure=False)
                return list(client.gather(futures))

            on_dask(big_names[: 2 * w], client)()  # warm-up, untimed
            for _ in range(repeat):
                cpu_warm.measure(on_dask(big_names, client), big_names)
            on_dask(small_names, client)()  # warm-up, untimed
            plain_map()
            alternate(
                repeat,
                lambda: small_envres.measure(on_dask(small_names, client), small_names),
                lambda: small_plain.measure(plain_map, small_names),
            )

    for s in (cpu_local, cpu_cold, cpu_warm, small_local, small_envres, small_plain):
        assert all(o == s.outputs[0] for o in s.outputs), f"{s.label}: results differ"
    assert cpu_local.outputs[0] == cpu_cold.outputs[0] == cpu_warm.outputs[0]
    assert small_local.outputs[0] == small_envres.outputs[0] == small_plain.outputs[0]

    targets = [
        Target(
            f"{big} x {big_ms:g} ms: local threads / dask warm",
            cpu_local.median / cpu_warm.median,
            1.8,
            True,
        ),
        Target(
            f"{big} x {big_ms:g} ms: local threads / dask cold",
            cpu_local.median / cpu_cold.median,
            1.7,
            True,
        ),
        Target(
            f"{small:,} x {small_ms:g} ms: envres on dask / plain dask",
            small_envres.median / small_plain.median,
            1.3,
            False,
        ),
    ]
    context = {
        f"{small:,} x {small_ms:g} ms: envres on dask / local threads": (
            small_envres.median / small_local.median
        ),
        f"{small:,} x {small_ms:g} ms: plain dask / local threads": (
            small_plain.median / small_local.median
        ),
    }
    judged = not args.quick
    out = [
        f"envres on Dask, {'quick' if args.quick else 'full'} run: {w} jobs / worker processes "
        f"of 1 thread, {repeat} run(s) each; {info['cpus']} CPUs, Python {info['python']}, "
        f"dask {info['distributed']}, envres {info['commit'] or info['envres']}, {info['date']}",
        "",
        *table(
            f"{big} independent assets x {big_ms:g} ms of pure Python ({big_iterations:,} loop "
            f"steps); ideal parallel time {cpu_local.ideal:.2f} s",
            [cpu_local, cpu_cold, cpu_warm],
        ),
        *table(
            f"{small:,} independent assets x {small_ms:g} ms ({small_iterations:,} loop steps); "
            f"ideal parallel time {small_local.ideal:.2f} s",
            [small_local, small_envres, small_plain],
        ),
        "targets (ratios of medians)"
        + ("" if judged else ": quick run, smaller sizes, for information only"),
        *(t.row(judged) for t in targets),
        *(f"  {'(context) ' + name:<52}{ratio:>6.2f}x" for name, ratio in context.items()),
    ]
    elapsed = time.perf_counter() - began
    info["load_average_after"] = list(os.getloadavg())
    start, end = info["load_average"][0], info["load_average_after"][0]
    out.append(
        f"\nbenchmark time {elapsed:.0f} s; load average (1 min) {start:.2f} at the start, "
        f"{end:.2f} at the end"
    )
    print("\n".join(out))
    sys.stdout.flush()
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "quick": args.quick,
                    "repeat": repeat,
                    "workers": w,
                    "iterations": {"50ms": big_iterations, "1ms": small_iterations},
                    "cpu_bound": [s.as_json() for s in (cpu_local, cpu_cold, cpu_warm)],
                    "small_tasks": [s.as_json() for s in (small_local, small_envres, small_plain)],
                    "targets": [
                        {
                            "name": t.name,
                            "measured": t.measured,
                            "bound": t.bound,
                            "at_least": t.at_least,
                            "met": t.met,
                            "verdict": ("PASS" if t.met else "FAIL") if judged else "info",
                        }
                        for t in targets
                    ],
                    "context": context,
                    "seconds": elapsed,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
