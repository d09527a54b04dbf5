"""The shop pipeline: load the CSVs, clean, aggregate, report.

::

    raw_orders ──┐
                 ├─> orders ─┬─> daily_revenue ─┐
    raw_customers┘           └─> top_products ──┴─> report

Each asset asks for resources by parameter name (``warehouse``, ``notifier``,
``report_dir``) and for upstream values by the upstream asset's name. Which
warehouse and notifier they get is the profile's business: the SQL below is
written once and runs on DuckDB and on PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import envres
from shop.report import CountrySales, MonthSales, ProductSales, ReportData, render_html
from shop.resources import (
    Column,
    ConsoleNotifier,
    DuckDBWarehouse,
    Notifier,
    PostgresWarehouse,
    Warehouse,
    WebhookNotifier,
    report_dir,
    write_atomically,
)

#: The input data ships beside the code, like package data; what runs write, profiles place.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TOP_N = 5
REPORT_FILE = "shop_report.html"

ORDER_COLUMNS: tuple[Column, ...] = (
    ("order_id", "INTEGER"),
    ("customer_id", "INTEGER"),
    ("ordered_at", "DATE"),
    ("product", "TEXT"),
    ("quantity", "INTEGER"),
    ("unit_price", "NUMERIC(10, 2)"),
    ("country", "TEXT"),
)
CUSTOMER_COLUMNS: tuple[Column, ...] = (
    ("customer_id", "INTEGER"),
    ("name", "TEXT"),
    ("email", "TEXT"),
    ("country", "TEXT"),
    ("signed_up_on", "DATE"),
    ("is_test", "BOOLEAN"),
)


@envres.asset
def raw_orders(warehouse: Warehouse) -> int:
    """data/orders.csv loaded into table raw_orders; returns the row count."""
    return warehouse.load_csv("raw_orders", DATA_DIR / "orders.csv", ORDER_COLUMNS)


@envres.asset
def raw_customers(warehouse: Warehouse) -> int:
    """data/customers.csv loaded into table raw_customers; returns the row count."""
    return warehouse.load_csv("raw_customers", DATA_DIR / "customers.csv", CUSTOMER_COLUMNS)


@envres.asset
def orders(raw_orders: int, raw_customers: int, warehouse: Warehouse) -> int:
    """Real customers' orders with their amount (test accounts left out)."""
    return warehouse.replace_table(
        "orders",
        """
        SELECT o.order_id, o.customer_id, o.ordered_at, o.product, o.quantity,
               o.unit_price, CAST(o.quantity * o.unit_price AS NUMERIC(12, 2)) AS amount,
               o.country
        FROM raw_orders AS o
        JOIN raw_customers AS c ON c.customer_id = o.customer_id
        WHERE NOT c.is_test
        """,
    )


@envres.asset
def daily_revenue(orders: int, warehouse: Warehouse) -> int:
    """Orders and revenue per day and country; returns the number of rows."""
    return warehouse.replace_table(
        "daily_revenue",
        """
        SELECT ordered_at AS day, country,
               CAST(COUNT(*) AS BIGINT) AS orders,
               CAST(SUM(amount) AS NUMERIC(14, 2)) AS revenue
        FROM orders
        GROUP BY ordered_at, country
        """,
    )


@envres.asset
def top_products(orders: int, warehouse: Warehouse) -> list[ProductSales]:
    """Every product ranked by revenue (table top_products); returns the first TOP_N."""
    warehouse.replace_table(
        "top_products",
        """
        SELECT CAST(ROW_NUMBER() OVER (ORDER BY SUM(amount) DESC, product) AS INTEGER)
                   AS product_rank,
               product,
               CAST(SUM(quantity) AS BIGINT) AS units,
               CAST(SUM(amount) AS NUMERIC(14, 2)) AS revenue
        FROM orders
        GROUP BY product
        """,
    )
    rows = warehouse.query(
        "SELECT product_rank, product, units, revenue FROM top_products "
        "WHERE product_rank <= $1 ORDER BY product_rank",
        [TOP_N],
    )
    return [ProductSales(int(r), str(p), int(u), Decimal(v)) for r, p, u, v in rows]


@envres.asset
def report(
    daily_revenue: int,
    top_products: list[ProductSales],
    warehouse: Warehouse,
    notifier: Notifier,
    report_dir: Path,
) -> str:
    """The HTML report in the report folder; sends a one-line summary. Returns its path."""
    months = warehouse.query(
        """
        SELECT CAST(EXTRACT(YEAR FROM day) AS INTEGER), CAST(EXTRACT(MONTH FROM day) AS INTEGER),
               CAST(SUM(orders) AS BIGINT), CAST(SUM(revenue) AS NUMERIC(14, 2))
        FROM daily_revenue
        GROUP BY 1, 2
        ORDER BY 1, 2
        """
    )
    countries = warehouse.query(
        """
        SELECT country, CAST(SUM(orders) AS BIGINT), CAST(SUM(revenue) AS NUMERIC(14, 2))
        FROM daily_revenue
        GROUP BY country
        ORDER BY 3 DESC, country
        """
    )
    data = ReportData(
        backend=warehouse.dialect,
        months=[MonthSales(int(y), int(m), int(n), Decimal(r)) for y, m, n, r in months],
        countries=[CountrySales(str(c), int(n), Decimal(r)) for c, n, r in countries],
        products=top_products,
        generated=dt.datetime.now(dt.UTC),
    )
    path = report_dir / REPORT_FILE
    write_atomically(path, render_html(data))
    best = f", best seller {top_products[0].product}" if top_products else ""
    notifier.send(
        f"shop report ({data.backend}): {data.total_orders:,} orders, "
        f"revenue {data.total_revenue:,.2f} EUR{best}; {_shown(path)}"
    )
    return str(path)


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is inside it, as envres shows paths."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve()


defs = envres.Definitions(
    assets=[raw_orders, raw_customers, orders, daily_revenue, top_products, report],
    resource_types={
        "duckdb": DuckDBWarehouse,
        "postgres": PostgresWarehouse,
        "console": ConsoleNotifier,
        "webhook": WebhookNotifier,
        "folder": report_dir,
    },
)
