"""The shop's own tests, as a project of yours has them: pytest and envres's fixtures.

They run from any folder: ``pytest examples/shop/tests`` at the repository root,
or ``pytest /path/to/envres/examples/shop/tests`` from elsewhere. ``envres_bind``
finds the project (the repository root, whose ``pyproject.toml`` has
``[tool.envres]``) from the current folder, else from this file, and the profile
places its files from ``${ENVRES_PROJECT_DIR}``; these tests replace those
resources, so nothing is written into the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from shop.definitions import defs, top_products
from shop.report import ProductSales
from shop.resources import DuckDBWarehouse

RAW_ORDERS = 3000  # data/orders.csv
REAL_ORDERS = 2914  # without the shop's own test accounts


class Sent(list[str]):
    """A notifier that keeps what it is given."""

    def send(self, text: str) -> None:
        self.append(text)


def test_dev_runs_every_asset_on_a_warehouse_in_memory(
    envres_bind: Callable[..., Any], tmp_path: Path
) -> None:
    sent = Sent()
    bound = envres_bind(
        defs,
        "dev",
        env={},
        warehouse=DuckDBWarehouse(path=":memory:"),
        notifier=sent,
        report_dir=tmp_path,
    )

    result = bound.run()

    assert (result["raw_orders"], result["orders"]) == (RAW_ORDERS, REAL_ORDERS)
    assert result["report"] == str(tmp_path / "shop_report.html")
    assert "<h1>Shop report</h1>" in (tmp_path / "shop_report.html").read_text()
    assert len(sent) == 1
    assert sent[0].startswith(f"shop report (duckdb): {REAL_ORDERS:,} orders, revenue ")


def test_the_dev_profile_keeps_its_files_in_the_example_folder(
    envres_bind: Callable[..., Any],
) -> None:
    example = Path(__file__).resolve().parent.parent

    bound = envres_bind(defs, "dev", env={})

    config = {key: res.inputs for key, res in bound.profile.resources.items()}
    assert config["warehouse"]["path"] == str(example / "data" / "dev.duckdb")
    assert config["report_dir"]["path"] == str(example / "out" / "dev")


def test_top_products_reads_the_first_five_by_rank(envres_call: Callable[..., Any]) -> None:
    asked: list[tuple[str, list[object]]] = []

    class Warehouse:
        def replace_table(self, table: str, select_sql: str) -> int:
            return 12

        def query(self, sql: str, params: list[object]) -> list[tuple[object, ...]]:
            asked.append((sql, params))
            return [(1, "Tea", 7, "70.00"), (2, "Mug", 3, "36.00")]

    best = envres_call(top_products, orders=REAL_ORDERS, warehouse=Warehouse())

    assert best == [
        ProductSales(1, "Tea", 7, Decimal("70.00")),
        ProductSales(2, "Mug", 3, Decimal("36.00")),
    ]
    assert asked[0][1] == [5]
