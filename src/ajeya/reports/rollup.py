"""The OPD counted once per closed day, so a 92-day report reads a few thousand rows
instead of a million visits.

A closed day (before today, IST) is counted into `OpdDay` rows the first time a report
needs it, or by the worker each night, or by `ajeya reports rollup`. Today is always
counted live. A day already counted is counted again when the ledger shows a change to
one of its visits, to a consultation of one of its visits, or to the category of one of
its patients: `refresh()` reads the ledger entries since the last one it read, and every
report calls it first, so a report is exact whenever it is run. Visits are never deleted
(a cancelled visit is a status), so every change names a visit that still exists.

`Cell` is one group of a day's visits (clinic, consulting doctor, patient category and
scheme) with its counts and its distinct patients; the reports add cells up.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q

from ajeya.core import clock
from ajeya.core.locking import locked
from ajeya.ledger.models import LedgerEntry
from ajeya.opd.models import Consultation, Visit, VisitStatus
from ajeya.reports.models import OpdDay, RollupDay, RollupState

WATCHED = ("opd.visit", "opd.consultation", "patients.patient")
COUNTS = ("visits", "booked", "seen", "no_show", "consultations", "admit_advised")


@dataclass
class Cell:
    date: dt.date
    clinic: int
    doctor: int | None
    category: str
    scheme: str
    visits: int = 0
    booked: int = 0
    seen: int = 0
    no_show: int = 0
    consultations: int = 0
    admit_advised: int = 0
    patients: set[int] | array = field(default_factory=set)  # stored days: an array


def count_day(day: dt.date) -> list[Cell]:
    """Count one day's visits from the visits themselves (one grouped query)."""
    cells: dict[tuple, Cell] = {}
    for r in (
        Visit.objects.filter(date=day)
        .values("clinic", "consultation__doctor", "patient", "patient__category", "patient__scheme")
        .annotate(
            visits=Count("id"),
            booked=Count("id", filter=Q(appointment__isnull=False)),
            seen=Count("id", filter=Q(status=VisitStatus.DONE)),
            no_show=Count("id", filter=Q(status=VisitStatus.NO_SHOW)),
            consultations=Count("consultation"),
            admit_advised=Count("consultation", filter=Q(consultation__admit_advised=True)),
        )
        .order_by()
    ):
        key = (r["clinic"], r["consultation__doctor"], r["patient__category"], r["patient__scheme"])
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell(day, *key)
        for name in COUNTS:
            setattr(cell, name, getattr(cell, name) + r[name])
        cell.patients.add(r["patient"])
    return list(cells.values())


def _pack(ids: set[int]) -> bytes:
    return array("I", sorted(ids)).tobytes()


def _unpack(value) -> array:
    ids = array("I")
    ids.frombytes(bytes(value))
    return ids


def _store(days: Iterable[dt.date]) -> None:
    """Count each day again and replace its rows (inside the caller's transaction)."""
    now = clock.now()
    for day in days:
        OpdDay.objects.filter(date=day).delete()
        OpdDay.objects.bulk_create(
            [
                OpdDay(
                    date=c.date, clinic_id=c.clinic, doctor_id=c.doctor, category=c.category,
                    scheme=c.scheme, patients=_pack(c.patients),
                    **{name: getattr(c, name) for name in COUNTS},
                )
                for c in count_day(day)
            ],
            batch_size=500,
        )  # fmt: skip
        RollupDay.objects.update_or_create(date=day, defaults={"built_at": now})


def _touched_days(entries: list[tuple[str, str]]) -> set[dt.date]:
    """The visit days the ledger entries changed (subject type, subject id)."""
    ids: dict[str, set[str]] = {kind: set() for kind in WATCHED}
    for kind, subject in entries:
        ids[kind].add(subject)
    days: set[dt.date] = set()
    if ids["opd.visit"]:
        visits = [int(i) for i in ids["opd.visit"]]
        days |= set(Visit.objects.filter(pk__in=visits).values_list("date", flat=True))
    if ids["opd.consultation"]:
        consultations = [int(i) for i in ids["opd.consultation"]]
        days |= set(
            Consultation.objects.filter(pk__in=consultations).values_list("visit__date", flat=True)
        )
    if ids["patients.patient"]:
        days |= set(
            Visit.objects.filter(patient__uhid__in=ids["patients.patient"])
            .values_list("date", flat=True)
            .distinct()
        )
    return days


def _changes_after(seq: int):
    """Watched ledger entries after `seq`: (seq, subject type, subject id)."""
    return LedgerEntry.objects.filter(seq__gt=seq, subject_type__in=WATCHED).values_list(
        "seq", "subject_type", "subject_id"
    )


def _missing(first: dt.date, last: dt.date) -> set[dt.date]:
    """The closed days of [first, last] not counted yet."""
    span = max((last - first).days + 1, 0)
    wanted = {first + dt.timedelta(days=n) for n in range(span)}
    built = RollupDay.objects.filter(date__gte=first, date__lte=last).values_list("date", flat=True)
    return wanted - set(built)


def refresh(first: dt.date, last: dt.date) -> int:
    """Re-count the counted days the ledger shows changed since the last refresh, and
    count the closed days of [first, last] not counted yet. Returns how many days were
    (re)counted. With nothing to do it costs three small queries."""
    last = min(last, clock.today() - dt.timedelta(days=1))
    state = RollupState.objects.filter(pk=1).first()
    if not _changes_after(state.seq if state else 0).exists() and not _missing(first, last):
        return 0
    if state is None:
        RollupState.objects.get_or_create(pk=1)
    with transaction.atomic():
        # One refresher at a time; the other then finds the work done.
        state = locked(RollupState.objects).get(pk=1)
        changed = list(_changes_after(state.seq))
        touched = _touched_days([(kind, subject) for _, kind, subject in changed])
        counted = set(RollupDay.objects.filter(date__in=touched).values_list("date", flat=True))
        days = sorted(counted | _missing(first, last))
        _store(days)
        if changed:
            state.seq = max(seq for seq, _, _ in changed)
            state.save(update_fields=["seq"])
    return len(days)


def cells(first: dt.date, last: dt.date) -> Iterator[Cell]:
    """Every cell of the period: counted days from their rows, today counted live."""
    today = clock.today()
    refresh(first, last)
    counted = OpdDay.objects.filter(
        date__gte=first, date__lte=min(last, today - dt.timedelta(days=1))
    )
    for row in counted.iterator(chunk_size=2000):
        cell = Cell(row.date, row.clinic_id, row.doctor_id, row.category, row.scheme)
        for name in COUNTS:
            setattr(cell, name, getattr(row, name))
        cell.patients = _unpack(row.patients)
        yield cell
    if first <= today <= last:
        yield from count_day(today)
