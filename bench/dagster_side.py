"""The Dagster side of the benchmark, run as its own process by bench/compare.py.

    python bench/dagster_side.py validate DIR   # import + Definitions(...) + validate_loadable
    python bench/dagster_side.py run DIR        # import + dagster.materialize(ASSETS, ...)

DIR holds ``dg_defs.py`` written by bench/workload.py. Exit code 0 on success,
1 if the run did not succeed. Dagster is imported here only, never by envres.
"""

from __future__ import annotations

import sys


def main() -> int:
    command, folder = sys.argv[1], sys.argv[2]
    sys.path.insert(0, folder)
    import dg_defs  # type: ignore[import-not-found]
    from dagster import Definitions, materialize

    if command == "validate":
        defs = Definitions(assets=dg_defs.ASSETS, resources=dg_defs.RESOURCES)
        Definitions.validate_loadable(defs)
        print(f"dagster: {len(dg_defs.RESOURCES)} resources, {len(dg_defs.ASSETS)} assets loadable")
        return 0
    if command == "run":
        result = materialize(dg_defs.ASSETS, resources=dg_defs.RESOURCES)
        print(f"dagster: materialize success={result.success}")
        return 0 if result.success else 1
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
