"""What a ward or an OPD department needs to keep caring for patients while the
servers are down, read for the whole hospital in a handful of queries.

Read-only, like the dashboards: every inpatient with bed, diagnosis, allergies, the
drugs charted with the next dose due, tests still awaited and the latest results;
each department's appointments and queue today; and every bed in the hospital.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Max

from ajeya.appointments.models import Appointment, Clinic
from ajeya.core import clock
from ajeya.core.identifiers import format_uhid
from ajeya.ipd.models import Admission, AdmissionStatus, Bed, BedStatus, MedicationOrder, Ward
from ajeya.lab.models import Flag, ItemStatus, OrderItem, Result, ResultStatus
from ajeya.opd.models import Frequency, Visit
from ajeya.patients.models import age_text
from ajeya.patients.selectors import active_allergies

# The ward's drug round, in IST: when each frequency's doses fall due. A hospital with
# other round times changes them here (the snapshot only says when the next one is).
ROUND_TIMES: dict[str, tuple[dt.time, ...]] = {
    Frequency.OD: (dt.time(8),),
    Frequency.BD: (dt.time(8), dt.time(20)),
    Frequency.TDS: (dt.time(8), dt.time(14), dt.time(20)),
    Frequency.QID: (dt.time(6), dt.time(12), dt.time(18), dt.time(0)),
    Frequency.HS: (dt.time(21),),
    Frequency.WEEKLY: (dt.time(8),),
}
CRITICAL_FLAGS = frozenset({Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH})
RESULT_STATUSES = (ResultStatus.VERIFIED, ResultStatus.AUTHORISED)


@dataclass
class Medication:
    drug: str
    dose: str
    route: str
    frequency: str
    instructions: str
    last_at: dt.datetime | None
    next_due: dt.datetime | None  # None: as needed (SOS) or nothing more to give
    overdue: bool = False


@dataclass
class LabLine:
    test: str
    value: str
    unit: str
    flag: str
    at: dt.datetime
    authorised: bool

    @property
    def critical(self) -> bool:
        return self.flag in CRITICAL_FLAGS


@dataclass
class Pending:
    panel: str
    priority: str
    accession: str
    ordered_at: dt.datetime


@dataclass
class Inpatient:
    admission_id: int
    number: str
    uhid: str
    name: str
    sex: str
    age: str
    bed: str
    ward_code: str
    admitted_at: dt.datetime
    doctor: str
    unit: str
    diagnosis: str
    allergies: list = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    results: list[LabLine] = field(default_factory=list)

    @property
    def uhid_display(self) -> str:
        return format_uhid(self.uhid)

    @property
    def has_critical(self) -> bool:
        return any(r.critical for r in self.results)


@dataclass
class BedLine:
    label: str
    ward_code: str
    ward_name: str
    category: str
    status: str
    patient: Inpatient | None = None


@dataclass
class WardCensus:
    code: str
    name: str
    floor: str
    beds: list[BedLine] = field(default_factory=list)

    @property
    def inpatients(self) -> list[Inpatient]:
        return [b.patient for b in self.beds if b.patient is not None]


@dataclass
class OpdLine:
    time: str
    clinic: str
    uhid: str
    name: str
    sex: str
    age: str
    status: str
    token: int | None = None

    @property
    def uhid_display(self) -> str:
        return format_uhid(self.uhid)


@dataclass
class DepartmentDay:
    code: str
    name: str
    clinics: list[str] = field(default_factory=list)
    appointments: list[OpdLine] = field(default_factory=list)
    queue: list[OpdLine] = field(default_factory=list)


@dataclass
class Hospital:
    made_at: dt.datetime
    wards: dict[str, WardCensus]
    departments: dict[str, DepartmentDay]
    beds: list[BedLine]


def next_due(
    frequency: str, since: dt.datetime, *, ordered_at: dt.datetime, given: bool
) -> dt.datetime | None:
    """The first round time after `since` (the last dose charted, else the order).
    SOS has no schedule; STAT is due at once until a dose is charted, then never."""
    if frequency == Frequency.STAT:
        return None if given else ordered_at
    times = ROUND_TIMES.get(frequency)
    if not times:
        return None
    local = clock.local(since)
    for days in range(8):
        day = local.date() + dt.timedelta(days=days)
        if frequency == Frequency.WEEKLY and day.weekday() != clock.local(ordered_at).weekday():
            continue
        for at in sorted(times):
            moment = dt.datetime.combine(day, at, tzinfo=local.tzinfo)
            if moment > local:
                return moment
    return None  # pragma: no cover - every frequency has a round within a week


def _medications(admission_ids: list[int], now: dt.datetime) -> dict[int, list[Medication]]:
    out: dict[int, list[Medication]] = defaultdict(list)
    rows = (
        MedicationOrder.objects.filter(admission_id__in=admission_ids, stopped_at__isnull=True)
        .annotate(last_at=Max("doses__recorded_at"))
        .order_by("ordered_at", "pk")
        .values_list(
            "admission_id", "drug", "dose", "route", "frequency", "instructions", "ordered_at",
            "last_at",
        )
    )  # fmt: skip
    for admission_id, drug, dose, route, frequency, instructions, ordered_at, last_at in rows:
        due = next_due(frequency, last_at or ordered_at, ordered_at=ordered_at, given=bool(last_at))
        out[admission_id].append(
            Medication(
                drug,
                dose,
                route,
                frequency,
                instructions,
                last_at,
                due,
                overdue=due is not None and due < now,
            )
        )
    return out


def _pending(admission_ids: list[int]) -> dict[int, list[Pending]]:
    out: dict[int, list[Pending]] = defaultdict(list)
    rows = (
        OrderItem.objects.filter(
            order__admission_id__in=admission_ids,
            status__in=(ItemStatus.ORDERED, ItemStatus.IN_PROGRESS),
        )
        .order_by("order__ordered_at", "pk")
        .values_list(
            "order__admission_id", "panel__name", "order__priority", "sample__accession",
            "order__ordered_at",
        )
    )  # fmt: skip
    for admission_id, panel, priority, accession, ordered_at in rows:
        out[admission_id].append(Pending(panel, priority, accession, ordered_at))
    return out


def _results(admission_ids: list[int]) -> dict[int, list[LabLine]]:
    """The latest verified or authorised value of each test in this admission."""
    latest: dict[tuple[int, str], LabLine] = {}
    rows = (
        Result.objects.filter(
            item__order__admission_id__in=admission_ids, status__in=RESULT_STATUSES
        )
        .order_by("verified_at", "pk")
        .values_list(
            "item__order__admission_id", "test__name", "value", "unit", "flag", "verified_at",
            "status",
        )
    )  # fmt: skip
    for admission_id, test, value, unit, flag, at, status in rows:
        latest[(admission_id, test)] = LabLine(
            test, value, unit, flag, at, status == ResultStatus.AUTHORISED
        )
    out: dict[int, list[LabLine]] = defaultdict(list)
    for (admission_id, _), line in latest.items():
        out[admission_id].append(line)
    for lines in out.values():
        lines.sort(key=lambda line: (not line.critical, line.test))
    return out


def _inpatients(today: dt.date, now: dt.datetime) -> dict[int, Inpatient]:
    """Every admitted patient, keyed by bed id."""
    rows = list(
        Admission.objects.filter(status=AdmissionStatus.ADMITTED, bed__isnull=False)
        .select_related("patient", "attending_doctor", "unit", "bed")
        .only(
            "number", "admitted_at", "provisional_icd10", "provisional_diagnosis",
            "bed__label", "bed__ward_id", "unit__name", "attending_doctor__full_name",
            "patient__uhid", "patient__name", "patient__sex", "patient__date_of_birth",
        )
    )  # fmt: skip
    ids = [a.pk for a in rows]
    allergies = active_allergies(a.patient_id for a in rows)
    medications, pending, results = _medications(ids, now), _pending(ids), _results(ids)
    out = {}
    for a in rows:
        p = a.patient
        out[a.bed_id] = Inpatient(
            admission_id=a.pk, number=a.number, uhid=p.uhid, name=p.name, sex=p.sex,
            age=age_text(p.date_of_birth, today), bed=a.bed.label, ward_code="",
            admitted_at=a.admitted_at, doctor=a.attending_doctor.full_name, unit=a.unit.name,
            diagnosis=f"{a.provisional_diagnosis} ({a.provisional_icd10})",
            allergies=allergies.get(p.pk, []), medications=medications.get(a.pk, []),
            pending=pending.get(a.pk, []), results=results.get(a.pk, []),
        )  # fmt: skip
    return out


def _wards(inpatients: dict[int, Inpatient]) -> tuple[dict[str, WardCensus], list[BedLine]]:
    wards = {
        w.pk: WardCensus(w.code, w.name, w.floor)
        for w in Ward.objects.filter(is_active=True).order_by("code")
    }
    statuses = dict(BedStatus.choices)
    beds = []
    for pk, label, ward_id, category, status in (
        Bed.objects.filter(ward_id__in=wards)
        .order_by("ward__code", "label")
        .values_list("pk", "label", "ward_id", "category", "status")
    ):
        ward = wards[ward_id]
        patient = inpatients.get(pk)
        if patient is not None:
            patient.ward_code = ward.code
        line = BedLine(label, ward.code, ward.name, category, statuses[status], patient)
        ward.beds.append(line)
        beds.append(line)
    return {w.code: w for w in wards.values()}, beds


def _opd_line(row, time: str, today: dt.date, token: int | None = None) -> OpdLine:
    """An appointment or a visit as the department's list shows it."""
    p = row.patient
    return OpdLine(time, row.clinic.name, p.uhid, p.name, p.sex,
                   age_text(p.date_of_birth, today), row.get_status_display(), token)  # fmt: skip


def _departments(today: dt.date) -> dict[str, DepartmentDay]:
    days: dict[str, DepartmentDay] = {}
    clinic_dept = {}
    for clinic in Clinic.objects.filter(is_active=True).select_related("department"):
        dept = clinic.department
        day = days.setdefault(dept.code, DepartmentDay(dept.code, dept.name))
        day.clinics.append(clinic.name)
        clinic_dept[clinic.pk] = day
    appointments = (
        Appointment.objects.filter(date=today, clinic_id__in=clinic_dept)
        .select_related("patient", "clinic")
        .order_by("slot_time", "seat")
    )
    for a in appointments:
        line = _opd_line(a, f"{a.slot_time:%H:%M}", today)
        clinic_dept[a.clinic_id].appointments.append(line)
    visits = (
        Visit.objects.filter(date=today, clinic_id__in=clinic_dept)
        .select_related("patient", "clinic")
        .order_by("clinic__name", "token")
    )
    for v in visits:
        line = _opd_line(v, f"{clock.local(v.arrived_at):%H:%M}", today, token=v.token)
        clinic_dept[v.clinic_id].queue.append(line)
    return days


def hospital() -> Hospital:
    """The whole hospital as it stands now."""
    now = clock.now()
    today = clock.today()
    inpatients = _inpatients(today, now)
    wards, beds = _wards(inpatients)
    return Hospital(made_at=now, wards=wards, departments=_departments(today), beds=beds)


def uhids(hospital: Hospital, location_id: str) -> list[str]:
    """Every patient a location's file names: its own, and every inpatient (bed list)."""
    kind, _, code = location_id.partition(":")
    day = hospital.departments.get(code) if kind == "opd" else None
    own = [line.uhid for line in (day.queue + day.appointments)] if day else []
    return own + [b.patient.uhid for b in hospital.beds if b.patient is not None]
