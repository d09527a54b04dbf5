"""The floor of ``envres run`` on examples/shop: the pipeline's own work, by hand.

    python bench/shop_floor.py       # from the repository root, with `shop` installed

What running the shop's ``dev`` profile costs without envres's command line: import
the user's definitions module (``shop.definitions``, which imports envres and
pydantic as any envres project does), build the same three resources the ``dev``
profile describes with the same values (the DuckDB file ``${SHOP_DUCKDB:-data/dev.duckdb}``,
the console notifier with prefix ``[shop]``, the report folder
``${SHOP_OUT:-out}/dev``), set each one up through its own ``lifespan``, call the six
asset functions in dependency order with their upstream values and resources as
keyword arguments, and tear the resources down in reverse order.

No profile is read, no value interpolated or validated, no secret tracked, no
progress shown, nothing scheduled: that is what ``envres run`` adds, and the
startup scenario measures its cost as ``envres run`` minus this script. The
validation the resources' pydantic models do on construction is paid here too
(``DuckDBWarehouse(path=...)``), as the user's own code would.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import shop.definitions as d
from shop.resources import ConsoleNotifier, DuckDBWarehouse, report_dir


def main() -> None:
    warehouse = DuckDBWarehouse(path=os.environ.get("SHOP_DUCKDB") or "data/dev.duckdb")
    notifier = ConsoleNotifier(prefix="[shop]")
    with contextlib.ExitStack() as stack:
        # Set up in the profile's order, torn down in reverse (ExitStack), as a run does.
        stack.enter_context(contextlib.contextmanager(warehouse.lifespan)())
        stack.enter_context(contextlib.contextmanager(notifier.lifespan)())
        folder: Path = stack.enter_context(
            contextlib.contextmanager(_folder)(f"{os.environ.get('SHOP_OUT') or 'out'}/dev")
        )
        raw_orders = d.raw_orders.fn(warehouse=warehouse)
        raw_customers = d.raw_customers.fn(warehouse=warehouse)
        orders = d.orders.fn(
            raw_orders=raw_orders, raw_customers=raw_customers, warehouse=warehouse
        )
        daily_revenue = d.daily_revenue.fn(orders=orders, warehouse=warehouse)
        top_products = d.top_products.fn(orders=orders, warehouse=warehouse)
        d.report.fn(
            daily_revenue=daily_revenue,
            top_products=top_products,
            warehouse=warehouse,
            notifier=notifier,
            report_dir=folder,
        )


def _folder(path: str) -> Iterator[Path]:
    """The ``report_dir`` resource function's own generator, called directly."""
    return report_dir.fn(path=path)


if __name__ == "__main__":
    main()
