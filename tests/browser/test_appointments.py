"""Appointments in a real browser: a clerk books at the counter and prints the slip, a
patient books online with a code sent to their phone, and the hospital administrator
records a holiday and sees the bookings it hits."""

from __future__ import annotations

import datetime as dt

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from ajeya.appointments import services as appointments
from ajeya.appointments.models import (
    Appointment,
    AppointmentStatus,
    BookingChannel,
    Closure,
    ClosureKind,
)
from ajeya.core import messaging
from ajeya.core.roles import Role
from tests.accounts.factories import TEST_PASSWORD
from tests.appointments import factories as schedule
from tests.browser.conftest import log_in
from tests.conftest import enrolled_device
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEXT_MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def monday_morning(clock_at):
    return clock_at(2026, 11, 30, 8, 0)


@pytest.fixture
def medicine(monday_morning):
    """MED-1 in room 12: Mondays 09:00-10:00, 15-minute slots, two patients a slot."""
    clinic = schedule.clinic("MED-1", room="12")
    schedule.session(clinic, weekday=0, start="09:00", end="10:00", per_slot=2)
    return clinic


def test_clerk_books_at_the_counter_and_prints_the_slip(page, clerk, medicine):
    schedule.clinic("SURG-1", room="7", dept="SURG")
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    other = PatientFactory(actor=clerk, name="Arjun Mehta")
    appointments.appointment_book(
        actor=clerk,
        patient=other,
        session=medicine.sessions.get(),
        date=NEXT_MONDAY,
        slot_time=dt.time(9, 0),
    )

    log_in(page, "clerk1", TEST_PASSWORD)
    page.goto(f"/patients/{patient.uhid}/")
    page.get_by_role("link", name="Book appointment").click()
    page.wait_for_url("**/appointments/book/**")
    expect(page.locator("#id_uhid")).to_have_value(patient.uhid)

    page.select_option("#id_clinic", label="Clinic MED-1 (MED-1)")
    grid = page.locator("#slot-grid")
    expect(grid.locator("legend")).to_contain_text("(0 of 8 booked)")  # today, via htmx
    page.fill("#id_date", NEXT_MONDAY.isoformat())
    expect(grid.locator("legend")).to_contain_text("(1 of 8 booked)")  # the chosen day's
    expect(grid.locator("label.slot", has_text="09:00")).to_contain_text("1 free")
    grid.locator("label.slot", has_text="09:30").click()
    page.click("#book")

    page.wait_for_url("**/appointments/A*/")
    appointment = Appointment.objects.get(patient=patient)
    expect(page.locator("h1")).to_contain_text(f"Appointment {appointment.number}")
    expect(page.locator(".messages")).to_contain_text(
        f"Booked {appointment.number}: Kavita Joshi, Clinic MED-1, 07-12-2026 09:30."
    )
    assert (appointment.clinic, appointment.date) == (medicine, NEXT_MONDAY)
    assert appointment.slot_time == dt.time(9, 30)
    assert appointment.channel == BookingChannel.COUNTER
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.booked_by == clerk

    slip = page.locator("#print-appointment").get_attribute("href")
    response = page.request.get(slip)
    assert response.ok
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


@pytest.fixture
def outbox(settings):
    settings.AJEYA_MESSAGE_BACKEND = "memory"
    messaging.outbox.clear()
    yield messaging.outbox
    messaging.outbox.clear()


def test_patient_books_online_with_a_code_sent_to_the_phone(page, clerk, medicine, outbox):
    mother = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    PatientFactory(actor=clerk, name="Rohan Joshi", phone="9811122334")

    page.goto("/book/")
    page.fill("#id_phone", "98111 22334")
    page.click("#send-code")
    page.wait_for_url("**/book/verify/")
    (phone, text), *_ = outbox
    assert phone == "9811122334"
    page.fill("#id_code", text.split()[0])
    page.click("#verify-code")

    page.wait_for_url("**/book/choose/")
    page.get_by_label(f"Kavita Joshi ({mother.uhid_display})").check()
    page.fill("#id_date", NEXT_MONDAY.isoformat())
    page.select_option("#id_clinic", label="Clinic MED-1 (MED-1)")
    slot = page.locator("#slot-grid label.slot", has_text="09:15")
    expect(slot).to_contain_text("2 free")
    slot.click()
    page.click("#self-book")

    page.wait_for_url("**/book/done/")
    appointment = Appointment.objects.get()
    expect(page.locator("h1")).to_have_text(f"Booked: {appointment.number}")
    expect(page.locator("dl.facts")).to_contain_text("Monday 07-12-2026, 09:15")
    assert appointment.patient == mother
    assert (appointment.date, appointment.slot_time) == (NEXT_MONDAY, dt.time(9, 15))
    assert appointment.channel == BookingChannel.ONLINE
    assert appointment.contact_phone == "9811122334"
    assert appointment.booked_by is None


def test_admin_records_a_holiday_and_sees_the_bookings_it_hits(page, make_user, clerk, medicine):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    booked = appointments.appointment_book(
        actor=clerk,
        patient=patient,
        session=medicine.sessions.get(),
        date=NEXT_MONDAY,
        slot_time=dt.time(9, 30),
    )
    admin = make_user(Role.HOSPITAL_ADMIN, username="msoffice", full_name="Dr. Meena Iyer")
    device = enrolled_device(admin)

    log_in(page, "msoffice", TEST_PASSWORD)
    page.wait_for_url("**/accounts/two-factor/**")
    # The enrolment spent this 30-second step's code: the app's next one is accepted.
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=1)
    page.fill("#id_token", f"{code:06d}")
    page.press("#id_token", "Enter")
    page.wait_for_url(lambda url: "two-factor" not in url)
    expect(page.locator(".badge.ok")).to_have_text("2FA")

    page.get_by_role("link", name="Appointments").first.click()
    page.get_by_role("link", name="Schedules, leaves and holidays").click()
    page.wait_for_url("**/appointments/schedules/")
    form = page.locator("#closure-form")
    form.locator("#id_closure-kind").select_option(ClosureKind.HOLIDAY)
    form.locator("#id_closure-start_date").fill(NEXT_MONDAY.isoformat())
    form.locator("#id_closure-end_date").fill(NEXT_MONDAY.isoformat())
    form.locator("#id_closure-reason").fill("Guru Nanak Jayanti")
    form.get_by_role("button", name="Record closure").click()

    affected = page.locator("#affected")
    expect(affected.locator("h2")).to_have_text("Bookings affected (1)")
    row = affected.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(booked.number)
    expect(row).to_contain_text("Kavita Joshi")
    expect(row).to_contain_text("07-12-2026")
    expect(row).to_contain_text("9811122334")
    expect(page.locator(".messages")).to_contain_text("1 booking(s) are affected")
    closure = Closure.objects.get()
    assert closure.kind == ClosureKind.HOLIDAY
    assert (closure.start_date, closure.end_date) == (NEXT_MONDAY, NEXT_MONDAY)
    assert closure.reason == "Guru Nanak Jayanti"
    assert closure.created_by == admin
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.BOOKED  # stands until a clerk moves it
