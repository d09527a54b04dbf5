"""Generate the shop's sample data: customers.csv and orders.csv, beside this script.

Deterministic (``random.Random(42)``, stdlib only): running it again rewrites the
same bytes, so the committed CSVs can always be regenerated and checked::

    python examples/shop/data/generate.py

customers.csv: customer_id, name, email, country, signed_up_on, is_test
orders.csv:    order_id, customer_id, ordered_at, product, quantity, unit_price, country

A few customers are the shop's own test accounts (``is_test`` true, e-mail at
``shop.test``); their orders are in orders.csv like any other, and the pipeline
must leave them out of the revenue figures.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 42
N_CUSTOMERS = 300
N_ORDERS = 3000
YEAR = 2025

#: (country code, weight): where customers live; orders ship to the customer's country.
COUNTRIES: tuple[tuple[str, int], ...] = (
    ("DE", 30),
    ("FR", 18),
    ("NL", 12),
    ("ES", 10),
    ("IT", 10),
    ("PL", 8),
    ("SE", 6),
    ("AT", 6),
)

#: (product, list price, weight)
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("Espresso beans 1 kg", "24.90", 20),
    ("Filter coffee 500 g", "11.50", 18),
    ("Decaf beans 500 g", "13.20", 6),
    ("Green tea 100 g", "7.80", 10),
    ("Chai blend 250 g", "9.40", 7),
    ("Ceramic mug", "14.00", 9),
    ("Pour-over dripper", "29.00", 5),
    ("Paper filters x100", "4.60", 12),
    ("Burr grinder", "89.00", 3),
    ("Milk frother", "39.50", 4),
    ("Gooseneck kettle", "64.00", 2),
    ("Gift card", "50.00", 4),
)

# fmt: off
FIRST = (
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karla",
    "Lukas", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tilda", "Umut", "Vera", "Wim",
    "Xenia", "Yusuf", "Zoe",
)
LAST = (
    "Albers", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hansen", "Jansen",
    "Kowalski", "Lopez", "Moreau", "Novak", "Olsen", "Rossi", "Schmidt", "Tanaka", "Visser",
    "Weber", "Zielinski",
)
# fmt: on

CENT = Decimal("0.01")


def customers(rng: random.Random) -> list[dict[str, str]]:
    names, weights = zip(*COUNTRIES, strict=True)
    rows = []
    for cid in range(1, N_CUSTOMERS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        is_test = cid % 37 == 0  # a handful of internal test accounts
        domain = "shop.test" if is_test else rng.choice(("mail.example", "post.example"))
        signed_up = dt.date(YEAR - 2, 1, 1) + dt.timedelta(days=rng.randrange(730))
        rows.append(
            {
                "customer_id": str(cid),
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}{cid}@{domain}",
                "country": rng.choices(names, weights)[0],
                "signed_up_on": signed_up.isoformat(),
                "is_test": "true" if is_test else "false",
            }
        )
    return rows


def orders(rng: random.Random, people: list[dict[str, str]]) -> list[dict[str, str]]:
    start = dt.date(YEAR, 1, 1)
    days = (dt.date(YEAR + 1, 1, 1) - start).days
    # More orders towards the end of the year (the holiday season).
    day_weights = [1.0 + 1.5 * (d / days) ** 3 for d in range(days)]
    dates = sorted(
        start + dt.timedelta(days=d) for d in rng.choices(range(days), day_weights, k=N_ORDERS)
    )
    names = [p[0] for p in PRODUCTS]
    prices = {p[0]: Decimal(p[1]) for p in PRODUCTS}
    weights = [p[2] for p in PRODUCTS]
    rows = []
    for order_id, day in enumerate(dates, start=10001):
        customer = rng.choice(people)
        product = rng.choices(names, weights)[0]
        price = prices[product]
        if rng.random() < 0.15:  # a 10 % promotion on some orders
            price = (price * Decimal("0.9")).quantize(CENT, ROUND_HALF_UP)
        rows.append(
            {
                "order_id": str(order_id),
                "customer_id": customer["customer_id"],
                "ordered_at": day.isoformat(),
                "product": product,
                "quantity": str(rng.choices((1, 2, 3, 4, 6), (50, 25, 12, 8, 5))[0]),
                "unit_price": str(price.quantize(CENT)),
                "country": customer["country"],
            }
        )
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(SEED)
    people = customers(rng)
    write(HERE / "customers.csv", people)
    write(HERE / "orders.csv", orders(rng, people))
    print(f"wrote {len(people)} customers and {N_ORDERS} orders to {HERE}")


if __name__ == "__main__":
    main()
