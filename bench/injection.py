"""Injection overhead per asset call: envres's argument plan vs a direct keyword call.

    python bench/injection.py [--quick]

The baseline is what a hand-written runner does: look the resource up in a dict
and call the function with keyword arguments. envres's call builds the keyword
arguments from the asset's precomputed plan (upstream values by name, resources
from the live scope). The target (issue #14) is at most 1.5x the baseline, for
each asset shape.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import timeit
from pathlib import Path

import envres
from envres._executors._local import plan_call


class Thing(envres.Resource):
    n: int = 1


@envres.asset
def upstream() -> int:
    return 1


@envres.asset
def one_resource(thing: Thing) -> int:
    return thing.n


@envres.asset
def two_inputs(upstream: int, thing: Thing) -> int:
    return upstream + thing.n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats (CI smoke run)")
    args = parser.parse_args()
    number = 20_000 if args.quick else 200_000
    repeat = 3 if args.quick else 7

    defs = envres.Definitions(
        assets=[upstream, one_resource, two_inputs], resource_types={"thing": Thing}
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "profiles").mkdir()
        (root / "profiles" / "dev.yaml").write_text("resources:\n  thing:\n    type: thing\n")
        bound = defs.with_profile("dev", project=str(root), env={})
        scope = bound.scope()
        try:
            resources = {"thing": scope.get("thing")}
            outputs = {"upstream": 1}
            rows = []
            for asset in (one_resource, two_inputs):
                call = plan_call(asset, defs, scope, set(scope.keys))
                fn = asset.fn
                if asset is one_resource:

                    def direct(fn=fn):  # type: ignore[no-untyped-def]
                        return fn(**{"thing": resources["thing"]})
                else:

                    def direct(fn=fn):  # type: ignore[no-untyped-def]
                        return fn(**{"upstream": outputs["upstream"], "thing": resources["thing"]})

                def injected(call=call):  # type: ignore[no-untyped-def]
                    return call(outputs)

                assert direct() == injected()
                # Alternated, so drift on the machine hits both; the fastest of each
                # (timeit's advice: slower repeats measure interference, not the code).
                base, inj = [], []
                for _ in range(repeat):
                    base.append(timeit.timeit(direct, number=number) / number)
                    inj.append(timeit.timeit(injected, number=number) / number)
                rows.append((asset.name, min(base), min(inj)))
        finally:
            scope.close()

    print(f"{'asset':<16}{'direct (ns)':>14}{'envres (ns)':>14}{'ratio':>8}   target <= 1.5")
    for name, base, inj in rows:
        print(f"{name:<16}{base * 1e9:>14.0f}{inj * 1e9:>14.0f}{inj / base:>8.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
