"""CPU-bound assets: the local thread pool against a Dask cluster of worker processes.

    python bench/dask_bench.py [--assets 200] [--ms 50] [--workers 2] [--repeat 3] [--quick]

Writes a temporary project with N independent assets, each spinning a pure
Python loop for about M ms (calibrated here first) on a `burner` resource, then
runs them three ways through the Python API:

- local: ``bound.run(jobs=W)``, threads of this process (the GIL lets one run at once);
- dask, cold: ``bound.run(jobs=W, executor="dask")``, which starts a LocalCluster of
  W worker processes and closes it after the run;
- dask, warm: the same on a cluster started beforehand (the figure a long-lived
  cluster gives).

Each is run ``--repeat`` times; the table shows the median and the range. The
per-task overhead is (median wall time - N x M / W) / N: what each task costs
beyond its share of the ideal, perfectly parallel time. The mean asset time is
measured inside each asset (from ``RunResult.seconds``): above M, the workers
were slowed by each other or by the client and scheduler (on a W-core machine
they share the cores); on the thread pool it includes waiting for the GIL.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import envres

DEFINITIONS = """
from __future__ import annotations

import envres


class Burner(envres.Resource):
    iterations: int

    def burn(self) -> int:
        total = 0
        for i in range(self.iterations):
            total += i * i % 7
        return total


{assets}

defs = envres.Definitions(assets=[{names}], resource_types={{"burner": Burner}})
"""

ASSET = """
@envres.asset
def t{i}(burner: Burner) -> int:
    return burner.burn()
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


def project(root: Path, assets: int, iterations: int) -> Path:
    body = "".join(ASSET.format(i=i) for i in range(assets))
    names = ", ".join(f"t{i}" for i in range(assets))
    (root / "dask_bench_defs.py").write_text(
        DEFINITIONS.format(assets=body, names=names), encoding="utf-8"
    )
    (root / "pyproject.toml").write_text(
        '[tool.envres]\ndefinitions = "dask_bench_defs:defs"\n', encoding="utf-8"
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "bench.yaml").write_text(
        f"resources:\n  burner:\n    type: burner\n    config: {{iterations: {iterations}}}\n",
        encoding="utf-8",
    )
    return root


def timed(run: Callable[[], envres.RunResult], repeat: int) -> list[tuple[float, envres.RunResult]]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        out.append((time.perf_counter() - started, result))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--ms", type=float, default=50.0, help="work per asset")
    parser.add_argument("--workers", type=int, default=2, help="--jobs and Dask workers")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each executor")
    parser.add_argument("--quick", action="store_true", help="20 assets, 1 run (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.assets, args.repeat = 20, 1

    from distributed import Client, LocalCluster

    n, w = args.assets, args.workers
    iterations = calibrate(args.ms)
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp), n, iterations)
        bound = envres.load("bench", project=root, env={})

        runs = {f"local threads (`--jobs {w}`)": timed(lambda: bound.run(jobs=w), args.repeat)}
        runs[f"dask, new LocalCluster of {w} processes (cold)"] = timed(
            lambda: bound.run(jobs=w, executor="dask"), args.repeat
        )
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
            runs[f"dask, running cluster of {w} processes (warm)"] = timed(
                lambda: bound.run(jobs=w, executor=client), args.repeat
            )

    outputs = [result.outputs for measured in runs.values() for _, result in measured]
    assert all(o == outputs[0] for o in outputs)
    ideal = n * args.ms / 1000 / w
    print(
        f"{n} assets x {args.ms:.0f} ms of pure Python ({iterations:,} loop steps), "
        f"{w} jobs / workers, {args.repeat} runs each; ideal parallel time {ideal:.2f} s\n"
    )
    print("| executor | wall time: median (range) | vs ideal | per-task overhead | asset time |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, measured in runs.items():
        walls = [s for s, _ in measured]
        median = statistics.median(walls)
        spread = f" ({min(walls):.2f}–{max(walls):.2f})" if len(walls) > 1 else ""
        overhead = (median - ideal) / n * 1000
        asset_ms = statistics.mean(
            sum(result.seconds.values()) / n * 1000 for _, result in measured
        )
        print(
            f"| {label} | {median:.2f} s{spread} | {median / ideal:.2f}x | {overhead:+.1f} ms "
            f"| {asset_ms:.0f} ms |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
