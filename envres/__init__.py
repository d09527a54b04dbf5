"""envres: per-environment YAML profiles for the resources of data pipelines.

::

    import envres

    class Warehouse(envres.Resource): ...

    @envres.asset
    def orders(warehouse: Warehouse) -> int: ...

    defs = envres.Definitions(assets=[orders], resource_types={"duckdb": DuckDBWarehouse})
    defs.with_profile("dev").run()

Everything public is re-exported here; the modules behind it are private.

The errors, ``asset`` and ``Definitions`` are imported with the package; every
other name is imported on first use: ``Resource``, ``ResourceFunction`` and
``resource`` (with pydantic), and the loader and the runner (``load``,
``BoundDefinitions``, ``ResourceScope``, ``RunResult``, ``Event``). A module that
declares resources and assets pays for pydantic and nothing more, and the
``envres`` command gets to pause the garbage collector before pydantic loads.
"""

from typing import TYPE_CHECKING, Any

from envres._assets import AssetDef, asset
from envres._definitions import Definitions
from envres._errors import (
    AssetError,
    DefinitionError,
    EnvresError,
    InterpolationError,
    Loc,
    MissingVariableError,
    Problem,
    ProfileError,
    ProfileNotFoundError,
    RunError,
    SetupError,
    TeardownError,
    TemplateError,
    UsageError,
    YamlError,
)

if TYPE_CHECKING:
    from envres._bound import BoundDefinitions
    from envres._events import Event
    from envres._project import load, selected_profile
    from envres._resources import Resource, ResourceFunction, resource
    from envres._run import RunResult
    from envres._scope import ResourceScope

#: The one place the version is written: pyproject.toml reads it (setuptools' dynamic
#: version), `envres --version` prints it. CHANGELOG.md says what each one changed.
__version__ = "0.1.0"

# Errors show as envres.ProfileError in tracebacks and logs (Dagster's among them),
# not as the private module that defines them.
for _error in (
    AssetError,
    DefinitionError,
    EnvresError,
    InterpolationError,
    MissingVariableError,
    ProfileError,
    ProfileNotFoundError,
    RunError,
    SetupError,
    TeardownError,
    TemplateError,
    UsageError,
    YamlError,
):
    _error.__module__ = "envres"
del _error

__all__ = [
    "AssetDef",
    "AssetError",
    "BoundDefinitions",
    "DefinitionError",
    "Definitions",
    "EnvresError",
    "Event",
    "InterpolationError",
    "Loc",
    "MissingVariableError",
    "Problem",
    "ProfileError",
    "ProfileNotFoundError",
    "Resource",
    "ResourceFunction",
    "ResourceScope",
    "RunError",
    "RunResult",
    "SetupError",
    "TeardownError",
    "TemplateError",
    "UsageError",
    "YamlError",
    "__version__",
    "asset",
    "load",
    "resource",
    "selected_profile",
]

# Public name -> the private module that defines it, imported on first use.
_LAZY = {
    "BoundDefinitions": "envres._bound",
    "Event": "envres._events",
    "Resource": "envres._resources",
    "ResourceFunction": "envres._resources",
    "resource": "envres._resources",
    "ResourceScope": "envres._scope",
    "RunResult": "envres._run",
    "load": "envres._project",
    "selected_profile": "envres._project",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'envres' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
