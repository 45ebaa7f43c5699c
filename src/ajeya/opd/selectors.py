"""Reads for the outpatient department: the day's queue, the hall display, a visit,
a patient's visit history, and admission advice for the wards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from ajeya.appointments.models import Clinic
from ajeya.core import clock
from ajeya.core.errors import NotFound
from ajeya.opd.models import Consultation, Visit, VisitStatus, Vitals


@dataclass(frozen=True)
class Queue:
    clinic: Clinic
    day: dt.date
    called: list[Visit]
    waiting: list[Visit]
    skipped: list[Visit]
    finished: list[Visit]


def visit_get(pk: int) -> Visit:
    visit = (
        Visit.objects.select_related("patient", "clinic", "appointment", "called_by")
        .filter(pk=pk)
        .first()
    )
    if visit is None:
        raise NotFound(f"No visit {pk}.")
    return visit


def queue(clinic: Clinic, day: dt.date | None = None) -> Queue:
    """One query for the clinic's whole day, sorted into what the doctor needs."""
    day = day or clock.today()
    visits = list(
        Visit.objects.filter(clinic=clinic, date=day)
        .select_related("patient", "called_by", "appointment")
        .prefetch_related(
            Prefetch("vitals", queryset=Vitals.objects.order_by("recorded_at"), to_attr="taken")
        )
        .order_by("token")
    )
    return Queue(
        clinic=clinic,
        day=day,
        called=[v for v in visits if v.status == VisitStatus.IN_CONSULTATION],
        waiting=[v for v in visits if v.status == VisitStatus.WAITING and not v.skipped],
        skipped=[v for v in visits if v.status == VisitStatus.WAITING and v.skipped],
        finished=[
            v for v in visits if v.status not in (VisitStatus.WAITING, VisitStatus.IN_CONSULTATION)
        ],
    )


@dataclass(frozen=True)
class DisplayRow:
    clinic_code: str
    clinic_name: str
    room: str
    now_calling: list[int]
    next_tokens: list[int]
    waiting: int


def display(clinic_codes: list[str], day: dt.date | None = None) -> list[DisplayRow]:
    """What the waiting-hall screen shows: token numbers and rooms, never a name."""
    day = day or clock.today()
    clinics = Clinic.objects.filter(is_active=True)
    if clinic_codes:
        clinics = clinics.filter(code__in=[c.upper() for c in clinic_codes])
    clinics = list(clinics.order_by("code"))
    rows = (
        Visit.objects.filter(
            clinic__in=clinics,
            date=day,
            status__in=[VisitStatus.WAITING, VisitStatus.IN_CONSULTATION],
        )
        .order_by("token")
        .values_list("clinic_id", "token", "status", "skipped")
    )
    calling: dict[int, list[int]] = {}
    waiting: dict[int, list[int]] = {}
    for clinic_id, token, status, skipped in rows:
        if status == VisitStatus.IN_CONSULTATION:
            calling.setdefault(clinic_id, []).append(token)
        elif not skipped:
            waiting.setdefault(clinic_id, []).append(token)
    return [
        DisplayRow(
            clinic_code=c.code,
            clinic_name=c.name,
            room=c.room,
            now_calling=calling.get(c.pk, []),
            next_tokens=waiting.get(c.pk, [])[:5],
            waiting=len(waiting.get(c.pk, [])),
        )
        for c in clinics
    ]


def patient_visits(patient) -> QuerySet[Visit]:
    """A patient's visits, newest first, with everything the timeline shows."""
    return (
        Visit.objects.filter(patient=patient)
        .select_related("clinic", "appointment", "consultation__doctor", "transferred_from__clinic")
        .prefetch_related(
            "vitals",
            "consultation__diagnoses",
            "consultation__prescriptions",
            "consultation__orders",
        )
        .order_by("-date", "-arrived_at")
    )


def consultation_for(visit: Visit) -> Consultation | None:
    return (
        Consultation.objects.filter(visit=visit)
        .select_related("doctor", "visit__patient", "visit__clinic")
        .prefetch_related("diagnoses", "prescriptions", "orders")
        .first()
    )


def admission_advices(
    since: dt.date | None = None, *, open_only: bool = False
) -> QuerySet[Consultation]:
    """Patients a doctor advised to admit: what the inpatient desk works from
    (`open_only`: those not admitted on that advice yet)."""
    q = Consultation.objects.filter(admit_advised=True)
    if since is not None:
        q = q.filter(visit__date__gte=since)
    if open_only:
        q = q.filter(admission__isnull=True)
    return (
        q.select_related("visit__patient", "visit__clinic", "doctor")
        .prefetch_related(Prefetch("diagnoses"))
        .order_by("-completed_at")
    )


def admission_advice_get(pk) -> Consultation:
    """An open admission advice, or NotFound: the admission desk sees nothing else of a
    consultation."""
    found = admission_advices(open_only=True).filter(pk=pk if str(pk).isdigit() else 0).first()
    if found is None:
        raise NotFound("No open advice to admit with that number.")
    return found
