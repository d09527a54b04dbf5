"""The shop's six assets as Dagster assets; envres profiles say what their resources are.

The asset bodies are the shop's own (``shop.definitions``): an ``@envres.asset`` is
still a plain function, so Dagster calls the same SQL on DuckDB or PostgreSQL.
Which warehouse, notifier, report folder and IO manager a run gets is the
profile's business: ``ENVRES_PROFILE=prod`` instead of a ``DAGSTER_DEPLOYMENT``
switch in Python. The profile is validated when Dagster loads this module.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

import envres.dagster
from dagster_shop.resources import types
from shop import definitions as shop
from shop.report import ProductSales
from shop.resources import Notifier, Warehouse


@dg.asset
def raw_orders(warehouse: dg.ResourceParam[Warehouse]) -> int:
    """data/orders.csv loaded into table raw_orders; the row count."""
    return shop.raw_orders(warehouse)


@dg.asset
def raw_customers(warehouse: dg.ResourceParam[Warehouse]) -> int:
    """data/customers.csv loaded into table raw_customers; the row count."""
    return shop.raw_customers(warehouse)


@dg.asset
def orders(raw_orders: int, raw_customers: int, warehouse: dg.ResourceParam[Warehouse]) -> int:
    """Real customers' orders with their amount (test accounts left out)."""
    return shop.orders(raw_orders, raw_customers, warehouse)


@dg.asset
def daily_revenue(orders: int, warehouse: dg.ResourceParam[Warehouse]) -> int:
    """Orders and revenue per day and country; the number of rows."""
    return shop.daily_revenue(orders, warehouse)


@dg.asset
def top_products(orders: int, warehouse: dg.ResourceParam[Warehouse]) -> list[ProductSales]:
    """Every product ranked by revenue; the first five."""
    result: list[ProductSales] = shop.top_products(orders, warehouse)
    return result


@dg.asset
def report(
    daily_revenue: int,
    top_products: list[ProductSales],
    warehouse: dg.ResourceParam[Warehouse],
    notifier: dg.ResourceParam[Notifier],
    report_dir: dg.ResourceParam[Path],
) -> str:
    """The HTML report; sends a one-line summary. Its path."""
    path: str = shop.report(daily_revenue, top_products, warehouse, notifier, report_dir)
    return path


defs = dg.Definitions(
    assets=[raw_orders, raw_customers, orders, daily_revenue, top_products, report],
    # warehouse, notifier, report_dir and io_manager, from profiles/<ENVRES_PROFILE>.yaml of
    # this module's project (examples/dagster_shop), whichever folder Dagster starts in
    resources=envres.dagster.resources(types),
    # Steps in their own processes, one at a time: a DuckDB file takes one writer.
    executor=dg.multiprocess_executor.configured({"max_concurrent": 1}),
)
