"""How the downtime snapshots stand, for the admin dashboard and `ajeya downtime status`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from ajeya.core import clock
from ajeya.core.errors import NotFound
from ajeya.core.identifiers import format_uhid
from ajeya.downtime import numbers
from ajeya.downtime.models import BackEntry, Kit, KitVoid, NumberKind, SnapshotState
from ajeya.downtime.snapshots import all_locations


@dataclass
class SnapshotRow:
    location: str
    title: str
    made_at: dt.datetime | None
    age: dt.timedelta | None
    size: int
    error: str

    @property
    def ok(self) -> bool:
        limit = dt.timedelta(minutes=settings.AJEYA_DOWNTIME_STALE_MINUTES)
        return self.age is not None and self.age <= limit and not self.error

    @property
    def text(self) -> str:
        if self.made_at is None:
            return f"never written{': ' + self.error if self.error else ''}"
        minutes = int(self.age.total_seconds() // 60)
        age = f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
        text = f"{age} old ({clock.local(self.made_at):%d-%m %H:%M} IST, {self.size / 1e3:,.0f} kB)"
        return f"{text}; last attempt failed: {self.error}" if self.error else text


def snapshot_rows() -> list[SnapshotRow]:
    """Every location that should have a snapshot, with its last one (or none)."""
    now = clock.now()
    states = {s.location: s for s in SnapshotState.objects.all()}
    rows = []
    for location in all_locations():
        state = states.get(location.id)
        made = state.made_at if state else None
        rows.append(
            SnapshotRow(
                location.id,
                location.title,
                made,
                now - made if made else None,
                state.size if state else 0,
                state.error if state else "",
            )
        )
    return rows


# -- kits -------------------------------------------------------------------------------


def kit_print(kit: Kit):
    from ajeya.downtime.printing import KitPrint

    return KitPrint(
        number=kit.number,
        department=kit.department.name,
        made_at=kit.made_at,
        made_by=kit.made_by.full_name if kit.made_by_id else "ajeya downtime kit (server)",
        uhids=numbers.numbers(kit, NumberKind.UHID),
        accessions=numbers.numbers(kit, NumberKind.ACCESSION),
        receipts=numbers.numbers(kit, NumberKind.RECEIPT),
        counter=str(kit.counter) if kit.counter_id else "",
    )


def kit_ranges(kit: Kit) -> list[str]:
    """ "UHIDs: 200, 100 0000 1201 5 to 100 0000 1400 2" — one line per kind reserved."""
    lines = []
    for kind, label in NumberKind.choices:
        values = numbers.numbers(kit, kind)
        if values:
            first, last = (format_uhid(v) if kind == NumberKind.UHID else v
                           for v in (values[0], values[-1]))  # fmt: skip
            lines.append(f"{label}s: {len(values)}, {first} to {last}")
    return lines


@dataclass
class Tally:
    kind: str
    label: str
    numbers: list[str]
    used: dict[str, BackEntry]
    voided: dict[str, KitVoid]

    @property
    def unused(self) -> list[str]:
        return [n for n in self.numbers if n not in self.used and n not in self.voided]


def reconciliation(kit: Kit) -> list[Tally]:
    """Every number of the kit: entered (with its form), voided (with why), or unused."""
    entries = {(e.kind, e.value): e for e in kit.entries.select_related("entered_by")}
    voids = {(v.kind, v.value): v for v in kit.voids.select_related("voided_by")}
    out = []
    for kind, label in NumberKind.choices:
        values = numbers.numbers(kit, kind)
        if not values:
            continue
        out.append(
            Tally(
                kind,
                label,
                values,
                {v: entries[(kind, v)] for v in values if (kind, v) in entries},
                {v: voids[(kind, v)] for v in values if (kind, v) in voids},
            )
        )
    return out


def kits() -> list[Kit]:
    return list(Kit.objects.select_related("department", "counter", "made_by"))


def kit_get(number: str) -> Kit:
    kit = (
        Kit.objects.select_related("department", "counter", "made_by")
        .filter(number=number.strip().upper())
        .first()
    )
    if kit is None:
        raise NotFound(f"No downtime kit {number}.")
    return kit
