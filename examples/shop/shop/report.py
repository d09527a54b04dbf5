"""The HTML report: figures, two tables and a bar chart drawn by hand in inline SVG.

Pure functions of the numbers, so the layout can be tested without a warehouse.
Every figure a test may want to read carries a ``data-*`` attribute holding the
plain value (``data-value="12345.67"``) next to the formatted text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from html import escape

__all__ = ["CountrySales", "MonthSales", "ProductSales", "ReportData", "render_html"]

CURRENCY = "EUR"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class MonthSales:
    year: int
    month: int
    orders: int
    revenue: Decimal

    @property
    def label(self) -> str:
        return f"{_MONTHS[self.month - 1]} {self.year}"


@dataclass(frozen=True)
class CountrySales:
    country: str
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class ProductSales:
    rank: int
    product: str
    units: int
    revenue: Decimal


@dataclass(frozen=True)
class ReportData:
    backend: str
    months: list[MonthSales]
    countries: list[CountrySales]
    products: list[ProductSales]
    generated: dt.datetime

    @property
    def total_orders(self) -> int:
        return sum(c.orders for c in self.countries)

    @property
    def total_revenue(self) -> Decimal:
        return sum((c.revenue for c in self.countries), Decimal(0))


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _bar_chart(months: list[MonthSales], width: int = 720, height: int = 260) -> str:
    """Revenue by month as vertical bars, with a value above each bar."""
    if not months:
        return "<p>No orders.</p>"
    top, bottom, left = 24, 36, 8
    plot_h = height - top - bottom
    peak = max(m.revenue for m in months) or Decimal(1)
    slot = (width - 2 * left) / len(months)
    bar_w = slot * 0.7
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Revenue by month">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" '
        'stroke="#888"/>',
    ]
    for i, m in enumerate(months):
        h = float(m.revenue / peak) * plot_h
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        cx = x + bar_w / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#3b7dd8">'
            f"<title>{escape(m.label)}: {money(m.revenue)} {CURRENCY}</title></rect>"
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{y - 6:.1f}" font-size="10" text-anchor="middle">'
            f"{m.revenue / 1000:.1f}k</text>"
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">'
            f"{escape(_MONTHS[m.month - 1])}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(data: ReportData) -> str:
    country_rows = "\n".join(
        f'<tr data-country="{escape(c.country)}" data-orders="{c.orders}" '
        f'data-revenue="{c.revenue}"><td>{escape(c.country)}</td>'
        f'<td class="num">{c.orders:,}</td><td class="num">{money(c.revenue)}</td></tr>'
        for c in data.countries
    )
    product_rows = "\n".join(
        f'<tr data-rank="{p.rank}" data-product="{escape(p.product)}" '
        f'data-revenue="{p.revenue}"><td class="num">{p.rank}</td>'
        f'<td>{escape(p.product)}</td><td class="num">{p.units:,}</td>'
        f'<td class="num">{money(p.revenue)}</td></tr>'
        for p in data.products
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0 2rem; }}
th, td {{ padding: .25rem .75rem; border-bottom: 1px solid #ddd; text-align: left; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.figures span {{ display: inline-block; margin-right: 2rem; font-size: 1.4rem; }}
</style>
</head>
<body>
<h1>Shop report</h1>
<p>Warehouse: {escape(data.backend)}. Generated {data.generated:%Y-%m-%d %H:%M} UTC.
Test accounts are excluded.</p>
<p class="figures">
<span>Orders: <strong id="total-orders" data-value="{data.total_orders}">
{data.total_orders:,}</strong></span>
<span>Revenue: <strong id="total-revenue" data-value="{data.total_revenue}">
{money(data.total_revenue)}</strong> {CURRENCY}</span>
</p>
<h2>Revenue by month</h2>
{_bar_chart(data.months)}
<h2>By country</h2>
<table id="countries">
<tr><th>Country</th><th class="num">Orders</th><th class="num">Revenue ({CURRENCY})</th></tr>
{country_rows}
</table>
<h2>Top products</h2>
<table id="products">
<tr><th class="num">#</th><th>Product</th><th class="num">Units</th>
<th class="num">Revenue ({CURRENCY})</th></tr>
{product_rows}
</table>
</body>
</html>
"""
