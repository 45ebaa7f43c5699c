"""Clerks and doctors at the same moment on PostgreSQL: capacity holds, tokens are
unique, and one token is never called to two rooms."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from ajeya.appointments import services
from ajeya.appointments.models import Appointment
from ajeya.core.errors import Conflict
from ajeya.core.roles import Role
from ajeya.opd import services as opd
from ajeya.opd.models import Visit, VisitStatus
from tests.appointments import factories
from tests.conftest import run_concurrently
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MONDAY = dt.date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time by design")


def _race(work, threads: int) -> tuple[list, list[BaseException]]:
    results: list = []
    errors = run_concurrently(lambda n: results.append(work(n)), threads)
    return results, errors


@pytest.mark.parametrize(("seats", "clerks"), [(1, 2), (3, 8)])
def test_the_last_seats_go_to_exactly_as_many_clerks(clock_at, make_user, seats, clerks):
    clock_at(2026, 11, 30, 8, 0)
    desks = [make_user(Role.REGISTRATION_CLERK, username=f"desk{n}") for n in range(clerks)]
    session = factories.session(factories.clinic(), per_slot=seats)
    patients = [PatientFactory(actor=desks[0]) for _ in range(clerks)]

    def book(n: int):
        return services.appointment_book(
            actor=desks[n],
            patient=patients[n],
            session=session,
            date=MONDAY,
            slot_time=dt.time(9, 0),
        )

    booked, refused = _race(book, clerks)
    assert len(booked) == seats
    assert len(refused) == clerks - seats
    assert all(isinstance(e, Conflict) and e.code == "slot_full" for e in refused), refused
    assert all("Choose another slot" in e.message for e in refused)
    rows = Appointment.objects.filter(session=session, date=MONDAY, slot_time=dt.time(9, 0))
    assert sorted(rows.values_list("seat", flat=True)) == list(range(1, seats + 1))


def test_tokens_are_unique_and_consecutive_under_a_rush(clock_at, make_user):
    clock_at(2026, 11, 30, 8, 0)
    clinic = factories.clinic()
    counters = [make_user(Role.REGISTRATION_CLERK, username=f"counter{n}") for n in range(8)]
    patients = [PatientFactory(actor=counters[0]) for _ in range(8)]

    visits, errors = _race(
        lambda n: opd.visit_check_in(actor=counters[n], patient=patients[n], clinic=clinic), 8
    )
    assert errors == []
    assert sorted(v.token for v in visits) == list(range(1, 9))


def test_two_doctors_calling_next_never_get_the_same_token(clock_at, make_user, clerk):
    clock_at(2026, 11, 30, 8, 0)
    clinic = factories.clinic()
    for _ in range(3):
        opd.visit_check_in(actor=clerk, patient=PatientFactory(actor=clerk), clinic=clinic)
    doctors = [make_user(Role.DOCTOR, username=f"doc{n}") for n in range(4)]

    called, errors = _race(lambda n: opd.visit_call_next(actor=doctors[n], clinic=clinic), 4)
    assert sorted(v.token for v in called) == [1, 2, 3]
    assert len(errors) == 1
    assert isinstance(errors[0], Conflict)
    assert errors[0].code == "queue_empty"
    in_room = Visit.objects.filter(status=VisitStatus.IN_CONSULTATION)
    assert len({v.called_by_id for v in in_room}) == 3


def test_mixed_queue_work_at_one_clinic_never_deadlocks(clock_at, make_user, clerk):
    """Check-ins (walk-in and booked), calls, vitals and transfers at the same moment: the
    ledger's lock is always the last a transaction takes, so no request fails with a
    deadlock; only the business refusals (an empty queue, a busy doctor) may come back."""
    clock_at(2026, 11, 30, 8, 0)
    clinic, other = factories.clinic(), factories.clinic("SURG-1", dept="SURG")
    session = factories.session(clinic, per_slot=10)
    nurse = make_user(Role.NURSE, username="rush-nurse")
    doctors = [make_user(Role.DOCTOR, username=f"rush-doc{n}") for n in range(2)]
    waiting = [
        opd.visit_check_in(actor=clerk, patient=PatientFactory(actor=clerk), clinic=clinic)
        for _ in range(4)
    ]
    booked = [
        services.appointment_book(
            actor=clerk,
            patient=PatientFactory(actor=clerk),
            session=session,
            date=MONDAY,
            slot_time=dt.time(9, 0),
        )
        for _ in range(2)
    ]
    walk_ins = [PatientFactory(actor=clerk) for _ in range(2)]

    work = [
        lambda: opd.visit_check_in(actor=clerk, patient=walk_ins[0], clinic=clinic),
        lambda: opd.visit_check_in(actor=clerk, patient=walk_ins[1], clinic=clinic),
        lambda: opd.visit_check_in(actor=clerk, patient=booked[0].patient, appointment=booked[0]),
        lambda: opd.visit_check_in(actor=clerk, patient=booked[1].patient, appointment=booked[1]),
        lambda: opd.visit_call_next(actor=doctors[0], clinic=clinic),
        lambda: opd.visit_call_next(actor=doctors[1], clinic=clinic),
        lambda: opd.vitals_record(actor=nurse, visit=waiting[3], temperature_c="37.2"),
        lambda: opd.visit_transfer(
            actor=nurse, visit=waiting[2], to_clinic=other, reason="needs a surgeon"
        ),
    ]
    for _ in range(3):  # a few rounds: a deadlock is a matter of timing
        _, errors = _race(lambda n: work[n](), len(work))
        assert [e for e in errors if not isinstance(e, Conflict)] == []
        waiting = [
            opd.visit_check_in(actor=clerk, patient=PatientFactory(actor=clerk), clinic=clinic)
            for _ in range(4)
        ]
        walk_ins[:] = [PatientFactory(actor=clerk) for _ in range(2)]
        booked = [
            services.appointment_book(
                actor=clerk,
                patient=PatientFactory(actor=clerk),
                session=session,
                date=MONDAY,
                slot_time=dt.time(9, 15),
            )
            for _ in range(2)
        ]
