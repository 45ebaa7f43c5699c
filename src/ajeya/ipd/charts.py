"""Small SVG charts drawn on the server (no JavaScript library, nothing fetched): the
observation chart over a stay and the census's daily admissions and discharges."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

from ajeya.core import clock

WIDTH, HEIGHT, PAD = 640, 110, 30


@dataclass(frozen=True)
class Series:
    label: str
    unit: str
    low: float
    high: float
    points: list[tuple[dt.datetime, float]]
    colour: str


def _line(series: Series, start: dt.datetime, span: float) -> str:
    def x(t: dt.datetime) -> float:
        return PAD + (WIDTH - 2 * PAD) * ((t - start).total_seconds() / span if span else 0.5)

    def y(v: float) -> float:
        v = min(max(v, series.low), series.high)
        return HEIGHT - 18 - (HEIGHT - 30) * (v - series.low) / (series.high - series.low)

    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in series.points)
    dots = "".join(
        f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{series.colour}">'
        f"<title>{clock.local(t):%d-%m %H:%M} {v:g} {escape(series.unit)}</title></circle>"
        for t, v in series.points
    )
    last = series.points[-1][1]
    return (
        f'<g><text x="4" y="14" class="chart-label">{escape(series.label)} '
        f"({escape(series.unit)}) — last {last:g}</text>"
        f'<text x="4" y="{HEIGHT - 18}" class="chart-axis">{series.low:g}</text>'
        f'<text x="4" y="30" class="chart-axis">{series.high:g}</text>'
        f'<polyline fill="none" stroke="{series.colour}" stroke-width="2" points="{coords}"/>'
        f"{dots}</g>"
    )


def observations_svg(observations) -> SafeString:
    """One strip per measure (temperature, pulse, BP, SpO₂) over the stay so far."""
    if not observations:
        return mark_safe("")
    start = observations[0].recorded_at
    span = (observations[-1].recorded_at - start).total_seconds()
    wanted = [
        ("Temperature", "°C", 34, 42, "temperature_c", "#b42318"),
        ("Pulse", "/min", 40, 180, "pulse_per_min", "#1d4ed8"),
        ("Systolic BP", "mmHg", 60, 220, "systolic_mmhg", "#0f766e"),
        ("Diastolic BP", "mmHg", 30, 130, "diastolic_mmhg", "#0f766e"),
        ("SpO₂", "%", 70, 100, "spo2_percent", "#7c3aed"),
    ]
    strips = []
    for label, unit, low, high, attr, colour in wanted:
        points = [
            (o.recorded_at, float(getattr(o, attr)))
            for o in observations
            if getattr(o, attr) is not None
        ]
        if points:
            strips.append(_line(Series(label, unit, low, high, points, colour), start, span))
    svgs = "".join(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="observation chart">{s}</svg>'
        for s in strips
    )
    return mark_safe(svgs)  # noqa: S308 - every text part is escaped above


def census_svg(daily: list[tuple[dt.date, int, int]]) -> SafeString:
    """Paired bars a day: admissions (dark) and discharges (light)."""
    if not daily:
        return mark_safe("")
    top = max(1, *(max(a, d) for _, a, d in daily))
    height, bar = 160, (WIDTH - 2 * PAD) / len(daily)
    parts = []
    for n, (day, admitted, discharged) in enumerate(daily):
        x = PAD + n * bar
        for k, (value, colour) in enumerate(((admitted, "#0b5d4b"), (discharged, "#8fc7b8"))):
            h = (height - 40) * value / top
            parts.append(
                f'<rect x="{x + k * bar / 2 + 1:.1f}" y="{height - 20 - h:.1f}" '
                f'width="{max(bar / 2 - 2, 1):.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{day:%d-%m}: {value} {'admitted' if k == 0 else 'discharged'}</title>"
                "</rect>"
            )
        if len(daily) <= 31:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" class="chart-axis" '
                f'text-anchor="middle">{day:%d}</text>'
            )
    parts.append(f'<text x="4" y="14" class="chart-axis">max {top} a day</text>')
    return mark_safe(  # noqa: S308 - numbers and dates only
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="admissions and discharges a day">{"".join(parts)}</svg>'
    )
