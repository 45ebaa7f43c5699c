"""The appointment pages through Django's full HTTP stack: counter booking and its slot
grid, a booking's own page, cancelling and moving, the slip, schedules, and the public
self-booking by one-time code — bad input included, and never a traceback."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from ajeya.appointments import services
from ajeya.appointments.models import (
    Appointment,
    AppointmentStatus,
    BookingChannel,
    Clinic,
    ClinicSession,
    Closure,
)
from ajeya.core import messaging
from ajeya.core.roles import Role
from ajeya.ledger.models import AccessEntry, AccessKind
from tests.appointments import factories
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 11, 30)
NEXT_MONDAY = MONDAY + dt.timedelta(days=7)
NINE = dt.time(9, 0)
BOOK = reverse("appointments:book")
SLOTS = reverse("appointments:slots")


@pytest.fixture
def session(clinic):
    return factories.session(clinic)  # Mondays 09:00-10:00, 15-minute slots of 2


@pytest.fixture
def patient(clerk):
    return PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")


def book(clerk, session, patient=None, *, day=MONDAY, at=NINE):
    return services.appointment_book(
        actor=clerk,
        patient=patient or PatientFactory(actor=clerk),
        session=session,
        date=day,
        slot_time=at,
    )


def booking(clinic, session, patient, **overrides) -> dict:
    data = {
        "uhid": patient.uhid,
        "clinic": str(clinic.pk),
        "date": MONDAY.isoformat(),
        "slot": f"{session.pk}@09:00",
        "channel": BookingChannel.COUNTER,
        "note": "",
    }
    data.update(overrides)
    return data


def text(response) -> str:
    return response.content.decode()


def radio(html: str, value: str) -> str:
    """The <input> tag of the slot grid's radio button with this value."""
    match = re.search(rf'<input[^>]*value="{re.escape(value)}"[^>]*>', html)
    assert match, f"no slot {value} in the grid"
    return match.group(0)


# -- counter booking ------------------------------------------------------------------


def test_the_booking_page_offers_the_clinics(monday_morning, clerk_client, session):
    page = clerk_client.get(BOOK)
    assert page.status_code == 200
    assert "Clinic MED-1" in text(page)
    assert 'value="2026-11-30"' in text(page)


def test_booking_at_the_counter_lands_on_the_appointment(
    monday_morning, clerk_client, clinic, session, patient
):
    response = clerk_client.post(BOOK, booking(clinic, session, patient, note="first visit"))
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("appointments:detail", args=[appointment.number])
    assert (appointment.patient, appointment.session, appointment.date) == (
        patient,
        session,
        MONDAY,
    )
    assert (appointment.slot_time, appointment.seat) == (NINE, 1)
    assert appointment.channel == BookingChannel.COUNTER
    assert appointment.booked_by.username == "clerk1"
    assert appointment.note == "first visit"

    page = clerk_client.get(response["Location"])
    content = text(page)
    assert f"Booked {appointment.number}: Kavita Joshi, Clinic MED-1, 30-11-2026 09:00." in content
    assert patient.uhid_display in content


def test_booking_by_phone_keeps_the_channel(monday_morning, clerk_client, clinic, session, patient):
    clerk_client.post(BOOK, booking(clinic, session, patient, channel=BookingChannel.PHONE))
    assert Appointment.objects.get().channel == BookingChannel.PHONE


def test_a_full_slot_is_refused_on_the_form_with_the_uhid_kept(
    monday_morning, clerk, clerk_client, clinic, session, patient
):
    book(clerk, session)
    book(clerk, session)  # the slot holds 2
    typed = patient.uhid_display  # as the clerk typed it, with its spaces
    response = clerk_client.post(BOOK, booking(clinic, session, patient, uhid=typed))
    assert response.status_code == 200
    content = text(response)
    assert "The 09:00 slot on 30-11-2026 is full. Choose another slot." in content
    assert f'value="{typed}"' in content
    assert Appointment.objects.filter(patient=patient).count() == 0
    assert Appointment.objects.count() == 2


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("", "Choose a slot from the grid."),
        ("nonsense", "That slot is not one the grid offered."),
        ("9@0900", "That slot is not one the grid offered."),
        ("@09:00", "That slot is not one the grid offered."),
    ],
)
def test_a_missing_or_garbled_slot_is_named_on_the_form(
    monday_morning, clerk_client, clinic, session, patient, slot, message
):
    response = clerk_client.post(BOOK, booking(clinic, session, patient, slot=slot))
    assert response.status_code == 200
    content = text(response)
    assert message in content
    assert f'value="{patient.uhid}"' in content
    assert Appointment.objects.count() == 0


def test_a_slot_off_the_sessions_times_is_named(
    monday_morning, clerk_client, clinic, session, patient
):
    response = clerk_client.post(
        BOOK, booking(clinic, session, patient, slot=f"{session.pk}@09:10")
    )
    assert response.status_code == 200
    assert "09:10 is not a slot of MED-1 Monday 09:00-10:00." in text(response)
    assert Appointment.objects.count() == 0


def test_a_slot_of_an_unknown_session_is_named(monday_morning, clerk_client, clinic, patient):
    response = clerk_client.post(BOOK, booking(clinic, ClinicSession(pk=999), patient))
    assert response.status_code == 200
    assert "No session 999." in text(response)
    assert Appointment.objects.count() == 0


def test_a_slot_of_another_clinic_is_refused(
    monday_morning, clerk_client, clinic, session, patient
):
    other = factories.clinic("SURG-1", dept="SURG")
    response = clerk_client.post(BOOK, booking(other, session, patient))
    assert response.status_code == 200
    assert "Choose a slot of the chosen clinic." in text(response)
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize("hhmm", ["25:00", "ab:cd"])
def test_a_slot_with_an_impossible_time_is_named_not_a_server_error(
    monday_morning, clerk_client, clinic, session, patient, hhmm
):
    response = clerk_client.post(
        BOOK, booking(clinic, session, patient, slot=f"{session.pk}@{hhmm}")
    )
    assert response.status_code == 200
    assert "That slot is not one the grid offered." in text(response)
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize("uhid", ["100099999998", "not-a-uhid"])
def test_an_unknown_uhid_is_named_on_the_form(
    monday_morning, clerk_client, clinic, session, patient, uhid
):
    response = clerk_client.post(BOOK, booking(clinic, session, patient, uhid=uhid))
    assert response.status_code == 200
    content = text(response)
    assert f"No patient has UHID {uhid}." in content
    assert f'value="{uhid}"' in content
    assert Appointment.objects.count() == 0


def test_a_second_booking_the_same_day_names_the_first(
    monday_morning, clerk, clerk_client, clinic, session, patient
):
    first = book(clerk, session, patient)
    response = clerk_client.post(
        BOOK, booking(clinic, session, patient, slot=f"{session.pk}@09:30")
    )
    assert response.status_code == 200
    assert f"Kavita Joshi already has appointment {first.number}" in text(response)
    assert Appointment.objects.count() == 1


def test_a_past_slot_is_refused(clock_at, clerk_client, clinic, session, patient):
    clock_at(2026, 11, 30, 9, 20)
    response = clerk_client.post(BOOK, booking(clinic, session, patient))
    assert response.status_code == 200
    assert "That slot is in the past." in text(response)
    assert Appointment.objects.count() == 0


def test_a_nurse_may_not_book(monday_morning, client_as, clinic, session, patient):
    nurse = client_as(Role.NURSE)
    response = nurse.post(BOOK, booking(clinic, session, patient))
    assert response.status_code == 403
    assert Appointment.objects.count() == 0


# -- the slot grid --------------------------------------------------------------------


def test_the_slot_grid_shows_free_seats_and_disables_full_and_past_slots(
    clock_at, clerk, clerk_client, clinic, session
):
    clock_at(2026, 11, 30, 8, 0)
    book(clerk, session, at=dt.time(9, 30))
    book(clerk, session, at=dt.time(9, 45))
    book(clerk, session, at=dt.time(9, 45))
    clock_at(2026, 11, 30, 9, 20)  # 09:00 and 09:15 have gone by

    response = clerk_client.get(SLOTS, {"clinic": clinic.pk, "date": "2026-11-30"})
    assert response.status_code == 200
    grid = text(response)
    assert "<html" not in grid
    assert "(3 of 8 booked)" in grid
    assert "disabled" in radio(grid, f"{session.pk}@09:00")
    assert "disabled" in radio(grid, f"{session.pk}@09:15")
    assert "disabled" not in radio(grid, f"{session.pk}@09:30")
    assert "disabled" in radio(grid, f"{session.pk}@09:45")
    labels = re.findall(r"<small>([^<]*)</small>", grid)
    assert labels == ["past", "past", "1 free", "full"]


def test_the_slot_grid_of_a_fresh_day_is_all_free(monday_morning, clerk_client, clinic, session):
    grid = text(clerk_client.get(SLOTS, {"clinic": clinic.pk, "date": "2026-12-07"}))
    assert re.findall(r"<small>([^<]*)</small>", grid) == ["2 free"] * 4
    assert "disabled" not in grid


def test_the_slot_grid_says_when_a_clinic_has_no_session(
    monday_morning, clerk_client, clinic, session
):
    grid = text(clerk_client.get(SLOTS, {"clinic": clinic.pk, "date": "2026-12-01"}))
    assert "Clinic MED-1 has no session on Tuesday 01-12-2026." in grid
    assert "<input" not in grid


def test_the_slot_grid_shows_a_closed_day(monday_morning, clerk_client, clinic, session):
    services.closure_create(
        actor=None, kind="holiday", start_date=MONDAY, end_date=MONDAY, reason="Guru Nanak Jayanti"
    )
    grid = text(clerk_client.get(SLOTS, {"clinic": clinic.pk, "date": "2026-11-30"}))
    assert "Closed: Hospital holiday — Guru Nanak Jayanti" in grid
    assert "<input" not in grid


def test_the_slot_grid_without_a_clinic_asks_for_one(monday_morning, clerk_client, session):
    grid = text(clerk_client.get(SLOTS, {"date": "2026-11-30"}))
    assert "Choose a clinic and a date to see its slots." in grid


@pytest.mark.parametrize("day", ["banana", "2026-13-45", "30-11-2026"])
def test_a_bad_date_for_the_slot_grid_is_a_clear_422(
    monday_morning, clerk_client, clinic, session, day
):
    response = clerk_client.get(SLOTS, {"clinic": clinic.pk, "date": day})
    assert response.status_code == 422
    content = text(response)
    assert f"&#x27;{day}&#x27; is not a date (YYYY-MM-DD)." in content
    assert "That could not be done" in content


def test_a_bad_date_on_the_clinics_page_is_a_clear_422(monday_morning, clerk_client):
    response = clerk_client.get(reverse("appointments:clinics"), {"date": "tomorrow"})
    assert response.status_code == 422
    assert "is not a date (YYYY-MM-DD)" in text(response)


# -- one appointment ------------------------------------------------------------------


def test_the_appointment_page_is_an_access_on_the_ledger(
    monday_morning, clerk, clerk_client, session, patient
):
    appointment = book(clerk, session, patient)
    response = clerk_client.get(reverse("appointments:detail", args=[appointment.number]))
    assert response.status_code == 200
    assert "Kavita Joshi" in text(response)
    entry = AccessEntry.objects.get(what=AccessKind.VIEWED)
    assert (entry.patient_uhid, entry.actor_username) == (patient.uhid, "clerk1")


def test_an_unknown_appointment_is_a_404_page(monday_morning, clerk_client):
    response = clerk_client.get(reverse("appointments:detail", args=["A99999999"]))
    assert response.status_code == 404
    assert "No appointment has number A99999999." in text(response)
    assert AccessEntry.objects.count() == 0


def test_cancelling_without_a_reason_is_refused_and_the_booking_stands(
    monday_morning, clerk, clerk_client, session, patient
):
    appointment = book(clerk, session, patient)
    url = reverse("appointments:cancel", args=[appointment.number])
    for reason in ("", "   ", "no"):
        response = clerk_client.post(url, {"reason": reason}, follow=True)
        assert response.redirect_chain[-1][0] == reverse(
            "appointments:detail", args=[appointment.number]
        )
        assert "Say why the appointment is cancelled (at least 5 letters)." in text(response)
        appointment.refresh_from_db()
        assert appointment.status == AppointmentStatus.BOOKED


def test_cancelling_with_a_reason_cancels(monday_morning, clerk, clerk_client, session, patient):
    appointment = book(clerk, session, patient)
    url = reverse("appointments:cancel", args=[appointment.number])
    response = clerk_client.post(url, {"reason": "patient travelling"}, follow=True)
    assert f"Appointment {appointment.number}: Cancelled." in text(response)
    assert 'id="cancel-appointment"' not in text(response)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED

    again = clerk_client.post(url, {"reason": "patient travelling"}, follow=True)
    assert f"Appointment {appointment.number} is already cancelled." in text(again)


def test_cancel_is_post_only(monday_morning, clerk, clerk_client, session, patient):
    appointment = book(clerk, session, patient)
    response = clerk_client.get(reverse("appointments:cancel", args=[appointment.number]))
    assert response.status_code == 405
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_no_show_before_the_slot_is_refused(monday_morning, clerk, clerk_client, session, patient):
    appointment = book(clerk, session, patient)
    response = clerk_client.post(
        reverse("appointments:no_show", args=[appointment.number]), follow=True
    )
    assert "The 09:00 slot has not passed yet" in text(response)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_moving_an_appointment(monday_morning, clerk, clerk_client, session, patient):
    appointment = book(clerk, session, patient)
    url = reverse("appointments:reschedule", args=[appointment.number])
    page = clerk_client.get(url)
    assert page.status_code == 200
    assert "Move appointment" in text(page)

    response = clerk_client.post(
        url,
        {"date": NEXT_MONDAY.isoformat(), "slot": f"{session.pk}@09:30", "reason": "exam day"},
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.date, appointment.slot_time) == (NEXT_MONDAY, dt.time(9, 30))
    assert appointment.status == AppointmentStatus.BOOKED


def test_moving_without_a_reason_or_into_a_full_slot_is_refused(
    monday_morning, clerk, clerk_client, session, patient
):
    appointment = book(clerk, session, patient)
    url = reverse("appointments:reschedule", args=[appointment.number])
    no_reason = clerk_client.post(
        url, {"date": NEXT_MONDAY.isoformat(), "slot": f"{session.pk}@09:30", "reason": ""}
    )
    assert no_reason.status_code == 200
    assert "This field is required." in text(no_reason)

    book(clerk, session, day=NEXT_MONDAY, at=dt.time(9, 30))
    book(clerk, session, day=NEXT_MONDAY, at=dt.time(9, 30))
    full = clerk_client.post(
        url, {"date": NEXT_MONDAY.isoformat(), "slot": f"{session.pk}@09:30", "reason": "exam day"}
    )
    assert full.status_code == 200
    assert "The 09:30 slot on 07-12-2026 is full." in text(full)

    wrong_day = clerk_client.post(
        url, {"date": "2026-12-08", "slot": f"{session.pk}@09:30", "reason": "exam day"}
    )
    assert wrong_day.status_code == 200
    assert "Clinic MED-1 has no such session on 08-12-2026." in text(wrong_day)

    appointment.refresh_from_db()
    assert (appointment.date, appointment.slot_time) == (MONDAY, NINE)


def test_the_slip_is_a_pdf_and_its_printing_is_on_the_ledger(
    monday_morning, clerk, clerk_client, session, patient
):
    appointment = book(clerk, session, patient)
    response = clerk_client.get(reverse("appointments:slip", args=[appointment.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"appointment-{appointment.number}.pdf" in response["Content-Disposition"]
    entry = AccessEntry.objects.get(what=AccessKind.PRINTED)
    assert entry.patient_uhid == patient.uhid


def test_a_clinics_day_lists_its_bookings(monday_morning, clerk, clerk_client, clinic, session):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi")
    book(clerk, session, patient)
    response = clerk_client.get(
        reverse("appointments:clinic_day", args=["med-1"]), {"date": "2026-11-30"}
    )
    assert response.status_code == 200
    assert "Kavita Joshi" in text(response)
    assert "Bookings (1)" in text(response)
    assert AccessEntry.objects.filter(what=AccessKind.LISTED).count() == 1


# -- schedules (hospital administration) ----------------------------------------------


@pytest.fixture
def admin_client(monday_morning, client_as):
    return client_as(Role.HOSPITAL_ADMIN)


SCHEDULES = reverse("appointments:schedules")


def session_data(clinic, **overrides) -> dict:
    data = {
        "form": "session",
        "session-clinic": str(clinic.pk),
        "session-doctor": "",
        "session-weekday": "0",
        "session-start_time": "09:00",
        "session-end_time": "12:00",
        "session-slot_minutes": "15",
        "session-per_slot": "4",
        "session-valid_from": "2026-12-01",
        "session-valid_until": "",
    }
    data.update({f"session-{k}": v for k, v in overrides.items()})
    return data


def test_the_schedules_page_needs_schedule_management(monday_morning, clerk_client):
    assert clerk_client.get(SCHEDULES).status_code == 403


def test_an_administrator_opens_a_clinic(admin_client):
    department = factories.department("MED")
    response = admin_client.post(
        SCHEDULES,
        {
            "form": "clinic",
            "clinic-code": "med-2",
            "clinic-name": "Medicine  Unit II",
            "clinic-department": str(department.pk),
            "clinic-room": "14",
        },
        follow=True,
    )
    assert "Clinic MED-2 opened." in text(response)
    clinic = Clinic.objects.get(code="MED-2")
    assert (clinic.name, clinic.room) == ("Medicine Unit II", "14")

    twice = admin_client.post(
        SCHEDULES,
        {
            "form": "clinic",
            "clinic-code": "MED-2",
            "clinic-name": "Another",
            "clinic-department": str(department.pk),
            "clinic-room": "15",
        },
    )
    assert twice.status_code == 200
    assert "A clinic with code MED-2 exists." in text(twice)
    assert Clinic.objects.count() == 1


def test_an_administrator_adds_a_session_and_an_overlap_is_refused(admin_client, clinic):
    response = admin_client.post(SCHEDULES, session_data(clinic), follow=True)
    assert "Session MED-1 Monday 09:00-12:00 added." in text(response)
    assert ClinicSession.objects.get().per_slot == 4

    overlap = admin_client.post(
        SCHEDULES, session_data(clinic, start_time="11:00", end_time="13:00")
    )
    assert overlap.status_code == 200
    content = text(overlap)
    assert "Overlaps the existing session MED-1 Monday 09:00-12:00" in content
    assert 'value="11:00"' in content  # what was typed is kept to correct
    assert ClinicSession.objects.count() == 1


def test_a_session_that_ends_before_it_starts_is_named(admin_client, clinic):
    response = admin_client.post(SCHEDULES, session_data(clinic, end_time="08:00"))
    assert response.status_code == 200
    assert "The session must end after it starts." in text(response)
    assert ClinicSession.objects.count() == 0


def test_a_holiday_lists_the_bookings_it_affects(admin_client, clerk, clinic, session):
    kavita = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    later = PatientFactory(actor=clerk, name="Mohan Lal")
    affected = book(clerk, session, kavita)
    book(clerk, session, later, day=NEXT_MONDAY)  # after the holiday: not affected
    response = admin_client.post(
        SCHEDULES,
        {
            "form": "closure",
            "closure-kind": "holiday",
            "closure-clinic": "",
            "closure-doctor": "",
            "closure-start_date": "2026-11-30",
            "closure-end_date": "2026-11-30",
            "closure-reason": "Guru Nanak Jayanti",
        },
    )
    assert response.status_code == 200
    content = text(response)
    assert "1 booking(s) are affected" in content
    section = content.split('id="affected"')[1].split("</section>")[0]
    assert "Bookings affected (1)" in section
    assert affected.number in section
    assert "Kavita Joshi" in section
    assert "9811122334" in section
    assert "Mohan Lal" not in section
    assert Closure.objects.get().reason == "Guru Nanak Jayanti"
    assert AccessEntry.objects.filter(what=AccessKind.LISTED, patient_uhid=kavita.uhid).exists()
    # The booking stands until a clerk moves it.
    affected.refresh_from_db()
    assert affected.status == AppointmentStatus.BOOKED


def test_a_closure_ending_before_it_starts_is_named(admin_client):
    response = admin_client.post(
        SCHEDULES,
        {
            "form": "closure",
            "closure-kind": "holiday",
            "closure-start_date": "2026-12-05",
            "closure-end_date": "2026-12-01",
            "closure-reason": "Holi",
        },
    )
    assert response.status_code == 200
    assert "The last day cannot be before the first." in text(response)
    assert Closure.objects.count() == 0


def test_a_leave_without_a_doctor_is_named(admin_client):
    response = admin_client.post(
        SCHEDULES,
        {
            "form": "closure",
            "closure-kind": "leave",
            "closure-start_date": "2026-12-01",
            "closure-end_date": "2026-12-01",
            "closure-reason": "conference",
        },
    )
    assert response.status_code == 200
    assert "Choose the doctor who is on leave." in text(response)
    assert Closure.objects.count() == 0


# -- self-booking (public) ------------------------------------------------------------

START = reverse("self_booking:start")
VERIFY = reverse("self_booking:verify")
CHOOSE = reverse("self_booking:choose")
SELF_SLOTS = reverse("self_booking:slots")
DONE = reverse("self_booking:done")
PHONE = "9811122334"


@pytest.fixture
def outbox(settings):
    settings.AJEYA_MESSAGE_BACKEND = "memory"
    messaging.outbox.clear()
    yield messaging.outbox
    messaging.outbox.clear()


@pytest.fixture
def family(clerk):
    """Two patients registered with one phone, and a stranger with another."""
    return (
        PatientFactory(actor=clerk, name="Kavita Joshi", phone=PHONE),
        PatientFactory(actor=clerk, name="Mohan Joshi", phone=PHONE),
        PatientFactory(actor=clerk, name="Stranger Singh", phone="9700000001"),
    )


def sent_code(outbox) -> str:
    phone, message = outbox[-1]
    assert phone == PHONE
    return re.match(r"(\d{6}) is your ", message).group(1)


def test_self_booking_from_phone_to_slip(monday_morning, outbox, family, clinic, session):
    mohan = family[1]
    public = Client()

    assert public.get(START).status_code == 200
    sent = public.post(START, {"phone": "98111 22334"})
    assert sent.status_code == 302
    assert sent["Location"] == VERIFY
    code = sent_code(outbox)

    # Before the code: no slots, no choosing.
    blocked = public.get(SELF_SLOTS, {"clinic": clinic.pk, "date": "2026-11-30"})
    assert blocked.status_code == 403
    assert public.get(CHOOSE)["Location"] == START

    wrong = "000000" if code != "000000" else "111111"
    refused = public.post(VERIFY, {"code": wrong})
    assert refused.status_code == 200
    assert "That code is not right (4 tries left)." in text(refused)

    verified = public.post(VERIFY, {"code": code})
    assert verified.status_code == 302
    assert verified["Location"] == CHOOSE

    choose = text(public.get(CHOOSE))
    assert "Kavita Joshi" in choose
    assert "Mohan Joshi" in choose
    assert "Stranger Singh" not in choose

    grid = public.get(SELF_SLOTS, {"clinic": clinic.pk, "date": "2026-11-30"})
    assert grid.status_code == 200
    assert "2 free" in text(grid)

    booked = public.post(
        CHOOSE,
        {
            "patient": mohan.uhid,
            "clinic": str(clinic.pk),
            "date": "2026-11-30",
            "slot": f"{session.pk}@09:15",
        },
    )
    assert booked.status_code == 302
    assert booked["Location"] == DONE
    appointment = Appointment.objects.get()
    assert appointment.patient == mohan
    assert appointment.channel == BookingChannel.ONLINE
    assert appointment.contact_phone == PHONE
    assert appointment.booked_by is None

    done = text(public.get(DONE))
    assert f"Booked: {appointment.number}" in done
    assert "Mohan Joshi" in done
    slip = public.get(DONE, {"pdf": "1"})
    assert slip["Content-Type"] == "application/pdf"
    assert slip.content.startswith(b"%PDF")


def verified_public_client(outbox) -> Client:
    public = Client()
    public.post(START, {"phone": PHONE})
    public.post(VERIFY, {"code": sent_code(outbox)})
    return public


def test_self_booking_cannot_book_a_patient_of_another_phone(
    monday_morning, outbox, family, clinic, session
):
    stranger = family[2]
    public = verified_public_client(outbox)
    response = public.post(
        CHOOSE,
        {
            "patient": stranger.uhid,
            "clinic": str(clinic.pk),
            "date": "2026-11-30",
            "slot": f"{session.pk}@09:15",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    assert Appointment.objects.count() == 0


def test_self_booking_a_full_slot_is_named(monday_morning, outbox, clerk, family, clinic, session):
    book(clerk, session, at=dt.time(9, 15))
    book(clerk, session, at=dt.time(9, 15))
    public = verified_public_client(outbox)
    response = public.post(
        CHOOSE,
        {
            "patient": family[0].uhid,
            "clinic": str(clinic.pk),
            "date": "2026-11-30",
            "slot": f"{session.pk}@09:15",
        },
    )
    assert response.status_code == 200
    assert "The 09:15 slot on 30-11-2026 is full. Choose another slot." in text(response)
    assert Appointment.objects.filter(patient=family[0]).count() == 0


def test_the_verified_phone_lapses_after_fifteen_minutes(clock_at, outbox, family, clinic, session):
    clock_at(2026, 11, 30, 8, 0)
    public = verified_public_client(outbox)
    assert public.get(CHOOSE).status_code == 200
    clock_at(2026, 11, 30, 8, 16)
    lapsed = public.get(CHOOSE, follow=True)
    assert lapsed.redirect_chain[-1][0] == START
    assert "Enter your mobile number to get a new code." in text(lapsed)
    assert public.get(SELF_SLOTS, {"clinic": clinic.pk}).status_code == 403


def test_choosing_without_a_code_sends_the_caller_to_the_start(monday_morning, outbox):
    public = Client()
    response = public.get(CHOOSE)
    assert response.status_code == 302
    assert response["Location"] == START
    assert public.get(VERIFY)["Location"] == START
    assert public.get(DONE)["Location"] == START


def test_five_wrong_codes_spend_it(monday_morning, outbox, family):
    public = Client()
    public.post(START, {"phone": PHONE})
    code = sent_code(outbox)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        response = public.post(VERIFY, {"code": wrong})
        assert f"That code is not right ({left} tries left)." in text(response)
    spent = public.post(VERIFY, {"code": code})
    assert spent.status_code == 200
    assert "Too many wrong tries. Ask for a new code." in text(spent)


def test_a_bad_phone_number_is_named(monday_morning, outbox):
    response = Client().post(START, {"phone": "12345"})
    assert response.status_code == 200
    assert "Enter the 10-digit mobile number you registered with." in text(response)
    assert outbox == []


def test_an_unregistered_phone_gets_the_same_answer_and_no_message(monday_morning, outbox):
    response = Client().post(START, {"phone": "9700000009"})
    assert response.status_code == 302
    assert response["Location"] == VERIFY
    assert outbox == []


def test_codes_are_rate_limited_per_phone(monday_morning, outbox, family):
    public = Client()
    for _ in range(3):
        assert public.post(START, {"phone": PHONE}).status_code == 302
    assert len(outbox) == 3
    refused = public.post(START, {"phone": PHONE})
    assert refused.status_code == 200
    content = text(refused)
    assert "Too many codes were sent to this number in the last hour." in content
    assert f'value="{PHONE}"' in content
    assert len(outbox) == 3


def test_self_booking_an_impossible_time_is_named_not_a_server_error(
    monday_morning, outbox, family, clinic, session
):
    public = verified_public_client(outbox)
    response = public.post(
        CHOOSE,
        {
            "patient": family[0].uhid,
            "clinic": str(clinic.pk),
            "date": "2026-11-30",
            "slot": f"{session.pk}@25:00",
        },
    )
    assert response.status_code == 200
    assert "That slot is not one the grid offered." in text(response)
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize("clinics", [2, 8])
def test_the_clinics_page_costs_the_same_queries_for_any_number_of_clinics(
    monday_morning, clerk_client, clinics, django_assert_max_num_queries
):
    for n in range(clinics):
        factories.session(factories.clinic(f"C-{n}"))
    with django_assert_max_num_queries(12):
        response = clerk_client.get(reverse("appointments:clinics") + "?date=2026-11-30")
    assert response.status_code == 200
    assert response.content.count(b'title="0 of 8"') == clinics
