"""Unresolved alerts by severity as SVG drawn on the server (nothing fetched)."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

from ajeya.defense.models import Severity

WIDTH, ROW, LABEL = 640, 24, 110
COLOURS = {"critical": "#b42318", "warning": "#b45309", "info": "#1d4ed8"}


def severity_svg(counts: dict[str, int]) -> SafeString:
    top = max(counts.values(), default=0) or 1
    scale = (WIDTH - LABEL - 60) / top
    parts = ['<text x="4" y="14" class="chart-label">Unresolved alerts by severity</text>']
    y = 22
    for key, label in reversed(Severity.choices):
        n = counts.get(key, 0)
        parts.append(
            f'<text x="4" y="{y + 16}" class="chart-axis">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y + 4}" width="{max(n * scale, 1):.1f}" height="{ROW - 8}" '
            f'fill="{COLOURS[key]}"><title>{n} {escape(label.lower())}</title></rect>'
            f'<text x="{LABEL + n * scale + 6:.1f}" y="{y + 16}" class="chart-axis">{n}</text>'
        )
        y += ROW
    return mark_safe(  # noqa: S308 - every text part is escaped or a number
        f'<svg class="chart" viewBox="0 0 {WIDTH} {y + 6}" role="img" '
        f'aria-label="Unresolved alerts by severity">{"".join(parts)}</svg>'
    )
