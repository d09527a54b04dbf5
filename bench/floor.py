"""The floor: the least honest work ``envres validate`` does, as one plain script.

    python bench/floor.py DIR     # DIR written by bench/workload.py (envres_N)

What any YAML + pydantic validator of the same profile has to do, and nothing
else: start Python with the garbage collector paused (as envres's command line
does), import yaml and pydantic, define the same 5 models and the N asset
functions (``DIR/floor_defs.py``), read ``DIR/profiles/bench.yaml`` with
``yaml.CSafeLoader``, substitute ``${VAR}`` / ``${VAR:-default}`` with one regular
expression from ``os.environ``, and ``model_validate`` every config. No file and
line for errors, no secrets bookkeeping, no dependency checks, no asset wiring:
those are what envres adds, and the benchmark measures what they cost against this.
"""

import gc

gc.disable()

import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import yaml  # noqa: E402

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def main() -> int:
    folder = sys.argv[1]
    sys.path.insert(0, folder)
    import floor_defs  # type: ignore[import-not-found]

    env = os.environ

    def substitute(match: re.Match[str]) -> str:
        value = env.get(match[1])
        if value is None:
            if match[2] is None:
                raise KeyError(match[1])
            return match[2]
        return value

    with open(os.path.join(folder, "profiles", "bench.yaml"), "rb") as f:
        data = yaml.load(f, Loader=yaml.CSafeLoader)
    types = floor_defs.TYPES
    valid = {}
    for key, spec in data["resources"].items():
        config = {
            name: VAR.sub(substitute, value) if isinstance(value, str) else value
            for name, value in spec["config"].items()
        }
        valid[key] = types[spec["type"]].model_validate(config)
    print(f"floor: {len(valid)} resources, {len(floor_defs.ASSETS)} assets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
