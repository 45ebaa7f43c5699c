"""The dashboards' charts, drawn on the server as SVG (no JavaScript library, nothing
fetched): OPD arrivals per hour stacked by department, split bars (appointments and
walk-ins), bed occupancy bars and plain count bars. Every text is escaped."""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, ROW, LABEL, RIGHT = 640, 18, 190, 110
HEIGHT, TOP, BOTTOM, LEFT = 220, 36, 34, 8
GREEN, BLUE, GREY, RED = "#0b5d4b", "#2563eb", "#d1d5db", "#b42318"
PALETTE = ["#0b5d4b", "#2563eb", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#6b7280"]


def _svg(parts: list[str], height: float, title: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every text part is escaped by the callers
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )


def _title(title: str) -> str:
    return f'<text x="4" y="14" class="chart-label">{escape(title)}</text>'


def hour_stack_svg(
    hours: list[int], departments: list[str], counts: dict[tuple[str, int], int], *, title: str
) -> SafeString:
    """One bar per IST hour, stacked by department (a legend names the colours), the
    hour's total above it. Nothing when no one arrived."""
    if not hours:
        return mark_safe("")
    colour = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(departments)}
    totals = {h: sum(counts.get((d, h), 0) for d in departments) for h in hours}
    top = max(totals.values()) or 1
    legend_rows = (len(departments) + 2) // 3
    usable = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - 2 * LEFT) / len(hours)
    bar = max(min(slot * 0.7, 50), 2)
    parts = [_title(title)]
    for n, hour in enumerate(hours):
        x = LEFT + n * slot + (slot - bar) / 2
        y = TOP + usable
        for name in departments:
            value = counts.get((name, hour), 0)
            if not value:
                continue
            height = usable * value / top
            y -= height
            tip = f"{name} {hour:02d}:00-{hour + 1:02d}:00: {value}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour[name]}"><title>{escape(tip)}</title></rect>'
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
            f'class="chart-axis">{totals[hour]}</text>'
            f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
            f'class="chart-axis">{hour:02d}:00</text>'
        )
    for n, name in enumerate(departments):
        lx, ly = LEFT + (n % 3) * 210, HEIGHT + (n // 3) * 16
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour[name]}"></rect>'
            f'<text x="{lx + 14}" y="{ly + 9}" class="chart-axis">{escape(name[:32])}</text>'
        )
    return _svg(parts, HEIGHT + legend_rows * 16 + 4, title)


def split_bars_svg(
    rows: list[tuple[str, int, int]], *, legend: tuple[str, str], title: str
) -> SafeString:
    """One horizontal bar per label, split in two (green, then blue), both numbers after
    it. Nothing when every row is zero."""
    shown = [r for r in rows if r[1] or r[2]]
    if not shown:
        return mark_safe("")
    top = max(a + b for _, a, b in shown)
    scale = (WIDTH - LABEL - RIGHT) / top
    parts = [
        _title(title),
        f'<rect x="{LABEL}" y="20" width="10" height="10" fill="{GREEN}"></rect>'
        f'<text x="{LABEL + 14}" y="29" class="chart-axis">{escape(legend[0])}</text>'
        f'<rect x="{LABEL + 130}" y="20" width="10" height="10" fill="{BLUE}"></rect>'
        f'<text x="{LABEL + 144}" y="29" class="chart-axis">{escape(legend[1])}</text>',
    ]
    y = 36
    for label, a, b in shown:
        x = LABEL
        for value, fill, name in ((a, GREEN, legend[0]), (b, BLUE, legend[1])):
            if value:
                width = value * scale
                tip = f"{label}: {value} {name.lower()}"
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}" '
                    f'fill="{fill}"><title>{escape(tip)}</title></rect>'
                )
                x += width
        parts.append(
            f'<text x="4" y="{y + 12}" class="chart-axis">{escape(label[:36])}</text>'
            f'<text x="{x + 6:.1f}" y="{y + 12}" class="chart-axis">{a} + {b}</text>'
        )
        y += ROW
    return _svg(parts, y + 8, title)


def occupancy_svg(rows: list, *, title: str) -> SafeString:
    """One bar per ward or category (objects with label, beds, occupied, percent): the
    whole bar is its beds, the filled part the occupied ones; red at 90% or more."""
    shown = [r for r in rows if r.beds]
    if not shown:
        return mark_safe("")
    top = max(r.beds for r in shown)
    scale = (WIDTH - LABEL - RIGHT) / top
    parts = [_title(title)]
    y = 22
    for r in shown:
        full, used = r.beds * scale, r.occupied * scale
        fill = RED if r.percent is not None and r.percent >= 90 else GREEN
        text = f"{r.occupied}/{r.beds} ({r.percent}%)"
        parts.append(
            f'<text x="4" y="{y + 12}" class="chart-axis">{escape(r.label[:36])}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{full:.1f}" height="{ROW - 6}" '
            f'fill="{GREY}"></rect>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{used:.1f}" height="{ROW - 6}" '
            f'fill="{fill}"><title>{escape(r.label)}: {escape(text)} occupied</title></rect>'
            f'<text x="{LABEL + full + 6:.1f}" y="{y + 12}" class="chart-axis">'
            f"{escape(text)}</text>"
        )
        y += ROW
    return _svg(parts, y + 8, title)


def count_bars_svg(items: list[tuple[str, int]], *, title: str) -> SafeString:
    """One horizontal bar per (label, count), the count after it; nothing when all zero."""
    shown = [(label, n) for label, n in items if n]
    if not shown:
        return mark_safe("")
    scale = (WIDTH - LABEL - RIGHT) / max(n for _, n in shown)
    parts = [_title(title)]
    y = 22
    for label, n in shown:
        width = max(n * scale, 1.0)
        parts.append(
            f'<text x="4" y="{y + 12}" class="chart-axis">{escape(label[:36])}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}" '
            f'fill="{GREEN}"><title>{escape(label)}: {n}</title></rect>'
            f'<text x="{LABEL + width + 6:.1f}" y="{y + 12}" class="chart-axis">{n}</text>'
        )
        y += ROW
    return _svg(parts, y + 8, title)


# -- each panel's charts ---------------------------------------------------------------------


def opd_charts(data) -> list[SafeString]:
    return [
        hour_stack_svg(
            data.hours, data.departments, data.by_hour, title="Arrivals per hour by department"
        ),
        split_bars_svg(
            data.by_department,
            legend=("By appointment", "Walk-in"),
            title="Appointments and walk-ins by department",
        ),
    ]


def bed_charts(data) -> list[SafeString]:
    return [
        occupancy_svg(data.by_ward, title="Occupied beds by ward"),
        occupancy_svg(data.by_category, title="Occupied beds by category"),
    ]


def lab_charts(data) -> list[SafeString]:
    return [
        count_bars_svg([(s.label, s.ordered) for s in data.sections], title="Tests ordered today"),
        count_bars_svg(
            [(s.label, s.median_minutes or 0) for s in data.sections],
            title="Median turnaround today (minutes, order to authorisation)",
        ),
        count_bars_svg([(s.label, s.pending) for s in data.sections], title="Pending results"),
    ]


def collection_charts(data) -> list[SafeString]:
    from ajeya.billing.charts import by_department_svg, by_mode_svg

    return [by_mode_svg(data.by_mode), by_department_svg(data.by_department)]


CHARTS = {
    "opd": opd_charts,
    "beds": bed_charts,
    "lab": lab_charts,
    "collections": collection_charts,
}
