"""The doctor books the follow-up a consultation asks for, from the visit page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from ajeya.appointments.models import Appointment, BookingChannel
from ajeya.core.roles import Role
from ajeya.ledger.models import LedgerEntry
from tests.appointments import factories as appointment_factories
from tests.opd import factories

pytestmark = pytest.mark.django_db

NEXT_MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def seen(clock_at, clerk, make_user):
    clock_at(2026, 11, 30, 8, 0)
    clinic = appointment_factories.clinic()
    session = appointment_factories.session(clinic)
    doctor = make_user(Role.DOCTOR, username="fu-doctor")
    visit = factories.called(clerk, doctor, clinic)
    factories.consult(doctor, visit, follow_up_on=NEXT_MONDAY)
    return doctor, visit, session


def test_the_visit_page_offers_the_follow_up_day_and_books_it(client, seen):
    doctor, visit, session = seen
    client.force_login(doctor)
    page = client.get(reverse("opd:visit", args=[visit.pk]))
    assert b"Book the follow-up on Monday 07-12-2026" in page.content
    response = client.post(
        reverse("opd:follow_up", args=[visit.pk]), {"slot": f"{session.pk}@09:15"}, follow=True
    )
    appointment = Appointment.objects.get()
    assert (appointment.date, appointment.slot_time) == (NEXT_MONDAY, dt.time(9, 15))
    assert appointment.channel == BookingChannel.FOLLOW_UP
    assert appointment.booked_by == doctor
    assert f"Follow-up booked: {appointment.number}".encode() in response.content
    entry = LedgerEntry.objects.get(subject_id=appointment.number)
    assert entry.actor_id == doctor.pk


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("", "Choose a slot from the grid."),
        ("nonsense", "That slot is not one the grid offered."),
        ("7@25:00", "That slot is not one the grid offered."),
    ],
)
def test_a_missing_or_bad_slot_is_named_and_nothing_is_booked(client, seen, slot, message):
    doctor, visit, _ = seen
    client.force_login(doctor)
    response = client.post(reverse("opd:follow_up", args=[visit.pk]), {"slot": slot}, follow=True)
    assert message.encode() in response.content
    assert Appointment.objects.count() == 0


def test_a_slot_of_another_clinic_is_refused(client, seen):
    doctor, visit, _ = seen
    elsewhere = appointment_factories.session(
        appointment_factories.clinic("ENT-1", dept="ENT"), start="11:00", end="12:00"
    )
    client.force_login(doctor)
    response = client.post(
        reverse("opd:follow_up", args=[visit.pk]), {"slot": f"{elsewhere.pk}@11:00"}, follow=True
    )
    assert b"A follow-up is booked in the same clinic." in response.content
    assert Appointment.objects.count() == 0


def test_the_follow_up_is_booked_on_the_day_asked_for(seen):
    from ajeya.core.errors import ValidationFailed
    from ajeya.opd import selectors, services

    doctor, visit, session = seen
    with pytest.raises(ValidationFailed, match="on the day the consultation asked for"):
        services.follow_up_book(
            actor=doctor,
            consultation=selectors.consultation_for(visit),
            session=session,
            date=NEXT_MONDAY + dt.timedelta(days=7),
            slot_time=dt.time(9, 0),
        )
    assert Appointment.objects.count() == 0
