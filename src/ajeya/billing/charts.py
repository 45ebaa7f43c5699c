"""The collection report's bar charts, drawn on the server as SVG (no JavaScript library,
nothing fetched): money kept per payment mode and per department."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

from ajeya.billing.models import PaymentMode
from ajeya.core import money

WIDTH, ROW, LABEL, RIGHT = 640, 18, 190, 90
IN, OUT, SCHEME = "#0b5d4b", "#b42318", "#2563eb"


def bars_svg(items: list[tuple[str, Decimal, str]], *, title: str) -> SafeString:
    """One bar per (label, amount, colour); a negative amount (more paid back than
    taken) is drawn red. Nothing when every amount is zero."""
    shown = [(label, amount, colour) for label, amount, colour in items if amount]
    if not shown:
        return mark_safe("")
    top = max(abs(amount) for _, amount, _ in shown)
    scale = (WIDTH - LABEL - RIGHT) / float(top)
    parts = [f'<text x="4" y="14" class="chart-label">{escape(title)}</text>']
    y = 22
    for label, amount, colour in shown:
        width = max(float(abs(amount)) * scale, 1.0)
        fill = OUT if amount < 0 else colour
        shown_amount = escape(money.inr(amount))
        parts.append(
            f'<text x="4" y="{y + 12}" class="chart-axis">{escape(label[:36])}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}" '
            f'fill="{fill}"><title>{escape(label)}: {shown_amount}</title></rect>'
            f'<text x="{LABEL + width + 6:.1f}" y="{y + 12}" class="chart-axis">'
            f"{shown_amount}</text>"
        )
        y += ROW
    return mark_safe(  # noqa: S308 - every text part is escaped above
        f'<svg class="chart" viewBox="0 0 {WIDTH} {y + 8}" role="img" '
        f'aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )


def by_mode_svg(rows) -> SafeString:
    """Net money per mode (collected less refunded); schemes' settlements in blue."""
    items = [
        (
            r.label,
            r.settlements if r.key == PaymentMode.SCHEME else r.net,
            SCHEME if r.key == PaymentMode.SCHEME else IN,
        )
        for r in rows
    ]
    return bars_svg(items, title="Net collected by mode (scheme: settled by schemes)")


def by_department_svg(rows) -> SafeString:
    return bars_svg([(r.label, r.net, IN) for r in rows], title="Net collected by department")
