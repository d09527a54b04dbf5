"""envres profiles as the resources of a Dagster project (``pip install 'envres[dagster]'``).

::

    import dagster as dg
    import envres
    import envres.dagster

    types = envres.Definitions(resource_types={"duckdb": DuckDBWarehouse, ...})

    @dg.asset
    def orders(warehouse: dg.ResourceParam[Warehouse]) -> int: ...

    defs = dg.Definitions(assets=[orders], resources=envres.dagster.resources(types))

A profile's ``type:`` may also name Dagster's own classes (``ConfigurableResource``,
``ConfigurableIOManager``, ``ConfigurableIOManagerFactory``): Dagster then gets the
configured instance and runs its lifecycle itself.

See :func:`resources`. Importing this module imports Dagster; ``import envres``
alone never does.
"""

from envres._integrations._dagster import SCOPE_KEY, resources

__all__ = ["SCOPE_KEY", "resources"]
