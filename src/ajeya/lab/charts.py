"""The turnaround chart, drawn on the server as SVG (no JavaScript library, nothing
fetched): per panel, grouped by section, a bar for the median minutes from receipt to
authorisation and a tick at the panel's target."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

from ajeya.lab.tat import TatRow

WIDTH, ROW, LABEL, RIGHT = 640, 18, 170, 50
ON_TIME, LATE, TARGET = "#0b5d4b", "#b42318", "#1f2937"


def tat_svg(rows: list[TatRow]) -> SafeString:
    """One line per panel with items in the period; a section's name above its panels."""
    panels = [r for r in rows if not r.is_section and r.count]
    if not panels:
        return mark_safe("")
    top = max(max(r.lab_median or 0, r.target or 0) for r in panels) or 1
    scale = (WIDTH - LABEL - RIGHT) / (top * 1.05)
    parts: list[str] = []
    y = 22
    section = None
    for row in panels:
        if row.section != section:
            section = row.section
            y += 4
            parts.append(
                f'<text x="4" y="{y + 10}" class="chart-label">{escape(row.section_label)}</text>'
            )
            y += ROW
        median = row.lab_median or 0
        width = median * scale
        colour = LATE if row.late else ON_TIME
        target_x = LABEL + row.target * scale
        title = (
            f"{row.panel} {row.panel_name}: median {median:.0f} min, "
            f"target {row.target} min, {row.count} authorised"
        )
        parts.append(
            f'<text x="12" y="{y + 12}" class="chart-axis">{escape(row.panel)} '
            f"{escape(row.panel_name[:22])}</text>"
            f'<rect x="{LABEL}" y="{y + 3}" width="{max(width, 1):.1f}" height="{ROW - 6}" '
            f'fill="{colour}"><title>{escape(title)}</title></rect>'
            f'<line x1="{target_x:.1f}" y1="{y}" x2="{target_x:.1f}" y2="{y + ROW}" '
            f'stroke="{TARGET}" stroke-width="2"><title>target {row.target} min</title></line>'
            f'<text x="{LABEL + max(width, target_x - LABEL) + 6:.1f}" y="{y + 12}" '
            f'class="chart-axis">{median:.0f}</text>'
        )
        y += ROW
    height = y + 8
    legend = (
        '<text x="4" y="14" class="chart-axis">Median minutes from receipt to authorisation '
        f"(red: over target) · black tick: the panel's target · scale 0 to {top:.0f}</text>"
    )
    return mark_safe(  # noqa: S308 - every text part is escaped above
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="turnaround: median against target per panel">{legend}{"".join(parts)}'
        "</svg>"
    )


WORK_COLOURS = (
    ("awaiting", "to collect", "#9ca3af"),
    ("to_receive", "to receive", "#6b7280"),
    ("to_enter", "to enter", "#2563eb"),
    ("to_verify", "to verify", "#d97706"),
    ("to_authorise", "to authorise", "#0b5d4b"),
)


def workload_svg(rows) -> SafeString:
    """The lab home's counts as one stacked bar per section: samples at each step."""
    totals = [sum(getattr(r, name) for name, _, _ in WORK_COLOURS) for r in rows]
    top = max(totals, default=0)
    if not top:
        return mark_safe("")
    scale = (WIDTH - LABEL - RIGHT) / top
    parts: list[str] = []
    y = 26
    for row, total in zip(rows, totals, strict=True):
        x = float(LABEL)
        parts.append(f'<text x="4" y="{y + 12}" class="chart-axis">{escape(row.label)}</text>')
        for name, label, colour in WORK_COLOURS:
            n = getattr(row, name)
            if n:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{n * scale:.1f}" height="{ROW - 6}" '
                    f'fill="{colour}"><title>{escape(row.label)}: {n} {label}</title></rect>'
                )
                x += n * scale
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 12}" class="chart-axis">{total}</text>')
        y += ROW
    legend, lx = [], 4
    for _, label, colour in WORK_COLOURS:
        legend.append(
            f'<rect x="{lx}" y="6" width="10" height="10" fill="{colour}"></rect>'
            f'<text x="{lx + 14}" y="15" class="chart-axis">{label}</text>'
        )
        lx += 22 + 7 * len(label)
    return mark_safe(  # noqa: S308 - the only text is escaped section labels and numbers
        f'<svg class="chart" viewBox="0 0 {WIDTH} {y + 8}" role="img" '
        'aria-label="Samples waiting at each step, by section">'
        + "".join(legend)
        + "".join(parts)
        + "</svg>"
    )
