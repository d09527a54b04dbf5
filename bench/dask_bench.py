"""envres on Dask against local threads and against plain Dask (issue 14).

    python bench/dask_bench.py [--quick] [--repeat N] [--workers W] [--json FILE]

Writes two temporary projects whose assets each spin a pure Python loop on a
resource for a calibrated time (and, beside each asset, a plain function doing the
same loop without envres), and runs two workloads through the Python API:

1. CPU-bound: 200 independent assets of 50 ms (``--quick``: 20):
   - local threads: ``bound.run(jobs=W)`` (the GIL lets one thread run at once);
   - dask, cold: ``bound.run(jobs=W, executor="dask")``, which starts a LocalCluster
     of W worker processes and closes it after the run;
   - dask, warm: the same on a cluster started beforehand;
   - for context, plain Dask the same two ways: a new LocalCluster, ``client.map``
     of the 200 plain functions, ``client.gather``, close (cold); ``client.map`` and
     ``client.gather`` on the running cluster (warm). They show what Dask itself
     costs, the floor under envres's two rows.
2. Per-task overhead: 2,000 independent assets of 1 ms (``--quick``: 200):
   - local threads: ``bound.run(jobs=W)``;
   - envres on dask: ``bound.run(jobs=W, executor=client)`` on a running cluster;
   - plain dask: ``client.map`` of the 2,000 plain functions on the SAME running
     cluster, then ``client.gather``.

Every cluster is W worker processes of one thread each. Each measurement is repeated
``--repeat`` times (default 7; ``--quick``: 1): every way of one workload in the same
rounds, each round starting one step further, so drift on the machine hits them
alike; the tables show the median and the range. The running cluster is started
first and stays up, idle, while the other ways run; one untimed run of each kind
warms it (workers import the project, Dask learns task durations).

Columns: "vs ideal" is the median over N x M / W; "per task" is (median - N x M / W)
/ N, what each task costs beyond its share of the ideal, perfectly parallel time;
"asset time" is measured inside each asset (``RunResult.seconds``): above M, the
workers were slowed by each other or by the client and scheduler (on a W-core
machine they share the cores), and on the thread pool it includes waiting for the
GIL. "others" is the CPU that processes outside this benchmark used meanwhile, in
cores (the machine's busy time minus this process's and its children's): above
about 0.1 the measurement shared the machine and is worth repeating.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # a dependency of distributed

import envres

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


ITERATIONS = {iterations}


def call(fn):
    return fn()


{assets}

PLAIN = [{plain}]

defs = envres.Definitions(assets=[{names}], resource_types={{"burner": Burner}})
"""

ASSET = """
@envres.asset
def {name}(burner: Burner) -> int:
    return burner.burn()


def plain_{name}() -> int:
    return spin(ITERATIONS)
"""

PROFILE = "resources:\n  burner: {{type: burner, config: {{iterations: {iterations}}}}}\n"


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


@dataclass
class Workload:
    """A project of ``assets`` independent assets of ``ms`` each, and its plain twins."""

    root: Path
    module: str
    names: list[str]
    ms: float
    iterations: int
    bound: envres.BoundDefinitions = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir()
        body = "".join(ASSET.format(name=n) for n in self.names)
        (self.root / f"{self.module}.py").write_text(
            DEFINITIONS.format(
                iterations=self.iterations,
                assets=body,
                names=", ".join(self.names),
                plain=", ".join(f"plain_{n}" for n in self.names),
            ),
            encoding="utf-8",
        )
        (self.root / "pyproject.toml").write_text(
            f'[tool.envres]\ndefinitions = "{self.module}:defs"\n', encoding="utf-8"
        )
        (self.root / "profiles").mkdir()
        (self.root / "profiles" / "bench.yaml").write_text(
            PROFILE.format(iterations=self.iterations), encoding="utf-8"
        )
        self.bound = envres.load("bench", project=self.root, env={})

    def run(self, jobs: int, executor: object = "local") -> Callable[[], envres.RunResult]:
        return lambda: self.bound.run(self.names, jobs=jobs, executor=executor)

    def plain_map(self, client: Any) -> Callable[[], list[int]]:
        """``client.map`` of the plain functions (imported by name on the workers)."""
        module = sys.modules[self.module]
        client.run(sys.path.insert, 0, str(self.root))

        def go() -> list[int]:
            return list(client.gather(client.map(module.call, module.PLAIN, pure=False)))

        return go


# -- measuring -----------------------------------------------------------------------


def _tree_cpu() -> float:
    """CPU seconds of this process, its live children and those it has reaped."""
    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system
    return total


def _busy_cpu() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))


@contextmanager
def others() -> Iterator[list[float]]:
    """Yields a list that receives the cores other processes used during the block."""
    out: list[float] = []
    busy, mine, started = _busy_cpu(), _tree_cpu(), time.perf_counter()
    yield out
    wall = time.perf_counter() - started
    out.append(max(0.0, (_busy_cpu() - busy) - (_tree_cpu() - mine)) / wall)


@dataclass
class Series:
    """One way of running one workload, repeated."""

    label: str
    assets: int
    ms: float
    workers: int
    walls: list[float] = field(default_factory=list)
    asset_ms: list[float] = field(default_factory=list)  # mean per run, measured inside
    others: list[float] = field(default_factory=list)  # cores used by other processes
    outputs: list[list[int]] = field(default_factory=list)

    @property
    def ideal(self) -> float:
        return self.assets * self.ms / 1000 / self.workers

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def measure(self, run: Callable[[], Any]) -> None:
        with others() as noise:
            started = time.perf_counter()
            result = run()
            self.walls.append(time.perf_counter() - started)
        self.others.extend(noise)
        if isinstance(result, envres.RunResult):
            self.asset_ms.append(statistics.mean(result.seconds.values()) * 1000)
            self.outputs.append(sorted(result.outputs.values()))
        else:
            self.outputs.append(sorted(result))

    def row(self) -> str:
        spread = f" ({min(self.walls):.2f}–{max(self.walls):.2f})" if len(self.walls) > 1 else ""
        per_task = (self.median - self.ideal) / self.assets * 1000
        asset = f"{statistics.mean(self.asset_ms):.1f} ms" if self.asset_ms else "–"
        return (
            f"| {self.label} | {self.median:.2f} s{spread} | {self.median / self.ideal:.2f}x "
            f"| {per_task:+.2f} ms | {asset} | {max(self.others):.2f} |"
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
            "other_processes_cores": self.others,
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
        return f"  {self.name:<56}{self.measured:>6.2f}x  {bound:>7}  {verdict}"


def in_turn(repeat: int, *steps: Callable[[], None]) -> None:
    """``repeat`` rounds of every step, each round starting one step further."""
    for i in range(repeat):
        for j in range(len(steps)):
            steps[(i + j) % len(steps)]()


def table(title: str, series: list[Series]) -> list[str]:
    return [
        title,
        "",
        "| executor | wall time: median (range) | vs ideal | per task | asset time | others |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
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
    parser.add_argument("--repeat", type=int, default=None, help="runs of each (default 7)")
    parser.add_argument("--workers", type=int, default=2, help="--jobs and Dask workers")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    repeat = args.repeat or (1 if args.quick else 7)
    w = args.workers
    big, big_ms = 200 // scale, 50.0
    small, small_ms = 2000 // scale, 1.0

    from distributed import Client, LocalCluster

    def cluster() -> LocalCluster:
        return LocalCluster(
            n_workers=w,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )

    began = time.perf_counter()
    info = machine()
    cpu_local = Series(f"local threads (`--jobs {w}`)", big, big_ms, w)
    cpu_cold = Series(f"dask, new LocalCluster of {w} processes (cold)", big, big_ms, w)
    cpu_warm = Series(f"dask, running cluster of {w} processes (warm)", big, big_ms, w)
    cpu_plain_cold = Series("(context) plain dask `client.map`, new LocalCluster", big, big_ms, w)
    cpu_plain_warm = Series("(context) plain dask `client.map`, running cluster", big, big_ms, w)
    small_local = Series(f"local threads (`--jobs {w}`)", small, small_ms, w)
    small_envres = Series("envres on dask, running cluster", small, small_ms, w)
    small_plain = Series("plain dask `client.map`, same cluster", small, small_ms, w)

    with tempfile.TemporaryDirectory() as tmp:
        big_names, small_names = [f"t{i}" for i in range(big)], [f"u{i}" for i in range(small)]
        cpu = Workload(Path(tmp) / "cpu", "dask_bench_cpu", big_names, big_ms, calibrate(big_ms))
        quick = Workload(
            Path(tmp) / "small", "dask_bench_small", small_names, small_ms, calibrate(small_ms)
        )

        def plain_cold() -> list[int]:
            with cluster() as local_cluster, Client(local_cluster, set_as_default=False) as c:
                return cpu.plain_map(c)()

        # Every way of one workload in the same rounds, the running cluster up (and
        # idle) throughout: the machine's speed drifts by tens of percent over minutes,
        # and a ratio of two rows measured minutes apart would measure the drift.
        with cluster() as running, Client(running, set_as_default=False) as client:
            cpu_plain, small_plain_map = cpu.plain_map(client), quick.plain_map(client)
            for warm_up in (cpu.run(w, client), cpu_plain, quick.run(w, client), small_plain_map):
                warm_up()
            in_turn(
                repeat,
                lambda: cpu_local.measure(cpu.run(w)),
                lambda: cpu_cold.measure(cpu.run(w, "dask")),
                lambda: cpu_warm.measure(cpu.run(w, client)),
                lambda: cpu_plain_cold.measure(plain_cold),
                lambda: cpu_plain_warm.measure(cpu_plain),
            )
            in_turn(
                repeat,
                lambda: small_local.measure(quick.run(w)),
                lambda: small_envres.measure(quick.run(w, client)),
                lambda: small_plain.measure(small_plain_map),
            )

    workloads = [
        [cpu_local, cpu_cold, cpu_warm, cpu_plain_cold, cpu_plain_warm],
        [small_local, small_envres, small_plain],
    ]
    for group in workloads:  # every way, every run, computed the same values
        assert all(o == group[0].outputs[0] for s in group for o in s.outputs), group[0].label

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
        f"{big} x {big_ms:g} ms: local threads / plain dask warm": (
            cpu_local.median / cpu_plain_warm.median
        ),
        f"{big} x {big_ms:g} ms: local threads / plain dask cold": (
            cpu_local.median / cpu_plain_cold.median
        ),
        f"{small:,} x {small_ms:g} ms: envres on dask / local threads": (
            small_envres.median / small_local.median
        ),
        f"{small:,} x {small_ms:g} ms: plain dask / local threads": (
            small_plain.median / small_local.median
        ),
    }
    judged = not args.quick
    elapsed = time.perf_counter() - began
    info["load_average_after"] = list(os.getloadavg())
    noisiest = max(x for group in workloads for s in group for x in s.others)
    out = [
        f"envres on Dask, {'quick' if args.quick else 'full'} run: {w} jobs / worker processes "
        f"of 1 thread, {repeat} run(s) each; {info['cpus']} CPUs, Python {info['python']}, "
        f"dask {info['distributed']}, envres {info['commit'] or info['envres']}, {info['date']}",
        "",
        *table(
            f"{big} independent assets x {big_ms:g} ms of pure Python ({cpu.iterations:,} loop "
            f"steps); ideal parallel time {cpu_local.ideal:.2f} s",
            workloads[0],
        ),
        *table(
            f"{small:,} independent assets x {small_ms:g} ms ({quick.iterations:,} loop steps); "
            f"ideal parallel time {small_local.ideal:.2f} s",
            workloads[1],
        ),
        "targets (ratios of medians)"
        + ("" if judged else ": quick run, smaller sizes, for information only"),
        *(t.row(judged) for t in targets),
        *(f"  {'(context) ' + name:<56}{ratio:>6.2f}x" for name, ratio in context.items()),
        "",
        f"benchmark time {elapsed:.0f} s; other processes used at most {noisiest:.2f} cores "
        f"during a measurement"
        + (" (the machine was not quiet: repeat the run)" if noisiest > 0.1 else ""),
    ]
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
                    "iterations": {"50ms": cpu.iterations, "1ms": quick.iterations},
                    "cpu_bound": [s.as_json() for s in workloads[0]],
                    "small_tasks": [s.as_json() for s in workloads[1]],
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
                    "other_processes_cores_max": noisiest,
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
