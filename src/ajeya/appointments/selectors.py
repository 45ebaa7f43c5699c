"""Reads for scheduling: the slots of a day, closures, overlaps, and booking lists."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from ajeya.appointments.models import (
    ACTIVE_STATUSES,
    Appointment,
    Clinic,
    ClinicSession,
    Closure,
    ClosureKind,
)
from ajeya.core import clock
from ajeya.core.errors import NotFound


@dataclass(frozen=True)
class Slot:
    session: ClinicSession
    time: dt.time
    capacity: int
    booked: int
    past: bool

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)

    @property
    def bookable(self) -> bool:
        return self.free > 0 and not self.past


@dataclass(frozen=True)
class SessionDay:
    session: ClinicSession
    day: dt.date
    closure: Closure | None
    slots: list[Slot]

    @property
    def capacity(self) -> int:
        return sum(s.capacity for s in self.slots)

    @property
    def booked(self) -> int:
        return sum(s.booked for s in self.slots)


def clinic_get(code: str) -> Clinic:
    clinic = Clinic.objects.select_related("department").filter(code=code.upper()).first()
    if clinic is None:
        raise NotFound(f"No clinic has code {code}.")
    return clinic


def clinics_active() -> QuerySet[Clinic]:
    return Clinic.objects.filter(is_active=True).select_related("department")


def session_get(pk: int) -> ClinicSession:
    session = ClinicSession.objects.select_related("clinic", "doctor").filter(pk=pk).first()
    if session is None:
        raise NotFound(f"No session {pk}.")
    return session


def appointment_get(number: str) -> Appointment:
    appointment = (
        Appointment.objects.select_related("patient", "clinic", "session", "booked_by")
        .filter(number=number.strip().upper())
        .first()
    )
    if appointment is None:
        raise NotFound(f"No appointment has number {number}.")
    return appointment


def describe_validity(session: ClinicSession) -> str:
    until = f"until {session.valid_until:%d-%m-%Y}" if session.valid_until else "no end date"
    return f"from {session.valid_from:%d-%m-%Y}, {until}"


def _validity_overlaps(valid_from: dt.date, valid_until: dt.date | None) -> Q:
    q = Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from)
    if valid_until is not None:
        q &= Q(valid_from__lte=valid_until)
    return q


def overlapping_session(
    *,
    clinic: Clinic,
    doctor,
    weekday: int,
    start_time: dt.time,
    end_time: dt.time,
    valid_from: dt.date,
    valid_until: dt.date | None,
    exclude: ClinicSession | None = None,
) -> ClinicSession | None:
    """A session that would run at the same time: in the same clinic for the same doctor
    (or both for no named doctor), or for the same doctor anywhere."""
    same_seat = Q(clinic=clinic) & (Q(doctor=doctor) if doctor else Q(doctor__isnull=True))
    who = same_seat | Q(doctor=doctor) if doctor else same_seat
    candidates = ClinicSession.objects.filter(
        who,
        _validity_overlaps(valid_from, valid_until),
        weekday=weekday,
        start_time__lt=end_time,
        end_time__gt=start_time,
    ).select_related("clinic")
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    return candidates.first()


def _closures_between(first: dt.date, last: dt.date) -> list[Closure]:
    return list(Closure.objects.filter(start_date__lte=last, end_date__gte=first))


def _closure_for(session: ClinicSession, day: dt.date, closures: list[Closure]) -> Closure | None:
    for closure in closures:
        if not closure.start_date <= day <= closure.end_date:
            continue
        if (
            closure.kind == ClosureKind.HOLIDAY
            or (closure.kind == ClosureKind.CLINIC and closure.clinic_id == session.clinic_id)
            or (
                closure.kind == ClosureKind.LEAVE
                and session.doctor_id is not None
                and closure.doctor_id == session.doctor_id
            )
        ):
            return closure
    return None


def closure_on(session: ClinicSession, day: dt.date) -> Closure | None:
    return _closure_for(session, day, _closures_between(day, day))


def sessions_on(clinic: Clinic, day: dt.date) -> list[ClinicSession]:
    return [
        s
        for s in clinic.sessions.select_related("doctor", "clinic").filter(
            _validity_overlaps(day, day), weekday=day.weekday()
        )
        if s.runs_on(day)
    ]


def _session_days(sessions, day: dt.date, closures, booked: Counter) -> list[SessionDay]:
    now = clock.local(clock.now())
    days = []
    for session in sessions:
        closure = _closure_for(session, day, closures)
        slots = [
            Slot(
                session=session,
                time=t,
                capacity=session.per_slot,
                booked=booked[(session.pk, t)],
                past=(day, t) < (now.date(), now.time()),
            )
            for t in session.slot_times()
        ]
        days.append(SessionDay(session, day, closure, [] if closure else slots))
    return days


def _booked(day: dt.date, **where) -> Counter:
    return Counter(
        Appointment.objects.filter(date=day, status__in=ACTIVE_STATUSES, **where).values_list(
            "session_id", "slot_time"
        )
    )


def clinic_day(clinic: Clinic, day: dt.date) -> list[SessionDay]:
    """Every session of a clinic on a day, with each slot's capacity and bookings."""
    return _session_days(
        sessions_on(clinic, day), day, _closures_between(day, day), _booked(day, clinic=clinic)
    )


def clinics_day(day: dt.date) -> list[tuple[Clinic, list[SessionDay]]]:
    """The same for every active clinic, in four queries however many clinics there are."""
    clinics = list(clinics_active().order_by("code"))
    sessions: dict[int, list[ClinicSession]] = {}
    for session in (
        ClinicSession.objects.filter(
            _validity_overlaps(day, day), weekday=day.weekday(), clinic__is_active=True
        )
        .select_related("doctor", "clinic")
        .order_by("start_time")
    ):
        sessions.setdefault(session.clinic_id, []).append(session)
    closures, booked = _closures_between(day, day), _booked(day)
    return [(c, _session_days(sessions.get(c.pk, []), day, closures, booked)) for c in clinics]


def bookings_affected_by(closure: Closure) -> QuerySet[Appointment]:
    q = Appointment.objects.filter(
        date__gte=closure.start_date, date__lte=closure.end_date, status__in=ACTIVE_STATUSES
    )
    if closure.kind == ClosureKind.CLINIC:
        q = q.filter(clinic_id=closure.clinic_id)
    elif closure.kind == ClosureKind.LEAVE:
        q = q.filter(session__doctor_id=closure.doctor_id)
    return q.select_related("patient", "clinic").order_by("date", "slot_time")


def appointments_for_day(clinic: Clinic, day: dt.date) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(clinic=clinic, date=day)
        .select_related("patient", "session")
        .order_by("slot_time", "seat")
    )


def patient_appointments(patient) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(patient=patient)
        .select_related("clinic")
        .order_by("-date", "-slot_time")
    )


def upcoming_closures(today: dt.date | None = None) -> QuerySet[Closure]:
    today = today or clock.today()
    return Closure.objects.filter(end_date__gte=today).select_related("clinic", "doctor")
