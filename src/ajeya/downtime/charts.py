"""A kit's reconciliation as SVG drawn on the server (nothing fetched): one bar per kind
of number, split into entered, voided and still unaccounted for."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, ROW, LABEL, RIGHT = 640, 26, 150, 10
PARTS = (("entered", "#0b5d4b"), ("voided", "#6b7280"), ("unused", "#b45309"))


def reconciliation_svg(tallies) -> SafeString:
    if not tallies:
        return mark_safe("")
    scale = (WIDTH - LABEL - RIGHT) / max(len(t.numbers) for t in tallies)
    parts = [
        f'<text x="{LABEL + 90 * n}" y="14" class="chart-axis" fill="{colour}">■ {name}</text>'
        for n, (name, colour) in enumerate(PARTS)
    ]
    y = 24
    for t in tallies:
        counts = (len(t.used), len(t.voided), len(t.unused))
        parts.append(f'<text x="4" y="{y + 17}" class="chart-label">{escape(t.label)}s</text>')
        x = LABEL
        for (name, colour), count in zip(PARTS, counts, strict=True):
            width = count * scale
            if count:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW - 8}" '
                    f'fill="{colour}"><title>{count} {name}</title></rect>'
                )
            x += width
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 17}" class="chart-axis">'
            f"{counts[0]} / {counts[1]} / {counts[2]}</text>"
        )
        y += ROW
    return mark_safe(  # noqa: S308 - every text part is escaped or a number
        f'<svg class="chart" viewBox="0 0 {WIDTH} {y + 6}" role="img" '
        f'aria-label="Numbers entered, voided and unused">{"".join(parts)}</svg>'
    )
