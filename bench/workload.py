"""The synthetic workload, written twice: as an envres project and as Dagster code.

Both sides get the same thing:

- 5 resource classes with 3 or 4 typed fields each (str, int, float, bool, and a
  secret: ``SecretStr`` in envres, a ``str`` read from ``EnvVar`` in Dagster,
  which has no secret type and masks values by sourcing them from the environment);
- ``n`` resource instances ``r0 .. r{n-1}``, cycling through the 5 classes, with
  per-instance literal values and several values taken from environment variables:
  ``${BENCH_HOST:-localhost}``, ``${BENCH_PORT}``, ``${BENCH_PASSWORD}``,
  ``${BENCH_TOKEN}`` (all set, see :data:`ENV`) and ``${BENCH_LEVEL:-20}``,
  ``${BENCH_QUEUE_URL:-amqp://localhost}`` (unset, the default applies). In Dagster
  the set ones are ``EnvVar(...)`` / ``EnvVar.int(...)``; the defaulted ones are
  ``os.environ.get(name, default)`` at import, as a Dagster user would write them;
- ``n`` trivial assets ``a0 .. a{n-1}``; asset ``a{i}`` takes resource ``r{i}``
  (annotated with its class) and returns one of its int fields.

envres project (``envres validate`` / ``envres run`` with ``--project DIR``)::

    DIR/pyproject.toml          [tool.envres] definitions = "bench_defs:defs"
    DIR/bench_defs.py           the 5 Resource classes, the assets, Definitions
    DIR/profiles/bench.yaml     the n resources

The floor (``bench/floor.py DIR``, the least honest work a validation needs) reads
the envres project's own profile and imports, from the same folder::

    DIR/floor_defs.py           the same 5 classes as plain pydantic models (the same
                                model config as envres.Resource), TYPES, and the n
                                asset functions, undecorated

Dagster module (driven by ``bench/dagster_side.py validate|run DIR``)::

    DIR/dg_defs.py              the 5 ConfigurableResource classes, RESOURCES, ASSETS
"""

from __future__ import annotations

import compileall
from dataclasses import dataclass
from pathlib import Path

#: The environment both sides run with (anything else named BENCH_* is removed).
ENV = {
    "BENCH_HOST": "db.internal",
    "BENCH_PORT": "5432",
    "BENCH_PASSWORD": "hunter2-not-a-real-secret",
    "BENCH_TOKEN": "tok-0123456789",
}
UNSET = ("BENCH_LEVEL", "BENCH_QUEUE_URL")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "str", "int", "float", "bool", "secret"
    # How the value is written: "lit" (a per-instance literal) or an env var spec.
    var: str | None = None  # env var name, when the value comes from the environment
    default: str | None = None  # ${VAR:-default}: the default, when the var is unset
    lit: str = ""  # a format string for literals; {i} is the instance number


CLASSES: dict[str, tuple[Field, ...]] = {
    "Warehouse": (
        Field("host", "str", var="BENCH_HOST", default="localhost"),
        Field("port", "int", var="BENCH_PORT"),
        Field("database", "str", lit="db_{i}"),
        Field("password", "secret", var="BENCH_PASSWORD"),
    ),
    "ApiClient": (
        Field("base_url", "str", lit="https://api{i}.example.com/v1"),
        Field("token", "secret", var="BENCH_TOKEN"),
        Field("timeout", "float", lit="{f}"),
        Field("retries", "int", lit="{m}"),
    ),
    "Notifier": (
        Field("channel", "str", lit="#alerts-{i}"),
        Field("enabled", "bool", lit="{b}"),
        Field("level", "int", var="BENCH_LEVEL", default="20"),
    ),
    "Cache": (
        Field("path", "str", lit="/var/cache/bench/{i}"),
        Field("ttl", "float", lit="{f}"),
        Field("max_items", "int", lit="{m}"),
        Field("compress", "bool", lit="{b}"),
    ),
    "Queue": (
        Field("name", "str", lit="queue-{i}"),
        Field("url", "str", var="BENCH_QUEUE_URL", default="amqp://localhost"),
        Field("batch", "int", lit="{m}"),
    ),
}
NAMES = tuple(CLASSES)
#: The int field each class's assets return.
INT_FIELD = {"Warehouse": "port", "ApiClient": "retries", "Notifier": "level",
             "Cache": "max_items", "Queue": "batch"}  # fmt: skip


def cls_of(i: int) -> str:
    return NAMES[i % len(NAMES)]


def _values(i: int) -> dict[str, object]:
    """The literal values of instance ``i``, as Python objects."""
    return {"i": i, "f": round(1.5 + (i % 13) * 0.25, 2), "m": 1 + i % 97, "b": i % 2 == 0}


def _literal(field: Field, i: int) -> object:
    text = field.lit.format(**_values(i))
    if field.kind == "int":
        return int(text)
    if field.kind == "float":
        return float(text)
    if field.kind == "bool":
        return text == "True"
    return text


def _yaml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- envres ------------------------------------------------------------------------------

_ENVRES_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool",
                 "secret": "SecretStr"}  # fmt: skip


def envres_defs_source(n: int) -> str:
    lines = [
        '"""Generated by bench/workload.py: the envres side of the benchmark."""',
        "",
        "import envres",
        "from pydantic import SecretStr",
        "",
    ]
    for cname, fields in CLASSES.items():
        lines.append(f"\nclass {cname}(envres.Resource):")
        lines.extend(f"    {f.name}: {_ENVRES_TYPES[f.kind]}" for f in fields)
        lines.append("")
    for i in range(n):
        c = cls_of(i)
        lines += [
            "",
            "@envres.asset",
            f"def a{i}(r{i}: {c}) -> int:",
            f"    return r{i}.{INT_FIELD[c]}",
        ]
    lines += [
        "",
        "",
        "defs = envres.Definitions(",
        f"    assets=[{', '.join(f'a{i}' for i in range(n))}],",
        "    resource_types={" + ", ".join(f'"{c.lower()}": {c}' for c in NAMES) + "},",
        ")",
        "",
    ]
    return "\n".join(lines)


def envres_profile_source(n: int) -> str:
    lines = [f"# Generated by bench/workload.py: {n} resources", "resources:"]
    for i in range(n):
        c = cls_of(i)
        lines += [f"  r{i}:", f"    type: {c.lower()}", "    config:"]
        for f in CLASSES[c]:
            if f.var is None:
                value = _yaml_scalar(_literal(f, i))
            elif f.default is None:
                value = "${" + f.var + "}"
            else:
                value = "${" + f.var + ":-" + f.default + "}"
            lines.append(f"      {f.name}: {value}")
    return "\n".join(lines) + "\n"


def floor_defs_source(n: int) -> str:
    """The floor's module: the same models as plain pydantic, the same asset functions."""
    lines = [
        '"""Generated by bench/workload.py: the floor of the benchmark (bench/floor.py)."""',
        "",
        "from pydantic import BaseModel, ConfigDict, SecretStr",
        "",
        "# envres.Resource's model config",
        'CONFIG = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)',
        "",
    ]
    for cname, fields in CLASSES.items():
        lines.append(f"\nclass {cname}(BaseModel):")
        lines.append("    model_config = CONFIG")
        lines.extend(f"    {f.name}: {_ENVRES_TYPES[f.kind]}" for f in fields)
        lines.append("")
    lines.append("\nTYPES = {" + ", ".join(f'"{c.lower()}": {c}' for c in NAMES) + "}\n")
    for i in range(n):
        c = cls_of(i)
        lines += ["", f"def a{i}(r{i}: {c}) -> int:", f"    return r{i}.{INT_FIELD[c]}"]
    lines += ["", "", f"ASSETS = [{', '.join(f'a{i}' for i in range(n))}]", ""]
    return "\n".join(lines)


def write_envres(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "profiles").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[tool.envres]\ndefinitions = "bench_defs:defs"\nprofiles_dir = "profiles"\n'
        'default_profile = "bench"\n'
    )
    (root / "bench_defs.py").write_text(envres_defs_source(n))
    (root / "floor_defs.py").write_text(floor_defs_source(n))
    (root / "profiles" / "bench.yaml").write_text(envres_profile_source(n))
    return root


# -- Dagster -----------------------------------------------------------------------------

_DAGSTER_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool", "secret": "str"}


def dagster_defs_source(n: int) -> str:
    lines = [
        '"""Generated by bench/workload.py: the Dagster side of the benchmark."""',
        "",
        "import os",
        "",
        "from dagster import ConfigurableResource, EnvVar, asset",
        "",
        '_LEVEL = int(os.environ.get("BENCH_LEVEL", "20"))',
        '_QUEUE_URL = os.environ.get("BENCH_QUEUE_URL", "amqp://localhost")',
        "",
    ]
    defaulted = {"BENCH_LEVEL": "_LEVEL", "BENCH_QUEUE_URL": "_QUEUE_URL"}
    for cname, fields in CLASSES.items():
        lines.append(f"\nclass {cname}(ConfigurableResource):")
        lines.extend(f"    {f.name}: {_DAGSTER_TYPES[f.kind]}" for f in fields)
        lines.append("")
    lines += ["", "RESOURCES = {"]
    for i in range(n):
        c = cls_of(i)
        args = []
        for f in CLASSES[c]:
            if f.var is None:
                value = repr(_literal(f, i))
            elif f.var in defaulted:
                value = defaulted[f.var]
            elif f.kind == "int":
                value = f'EnvVar.int("{f.var}")'
            else:
                value = f'EnvVar("{f.var}")'
            args.append(f"{f.name}={value}")
        lines.append(f'    "r{i}": {c}({", ".join(args)}),')
    lines += ["}", ""]
    for i in range(n):
        c = cls_of(i)
        lines += ["", "@asset", f"def a{i}(r{i}: {c}) -> int:", f"    return r{i}.{INT_FIELD[c]}"]
    lines += ["", "", f"ASSETS = [{', '.join(f'a{i}' for i in range(n))}]", ""]
    return "\n".join(lines)


def write_dagster(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dg_defs.py").write_text(dagster_defs_source(n))
    home = root / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return root


def write_all(root: Path, n: int, dagster: bool = True) -> tuple[Path, Path | None]:
    """Write both sides for ``n`` resources/assets under ``root``; byte-compile them.

    Compiling here means no timed run pays for compiling a 10,000-function module.
    """
    e = write_envres(root / f"envres_{n}", n)
    d = write_dagster(root / f"dagster_{n}", n) if dagster else None
    for folder in (e, d):
        if folder is not None:
            compileall.compile_dir(folder, quiet=1, maxlevels=0)
    return e, d
