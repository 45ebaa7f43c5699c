"""Laboratory turnaround times: how long samples took from collection to receipt and from
receipt to authorisation, per section and per panel, against each panel's target; and
which received tests are past their target right now.

The database picks the period's authorised items (IST day boundaries), joins their
samples and panels and subtracts the times; the medians and 90th percentiles are taken
here from those per-item minutes (SQLite has no percentile function, and the same code
must give the same numbers on both databases).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field

from django.db.models import F, Q
from django.utils import timezone

from ajeya.core import clock
from ajeya.core.errors import ValidationFailed
from ajeya.lab.models import (
    PRIORITY_RANK,
    ItemStatus,
    OrderItem,
    Panel,
    Priority,
    SampleStatus,
    Section,
)

DEFAULT_DAYS = 7
MAX_DAYS = 92
EARLIEST = dt.date(2000, 1, 1)  # before any laboratory kept its results here


@dataclass(frozen=True)
class Period:
    """Whole days in IST, `first` to `last` inclusive."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> dt.datetime:
        return _midnight(self.first)

    @property
    def end(self) -> dt.datetime:
        """Midnight IST after the last day (exclusive)."""
        return _midnight(self.last + dt.timedelta(days=1))


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def period(first: dt.date | None = None, last: dt.date | None = None) -> Period:
    """The period asked for: by default the last seven days up to today (IST). An end
    before the start, more than MAX_DAYS days, or a day before EARLIEST or more than a
    year ahead (year 1 or 9999 would overflow the arithmetic) is refused with field
    messages."""
    today = clock.today()
    latest = today + dt.timedelta(days=366)
    far = {
        name: [f"Choose a day between {EARLIEST:%d-%m-%Y} and {latest:%d-%m-%Y}."]
        for name, day in (("first", first), ("last", last))
        if day is not None and not EARLIEST <= day <= latest
    }
    if far:
        raise ValidationFailed(far)
    last = last or today
    first = first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationFailed({"last": ["The last day is before the first day."]})
    chosen = Period(first, last)
    if chosen.days > MAX_DAYS:
        raise ValidationFailed(
            {"first": [f"Choose at most {MAX_DAYS} days; this period has {chosen.days}."]}
        )
    return chosen


# -- statistics ------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    """Nearest rank: the smallest time within which at least 90% of the items were done
    (always a time an item really took)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _minutes(value: dt.timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 60


@dataclass
class TatRow:
    """One line of the table: a whole section (its panels' items together, each judged
    by its own panel's target), or one panel."""

    section: str
    section_label: str
    panel: str = ""  # empty on a section's line
    panel_name: str = ""
    target: int | None = None  # minutes, receipt to authorisation (panels only)
    lab: list[float] = field(default_factory=list, repr=False)
    transit: list[float] = field(default_factory=list, repr=False)
    within: int = 0

    @property
    def is_section(self) -> bool:
        return not self.panel

    @property
    def count(self) -> int:
        return len(self.lab)

    @property
    def lab_median(self) -> float | None:
        return median(self.lab)

    @property
    def lab_p90(self) -> float | None:
        return p90(self.lab)

    @property
    def transit_median(self) -> float | None:
        return median(self.transit)

    @property
    def transit_p90(self) -> float | None:
        return p90(self.transit)

    @property
    def within_percent(self) -> float | None:
        return round(100 * self.within / self.count, 1) if self.count else None

    @property
    def late(self) -> bool:
        return self.target is not None and (self.lab_median or 0) > self.target


@dataclass(frozen=True)
class LateItem:
    """A received test still not authorised after its panel's target."""

    accession: str
    order: str
    panel: str
    panel_name: str
    section_label: str
    priority: str
    received_at: dt.datetime
    target: int
    minutes_over: float

    @property
    def is_stat(self) -> bool:
        return self.priority == Priority.STAT


@dataclass
class Turnaround:
    period: Period
    rows: list[TatRow]  # each section's line, then its panels' lines
    late: list[LateItem]
    now: dt.datetime

    @property
    def panels(self) -> list[TatRow]:
        return [r for r in self.rows if not r.is_section]


def authorised_times(chosen: Period) -> list[TatRow]:
    """Per section and panel, the items authorised in the period and their minutes."""
    items = (
        OrderItem.objects.filter(
            status=ItemStatus.AUTHORISED,
            authorised_at__gte=chosen.start,
            authorised_at__lt=chosen.end,
            sample__received_at__isnull=False,
        )
        .annotate(
            lab=F("authorised_at") - F("sample__received_at"),
            transit=F("sample__received_at") - F("sample__collected_at"),
        )
        .values_list(
            "panel__section", "panel__code", "panel__name", "panel__tat_minutes", "lab", "transit"
        )
        .order_by()
    )
    labels = dict(Section.choices)
    sections: dict[str, TatRow] = {}
    panels: dict[str, TatRow] = {}
    for section, code, name, target, lab, transit in items:
        whole = sections.setdefault(section, TatRow(section, labels.get(section, section)))
        row = panels.setdefault(
            code, TatRow(section, whole.section_label, code, name, target=target)
        )
        minutes, moved = _minutes(lab), _minutes(transit)
        for line in (whole, row):
            line.lab.append(minutes)
            if moved is not None:
                line.transit.append(moved)
            if minutes <= target:
                line.within += 1
    order = {s: n for n, s in enumerate(Section.values)}
    rows: list[TatRow] = []
    for section in sorted(sections, key=lambda s: order.get(s, len(order))):
        rows.append(sections[section])
        rows.extend(
            sorted((p for p in panels.values() if p.section == section), key=lambda p: p.panel)
        )
    return rows


def late_now(now: dt.datetime | None = None) -> list[LateItem]:
    """Received tests past their target and not yet authorised: STAT first, then the
    most overdue. One condition per distinct target keeps the filter in the database."""
    now = now or clock.now()
    targets = set(Panel.objects.values_list("tat_minutes", flat=True))
    if not targets:
        return []
    overdue = Q()
    for minutes in targets:
        overdue |= Q(
            panel__tat_minutes=minutes,
            sample__received_at__lt=now - dt.timedelta(minutes=minutes),
        )
    items = (
        OrderItem.objects.filter(
            overdue,
            status__in=(ItemStatus.ORDERED, ItemStatus.IN_PROGRESS),
            sample__status=SampleStatus.RECEIVED,
        )
        .select_related("panel", "sample", "order")
        .order_by()
    )
    labels = dict(Section.choices)
    late = [
        LateItem(
            accession=item.sample.accession,
            order=item.order.number,
            panel=item.panel.code,
            panel_name=item.panel.name,
            section_label=labels.get(item.panel.section, item.panel.section),
            priority=item.order.priority,
            received_at=item.sample.received_at,
            target=item.panel.tat_minutes,
            minutes_over=(now - item.sample.received_at).total_seconds() / 60
            - item.panel.tat_minutes,
        )
        for item in items
    ]
    late.sort(key=lambda x: (PRIORITY_RANK.get(x.priority, 9), -x.minutes_over, x.accession))
    return late


def turnaround(chosen: Period) -> Turnaround:
    now = clock.now()
    return Turnaround(chosen, authorised_times(chosen), late_now(now), now)


CSV_HEADER = [
    "section",
    "panel",
    "panel name",
    "target (min)",
    "authorised",
    "receipt to authorisation median (min)",
    "receipt to authorisation p90 (min)",
    "within target (%)",
    "collection to receipt median (min)",
    "collection to receipt p90 (min)",
]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _text(value: str) -> str:
    # A spreadsheet runs a cell that starts with one of these as a formula.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_rows(data: Turnaround) -> list[list[str]]:
    """The table as CSV lines, the header first."""
    lines = [CSV_HEADER]
    for row in data.rows:
        lines.append(
            [
                _text(row.section_label),
                _text(row.panel or "(all)"),
                _text(row.panel_name),
                "" if row.target is None else str(row.target),
                str(row.count),
                _number(row.lab_median),
                _number(row.lab_p90),
                _number(row.within_percent),
                _number(row.transit_median),
                _number(row.transit_p90),
            ]
        )
    return lines
