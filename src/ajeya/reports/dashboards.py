"""The dashboards' reads: one function per panel, each a handful of aggregate queries
for today (IST), and which panels a role sees. The resilience panel's backup, restore
and security-alert lines come from providers that later apps register (like
core/notices.py); until one does, the line says "not configured yet"."""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, F, Min, Q
from django.db.models.functions import ExtractHour
from django.utils import timezone

from ajeya.billing import reports as billing_reports
from ajeya.core.periods import Period
from ajeya.core.roles import Perm, has_perm
from ajeya.ipd.models import Admission, Bed, BedCategory, BedStatus, Discharge, DischargeType
from ajeya.lab.models import ItemStatus, OrderItem, Section
from ajeya.opd.models import Visit

log = logging.getLogger(__name__)


# -- OPD: footfall by department and hour, appointments vs walk-ins ---------------------


@dataclass
class Opd:
    day: dt.date
    hours: list[int]  # the IST hours from the first arrival's to the last's
    departments: list[str]
    by_hour: dict[tuple[str, int], int]  # (department, hour) -> arrivals
    by_department: list[tuple[str, int, int]]  # department, by appointment, walk-in
    total: int = 0
    booked: int = 0

    @property
    def walk_in(self) -> int:
        return self.total - self.booked


def opd(day: dt.date) -> Opd:
    """Patients who arrived at the OPD today, per department and IST hour of arrival.
    A patient transferred to another clinic arrived once: only the first visit counts."""
    by_hour: dict[tuple[str, int], int] = defaultdict(int)
    split: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in (
        Visit.objects.filter(date=day, transferred_from__isnull=True)
        .values(
            "clinic__department__name",
            hour=ExtractHour("arrived_at", tzinfo=timezone.get_default_timezone()),
        )
        .annotate(n=Count("id"), booked=Count("id", filter=Q(appointment__isnull=False)))
        .order_by()
    ):
        name = r["clinic__department__name"]
        by_hour[(name, r["hour"])] += r["n"]
        split[name][0] += r["booked"]
        split[name][1] += r["n"] - r["booked"]
    departments = sorted(split)
    seen = [hour for _, hour in by_hour]
    return Opd(
        day=day,
        hours=list(range(min(seen), max(seen) + 1)) if seen else [],  # quiet hours too
        departments=departments,
        by_hour=dict(by_hour),
        by_department=[(name, *split[name]) for name in departments],
        total=sum(by_hour.values()),
        booked=sum(b for b, _ in split.values()),
    )


# -- beds: occupancy by ward and category, admissions and discharges today ---------------


@dataclass
class Occupancy:
    label: str
    beds: int = 0
    occupied: int = 0
    free: int = 0

    @property
    def other(self) -> int:
        """Reserved, being cleaned or blocked: neither occupied nor ready."""
        return self.beds - self.occupied - self.free

    @property
    def percent(self) -> int | None:
        return round(100 * self.occupied / self.beds) if self.beds else None

    def add(self, beds: int, occupied: int, free: int) -> None:
        self.beds += beds
        self.occupied += occupied
        self.free += free


@dataclass
class Beds:
    day: dt.date
    by_ward: list[Occupancy]
    by_category: list[Occupancy]
    total: Occupancy
    admissions: int
    discharges: int
    deaths: int


def beds(day: dt.date) -> Beds:
    """The beds of active wards as they stand now; admissions and discharges today."""
    wards: dict[str, Occupancy] = {}
    categories = {key: Occupancy(label) for key, label in BedCategory.choices}
    total = Occupancy("All beds")
    for r in (
        Bed.objects.filter(ward__is_active=True)
        .values("ward__code", "ward__name", "category")
        .annotate(
            n=Count("id"),
            occupied=Count("id", filter=Q(status=BedStatus.OCCUPIED)),
            free=Count("id", filter=Q(status=BedStatus.FREE)),
        )
        .order_by()
    ):
        numbers = (r["n"], r["occupied"], r["free"])
        ward = wards.setdefault(
            r["ward__code"], Occupancy(f"{r['ward__name']} ({r['ward__code']})")
        )
        ward.add(*numbers)
        categories.setdefault(r["category"], Occupancy(r["category"])).add(*numbers)
        total.add(*numbers)
    start, end = Period(day, day).bounds()
    left = Discharge.objects.filter(discharged_at__gte=start, discharged_at__lt=end).aggregate(
        n=Count("id"), deaths=Count("id", filter=Q(kind=DischargeType.DEATH))
    )
    return Beds(
        day=day,
        by_ward=[wards[code] for code in sorted(wards)],
        by_category=[c for c in categories.values() if c.beds],
        total=total,
        admissions=Admission.objects.filter(admitted_at__gte=start, admitted_at__lt=end).count(),
        discharges=left["n"],
        deaths=left["deaths"],
    )


# -- the laboratory: workload, turnaround, pending results --------------------------------


@dataclass
class LabSection:
    label: str
    ordered: int = 0
    authorised: int = 0
    cancelled: int = 0
    minutes: list[float] = field(default_factory=list)
    pending: int = 0
    oldest: dt.datetime | None = None

    @property
    def median_minutes(self) -> int | None:
        return round(statistics.median(self.minutes)) if self.minutes else None


@dataclass
class Lab:
    day: dt.date
    sections: list[LabSection]
    total: LabSection


def lab(day: dt.date) -> Lab:
    """Tests (ordered panels) ordered and cancelled today, authorised today with the
    minutes from order to authorisation, and every test still waiting for its result
    (whatever day it was ordered), per section."""
    start, end = Period(day, day).bounds()
    labels = dict(Section.choices)
    sections = {key: LabSection(label) for key, label in Section.choices}
    total = LabSection("All sections")

    def of(key: str) -> LabSection:
        return sections.setdefault(key, LabSection(labels.get(key, key)))

    for r in (
        OrderItem.objects.filter(order__ordered_at__gte=start, order__ordered_at__lt=end)
        .values("panel__section")
        .annotate(n=Count("id"), cancelled=Count("id", filter=Q(status=ItemStatus.CANCELLED)))
        .order_by()
    ):
        s = of(r["panel__section"])
        s.ordered, s.cancelled = r["n"], r["cancelled"]
        total.ordered += r["n"]
        total.cancelled += r["cancelled"]
    for section, took in (
        OrderItem.objects.filter(
            status=ItemStatus.AUTHORISED, authorised_at__gte=start, authorised_at__lt=end
        )
        .annotate(took=F("authorised_at") - F("order__ordered_at"))
        .values_list("panel__section", "took")
        .order_by()
    ):
        minutes = took.total_seconds() / 60
        of(section).authorised += 1
        of(section).minutes.append(minutes)
        total.authorised += 1
        total.minutes.append(minutes)
    for r in (
        OrderItem.objects.filter(status__in=[ItemStatus.ORDERED, ItemStatus.IN_PROGRESS])
        .values("panel__section")
        .annotate(n=Count("id"), oldest=Min("order__ordered_at"))
        .order_by()
    ):
        s = of(r["panel__section"])
        s.pending, s.oldest = r["n"], r["oldest"]
        total.pending += r["n"]
        if total.oldest is None or r["oldest"] < total.oldest:
            total.oldest = r["oldest"]
    shown = [s for s in sections.values() if s.ordered or s.authorised or s.pending]
    return Lab(day=day, sections=shown, total=total)


# -- collections ---------------------------------------------------------------------------


def collections(day: dt.date) -> billing_reports.Collections:
    """Today's money by mode and department: billing's own collection report."""
    return billing_reports.collections(start=day, end=day)


# -- resilience ---------------------------------------------------------------------------


@dataclass
class Check:
    """One line of the resilience panel. ok: True good, False bad, None unknown."""

    title: str
    text: str
    ok: bool | None = None
    link: str = ""
    details: list[Check] = field(default_factory=list)  # one line per ward, say


ResilienceProvider = Callable[[dt.date], Check]

NOT_CONFIGURED = {
    "backup": ("Last backup", "Not configured yet: backups arrive with a later release."),
    "restore": (
        "Last verified restore",
        "Not configured yet: restore drills arrive with a later release.",
    ),
    "downtime": (
        "Downtime snapshots",
        "Not configured yet: downtime snapshots arrive with a later release.",
    ),
    "alerts": (
        "Open security alerts",
        "Not configured yet: security detection arrives with a later release.",
    ),
}
_resilience: dict[str, ResilienceProvider] = {}


def register_resilience(key: str, provider: ResilienceProvider) -> None:
    """A later app (resilience, defence) answers one of the lines in NOT_CONFIGURED:
    provider(today) -> Check. Call it from the app's AppConfig.ready()."""
    if key not in NOT_CONFIGURED:
        raise ValueError(f"unknown resilience line {key!r}")
    _resilience[key] = provider


def unregister_resilience(key: str) -> None:
    _resilience.pop(key, None)


@dataclass
class Resilience:
    ledger: object  # ledger.selectors.LedgerStatus
    checks: list[Check]


def resilience(day: dt.date) -> Resilience:
    from ajeya.ledger.selectors import ledger_status

    checks = []
    for key, (title, missing) in NOT_CONFIGURED.items():
        provider = _resilience.get(key)
        if provider is None:
            checks.append(Check(title, missing))
            continue
        try:
            checks.append(provider(day))
        except Exception:
            # A broken provider must not take the dashboard down: say so instead.
            log.exception("resilience provider %r failed", key)
            checks.append(Check(title, "Could not be read: see the server log.", ok=False))
    return Resilience(ledger=ledger_status(), checks=checks)


# -- panels and who sees them -------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    perms: tuple[Perm, ...]  # any one of them shows the panel
    read: Callable[[dt.date], object]

    @property
    def template(self) -> str:
        return f"reports/_panel_{self.key}.html"


PANELS = [
    Panel("opd", "OPD today", (Perm.APPOINTMENT_VIEW, Perm.REPORTS_VIEW), opd),
    Panel("beds", "Beds and admissions", (Perm.BED_BOARD_VIEW, Perm.CENSUS_VIEW), beds),
    # Lab staff and those who watch turnaround; doctors and nurses read results, not
    # the lab's workload, so LAB_VIEW alone does not show it.
    Panel("lab", "Laboratory today", (Perm.LAB_TAT, Perm.RESULT_ENTER), lab),
    Panel("collections", "Collections today", (Perm.BILLING_REPORTS,), collections),
    Panel("resilience", "Resilience", (Perm.LEDGER_STATUS,), resilience),
]


def panels_for(user) -> list[Panel]:
    return [p for p in PANELS if any(has_perm(user, perm) for perm in p.perms)]
