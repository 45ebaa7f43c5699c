"""A report's chart, drawn on the server as SVG (no JavaScript library, nothing fetched):
one vertical bar per day of the main table's daily totals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape

from django.utils.safestring import SafeString, mark_safe

from ajeya.core.tables import Table

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 200, 24, 34, 8
BAR = "#0b5d4b"


def daily_totals(table: Table, column: int) -> list[tuple[dt.date, int]]:
    """The sum of `column` for each day (the first cell of a row), in date order."""
    sums: dict[dt.date, int] = {}
    for row in table.rows:
        day, value = row[0], row[column]
        if isinstance(day, dt.date) and isinstance(value, int):
            sums[day] = sums.get(day, 0) + value
    return sorted(sums.items())


def day_bars_svg(days: list[tuple[dt.date, int]], *, title: str) -> SafeString:
    """One bar per day with its number above it; nothing when there is no day."""
    if not days:
        return mark_safe("")
    top = max(value for _, value in days) or 1
    slot = (WIDTH - 2 * LEFT) / len(days)
    bar = max(min(slot * 0.7, 60), 2)
    usable = HEIGHT - TOP - BOTTOM
    parts = [f'<text x="4" y="14" class="chart-label">{escape(title)}</text>']
    every = max(1, round(len(days) / 16))  # at most ~16 day labels under the bars
    for n, (day, value) in enumerate(days):
        height = usable * value / top
        x = LEFT + n * slot + (slot - bar) / 2
        y = TOP + usable - height
        label = f"{day:%d-%m-%Y}: {value}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(height, 0.5):.1f}" '
            f'fill="{BAR}"><title>{escape(label)}</title></rect>'
        )
        if len(days) <= 31:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f'class="chart-axis">{value}</text>'
            )
        if n % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                f'class="chart-axis">{day:%d-%m}</text>'
            )
    return mark_safe(  # noqa: S308 - every text part is escaped or a number
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )


def daily_chart(column: int, title: str) -> Callable[[list[Table]], SafeString]:
    """A report's `chart=`: the main table's column `column` summed per day, as bars."""

    def chart(tables: list[Table]) -> SafeString:
        return day_bars_svg(daily_totals(tables[0], column) if tables else [], title=title)

    return chart
