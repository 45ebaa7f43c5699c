"""Reads for the wards: the bed board, an admission's chart, who lay near whom (for
infection control), admission advice waiting for a bed, and the census."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from ajeya.core import clock
from ajeya.core.errors import NotFound
from ajeya.ipd.models import (
    Admission,
    AdmissionStatus,
    Bed,
    BedCategory,
    BedStatus,
    BedStay,
    Ward,
)
from ajeya.opd import selectors as opd_selectors
from ajeya.opd.models import Consultation
from ajeya.patients.models import age_text


@dataclass(slots=True)
class BoardPatient:
    name: str
    sex: str
    age_display: str

    @property
    def initial(self) -> str:
        return self.name[:1]


@dataclass(slots=True)
class BoardAdmission:
    number: str
    patient: BoardPatient


@dataclass(slots=True)
class Tile:
    """One bed on the board: plain values, so 2,500 of them draw without building model
    objects (bench/ipd.py)."""

    label: str
    status: str
    status_label: str
    category_label: str
    status_note: str
    admission: BoardAdmission | None = None


@dataclass
class WardBoard:
    ward: Ward
    beds: list[Tile] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    @property
    def by_status(self) -> list[tuple[str, int]]:
        """(status label, beds) for the statuses present; templates cannot call
        Counter.items (a Counter answers any key, "items" included, with 0)."""
        return [(BedStatus(s).label, n) for s, n in sorted(self.counts.items())]

    @property
    def occupancy(self) -> int:
        total = len(self.beds)
        return round(100 * self.counts[BedStatus.OCCUPIED] / total) if total else 0


@dataclass
class Board:
    wards: list[WardBoard]
    counts: Counter
    total: int


STATUS_LABELS = dict(BedStatus.choices)
CATEGORY_LABELS = dict(BedCategory.choices)


def bed_board(*, ward_code: str | None = None, category: str | None = None) -> Board:
    """Every bed with its status and, when occupied, its admission: three queries and no
    model objects per bed, for any number of beds."""
    wards_q = Ward.objects.filter(is_active=True)
    if ward_code:
        wards_q = wards_q.filter(code=ward_code.upper())
    wards = {w.pk: w for w in wards_q.order_by("code")}
    beds = Bed.objects.filter(ward_id__in=wards)
    if category in BedCategory.values:
        beds = beds.filter(category=category)
    rows = list(
        beds.order_by("ward__code", "label").values_list(
            "pk", "label", "status", "status_note", "category", "ward_id"
        )
    )
    admissions = Admission.objects.filter(status=AdmissionStatus.ADMITTED, bed__ward_id__in=wards)
    if category in BedCategory.values:
        admissions = admissions.filter(bed__category=category)
    today = clock.today()
    admitted = {
        bed_id: BoardAdmission(number, BoardPatient(name, sex, age_text(dob, today)))
        for bed_id, number, name, sex, dob in admissions.values_list(
            "bed_id", "number", "patient__name", "patient__sex", "patient__date_of_birth"
        )
    }
    boards: dict[int, WardBoard] = {}
    counts: Counter = Counter()
    for pk, label, status, note, cat, ward_id in rows:
        board = boards.get(ward_id)
        if board is None:
            board = boards[ward_id] = WardBoard(wards[ward_id])
        board.beds.append(
            Tile(label, status, STATUS_LABELS[status], CATEGORY_LABELS[cat], note, admitted.get(pk))
        )
        board.counts[status] += 1
        counts[status] += 1
    return Board(list(boards.values()), counts, len(rows))


def ward_get(code: str) -> Ward:
    ward = Ward.objects.filter(code=code.upper()).first()
    if ward is None:
        raise NotFound(f"No ward has code {code}.")
    return ward


def bed_get(label: str) -> Bed:
    bed = Bed.objects.select_related("ward", "room").filter(label=label.upper()).first()
    if bed is None:
        raise NotFound(f"No bed is labelled {label}.")
    return bed


def beds_allocatable() -> QuerySet[Bed]:
    """Beds an admission or a move may take: free or reserved, in an open ward."""
    return (
        Bed.objects.filter(status__in=[BedStatus.FREE, BedStatus.RESERVED], ward__is_active=True)
        .select_related("ward")
        .order_by("ward__code", "label")
    )


def admission_get(number: str) -> Admission:
    admission = (
        Admission.objects.select_related(
            "patient", "bed__ward", "unit", "attending_doctor", "admitted_by", "consultation"
        )
        .filter(number=number.strip().upper())
        .first()
    )
    if admission is None:
        raise NotFound(f"No admission has number {number}.")
    return admission


def chart(admission: Admission) -> dict:
    """Everything the admission page shows, each list in one query."""
    return {
        "stays": list(
            admission.stays.select_related("bed__ward", "unit", "attending_doctor", "moved_by")
        ),
        "observations": list(admission.observations.select_related("recorded_by")),
        "fluids": list(admission.fluids.select_related("recorded_by")),
        "notes": list(admission.notes.select_related("recorded_by")),
        "medications": list(
            admission.medications.select_related("ordered_by", "stopped_by").prefetch_related(
                "doses__recorded_by"
            )
        ),
    }


def fluid_balance(fluids) -> list[tuple[dt.date, int, int, int]]:
    """(day in IST, intake ml, output ml, balance ml) for each day charted."""
    days: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for f in fluids:
        days[clock.local(f.recorded_at).date()][0 if f.direction == "intake" else 1] += f.volume_ml
    return [(day, i, o, i - o) for day, (i, o) in sorted(days.items())]


@dataclass(frozen=True)
class Contact:
    stay: BedStay
    overlap_from: dt.datetime
    overlap_to: dt.datetime | None


def room_contacts(admission: Admission) -> list[Contact]:
    """Everyone who lay in the same room at the same time as this admission: what the
    infection control nurse asks for."""
    mine = list(admission.stays.select_related("bed__room"))
    contacts = []
    for stay in mine:
        end = stay.ended_at
        others = (
            BedStay.objects.filter(bed__room_id=stay.bed.room_id)
            .exclude(admission=admission)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=stay.started_at))
            .select_related("admission__patient", "bed")
        )
        if end is not None:
            others = others.filter(started_at__lt=end)
        for other in others:
            start = max(stay.started_at, other.started_at)
            stop = (
                min(t for t in (end, other.ended_at) if t is not None)
                if (end or other.ended_at)
                else None
            )
            contacts.append(Contact(other, start, stop))
    return sorted(contacts, key=lambda c: c.overlap_from)


def awaiting_admission(days: int = 3) -> QuerySet[Consultation]:
    """OPD consultations that advised admission in the last days, not yet admitted."""
    return opd_selectors.admission_advices(clock.today() - dt.timedelta(days=days), open_only=True)


@dataclass(frozen=True)
class Census:
    first: dt.date
    last: dt.date
    daily: list[tuple[dt.date, int, int]]  # day, admissions, discharges
    by_ward: list[tuple[Ward, int, int]]  # ward, beds, occupied
    by_category: list[tuple[str, int, int]]
    admitted_now: int
    average_stay_days: float | None


def census(first: dt.date, last: dt.date) -> Census:
    """Admissions and discharges a day, occupancy now by ward and category, and the
    average length of stay of those discharged in the period."""
    tz = clock.local(clock.now()).tzinfo
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    admitted = Counter(
        clock.local(t).date()
        for t in Admission.objects.filter(admitted_at__gte=start, admitted_at__lt=end).values_list(
            "admitted_at", flat=True
        )
    )
    left = list(
        Admission.objects.filter(discharged_at__gte=start, discharged_at__lt=end).values_list(
            "admitted_at", "discharged_at"
        )
    )
    discharged = Counter(clock.local(d).date() for _, d in left)
    daily = []
    day = first
    while day <= last:
        daily.append((day, admitted[day], discharged[day]))
        day += dt.timedelta(days=1)
    wards = {w.pk: w for w in Ward.objects.filter(is_active=True)}
    by_ward = [
        (wards[row["ward"]], row["beds"], row["occupied"])
        for row in Bed.objects.filter(ward__in=wards)
        .values("ward")
        .annotate(beds=Count("id"), occupied=Count("id", filter=Q(status=BedStatus.OCCUPIED)))
        .order_by("ward")
    ]
    by_category = [
        (BedCategory(row["category"]).label, row["beds"], row["occupied"])
        for row in Bed.objects.filter(ward__in=wards)
        .values("category")
        .annotate(beds=Count("id"), occupied=Count("id", filter=Q(status=BedStatus.OCCUPIED)))
        .order_by("category")
    ]
    spans = [d - a for a, d in left]
    stay = sum(spans, dt.timedelta()) / len(spans) if spans else None
    return Census(
        first=first,
        last=last,
        daily=daily,
        by_ward=by_ward,
        by_category=by_category,
        admitted_now=Admission.objects.filter(status=AdmissionStatus.ADMITTED).count(),
        average_stay_days=round(stay.total_seconds() / 86400, 1) if spans else None,
    )
