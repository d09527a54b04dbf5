"""Dagster's own resource classes as envres resource types, recognised without importing Dagster.

A profile's ``type:`` may name a subclass of ``dagster.ConfigurableResource``,
``dagster.ConfigurableIOManager`` or ``dagster.ConfigurableIOManagerFactory``.
Such a class is a pydantic model, so envres validates, shows and compares its
fields like a :class:`~envres.Resource`'s; two things differ, both Dagster's:

- Dagster drops a field it does not know; envres rejects it (``unknown field``);
- Dagster runs its lifecycle (``setup_for_execution``, ``yield_for_execution``,
  ``teardown_after_execution``, nested resources), through
  :func:`envres.dagster.resources`; ``envres run`` and ``envres check`` refuse it.

A class that subclasses one of Dagster's was defined after ``dagster`` was
imported, so looking in ``sys.modules`` is enough: ``import envres`` never pays
for Dagster.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["CATALOG_ATTRIBUTE", "SCOPE_KEY", "is_dagster_class", "provided_by", "refusal"]

#: The internal resource key that owns the live envres resources of a Dagster process.
SCOPE_KEY = "envres_scope"

#: The attribute of ``SCOPE_KEY``'s resource function that holds the envres catalog
#: ``envres.dagster.resources`` was given, so that a ``dagster.Definitions`` named as
#: the project's definitions still knows the profiles' short type names.
CATALOG_ATTRIBUTE = "envres_catalog"


def is_dagster_class(obj: object) -> bool:
    """Whether ``obj`` is a Dagster ConfigurableResource or ConfigurableIOManager(Factory)."""
    dg: Any = sys.modules.get("dagster")
    if dg is None or not isinstance(obj, type):
        return False
    return issubclass(obj, (dg.ConfigurableResource, dg.ConfigurableIOManagerFactory))


def provided_by(cls: Any) -> type | None:
    """What an asset receives from ``cls``: the instance itself, unless ``create_resource``
    (or ``create_io_manager``) is overridden to hand out something else (unknown then)."""
    dg: Any = sys.modules["dagster"]
    if issubclass(cls, dg.ConfigurableIOManager):
        same = cls.create_io_manager is dg.ConfigurableIOManager.create_io_manager
        return cls if same else None
    if issubclass(cls, dg.ConfigurableResource):
        return cls if cls.create_resource is dg.ConfigurableResource.create_resource else None
    return None


def refusal(type_name: str, cls: type) -> str:
    """Why envres does not set ``cls`` up itself (``envres run``, ``check``, a scope)."""
    return (
        f"type '{type_name}' is a Dagster resource class ({cls.__qualname__}): Dagster runs "
        "its lifecycle, so use it through envres.dagster.resources() (dagster asset "
        "materialize, dagster dev), not envres run or check"
    )
