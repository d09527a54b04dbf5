"""envres: per-environment YAML profiles for the resources of data pipelines.

::

    import envres

    class Warehouse(envres.Resource): ...

    @envres.asset
    def orders(warehouse: Warehouse) -> int: ...

    defs = envres.Definitions(assets=[orders], resource_types={"duckdb": DuckDBWarehouse})
    defs.with_profile("dev").run()

Everything public is re-exported here; the modules behind it are private.
"""

from envres._assets import AssetDef, asset
from envres._bound import BoundDefinitions
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
from envres._events import Event
from envres._project import load
from envres._resources import Resource, ResourceFunction, resource
from envres._run import RunResult
from envres._scope import ResourceScope

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
]
