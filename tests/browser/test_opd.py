"""The OPD in a real browser: the clerk gives tokens, the doctor calls and consults, the
nurse records vitals, and the waiting-hall screen follows the calls by itself.

With AJEYA_SCREENSHOTS=1 the worklist and the hall display are saved to docs/img/ for
the README."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ajeya.appointments import services as appointments
from ajeya.appointments.models import AppointmentStatus
from ajeya.core.roles import Role
from ajeya.opd import services as opd
from ajeya.opd.models import Consultation, Visit, VisitStatus, Vitals
from tests.accounts.factories import TEST_PASSWORD
from tests.appointments import factories as schedule
from tests.browser.conftest import log_in
from tests.opd import factories
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MONDAY = dt.date(2026, 11, 30)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def screenshot(page, name: str) -> None:
    """For the README, only when asked: CI writes no files."""
    if os.environ.get("AJEYA_SCREENSHOTS") == "1":
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=SCREENSHOTS / name)


@pytest.fixture
def monday_morning(clock_at):
    return clock_at(2026, 11, 30, 8, 0)


@pytest.fixture
def medicine(monday_morning):
    """MED-1 in room 12: Mondays 09:00-10:00, 15-minute slots, two patients a slot."""
    clinic = schedule.clinic("MED-1", room="12")
    schedule.session(clinic, weekday=0, start="09:00", end="10:00", per_slot=2)
    return clinic


@pytest.fixture
def doctor(make_user):
    return make_user(Role.DOCTOR, username="dr-asha", full_name="Dr. Asha Rao")


@pytest.fixture
def queue(clerk, medicine):
    """Three patients checked in at MED-1: tokens 1, 2 and 3."""
    names = ["Kavita Joshi", "Arjun Mehta", "Farida Khan"]
    return [
        factories.checked_in(clerk, medicine, PatientFactory(actor=clerk, name=name))
        for name in names
    ]


def test_clerk_checks_in_a_booked_patient_and_a_walk_in(page, clerk, medicine):
    schedule.clinic("SURG-1", room="7", dept="SURG")
    booked = PatientFactory(actor=clerk, name="Kavita Joshi")
    walk_in = PatientFactory(actor=clerk, name="Arjun Mehta")
    appointment = appointments.appointment_book(
        actor=clerk,
        patient=booked,
        session=medicine.sessions.get(),
        date=MONDAY,
        slot_time=dt.time(9, 15),
    )

    log_in(page, "clerk1", TEST_PASSWORD)
    page.get_by_role("link", name="Check-in").first.click()
    page.wait_for_url("**/opd/check-in/")
    page.fill("#id_q", booked.uhid_display)  # as printed on the slip, with its spaces
    page.press("#id_q", "Enter")
    card = page.locator("section.card")
    expect(card.locator("h2")).to_contain_text("Kavita Joshi")
    expect(card).to_contain_text(f"{appointment.number} · Clinic MED-1 · 09:15 · Booked")
    card.get_by_role("button", name="Arrived: give token").click()

    expect(page.locator("#token-number")).to_have_text("1")
    expect(page.locator(".token-card")).to_contain_text("room 12")
    visit = Visit.objects.get(patient=booked)
    assert (visit.token, visit.clinic, visit.date) == (1, medicine, MONDAY)
    assert visit.status == VisitStatus.WAITING
    assert visit.appointment == appointment
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED

    page.get_by_role("link", name="Next patient").click()
    page.fill("#id_q", walk_in.uhid)
    page.press("#id_q", "Enter")
    expect(page.locator("section.card")).to_contain_text("No appointment today.")
    page.select_option("#id_clinic", label="Clinic MED-1 (MED-1)")
    page.click("#walk-in")
    expect(page.locator("#token-number")).to_have_text("2")
    visit = Visit.objects.get(patient=walk_in)
    assert (visit.token, visit.clinic, visit.appointment) == (2, medicine, None)


def test_doctor_calls_the_next_token_and_writes_the_consultation(page, doctor, medicine, queue):
    log_in(page, "dr-asha", TEST_PASSWORD)
    page.get_by_role("link", name="OPD").first.click()
    page.locator("tr", has_text="Clinic MED-1").get_by_role("link", name="Queue").click()
    page.wait_for_url("**/opd/clinics/MED-1/")
    expect(page.locator("main")).to_contain_text("3 waiting · 0 set aside · 0 seen")

    page.click("#call-next")
    called = page.locator("section.called")
    expect(called).to_have_count(1)
    expect(called.locator("h2")).to_contain_text("Token 1: Kavita Joshi")
    expect(page.locator(".messages")).to_contain_text("Token 1 called to room 12.")
    expect(page.locator("table.list tbody tr")).to_have_count(2)  # tokens 2 and 3 wait
    screenshot(page, "opd-worklist.png")

    called.get_by_role("link", name="Consultation").click()
    page.wait_for_url(f"**/opd/visits/{queue[0].pk}/consult/")
    page.fill("#id_complaints", "Fever and cough for 3 days")
    page.fill("#id_examination", "Crepitations right base")
    diagnosis = page.locator("#id_diagnosis_1")
    options = page.locator("#icd10-options option")
    diagnosis.press_sequentially("pneum")
    expect(options.first).to_be_attached()  # the datalist filled from the ICD-10 search
    expect(page.locator("#icd10-options option[value^='J18 ']")).to_be_attached()
    diagnosis.press_sequentially(" unspec")
    pick = page.locator("#icd10-options option[value='J18.9 Pneumonia, unspecified']")
    expect(pick).to_be_attached()
    diagnosis.fill(pick.get_attribute("value"))
    page.fill("#id_rx-0-drug", "Amoxicillin")
    page.fill("#id_rx-0-dose", "500 mg")
    page.select_option("#id_rx-0-route", "oral")
    page.select_option("#id_rx-0-frequency", "TDS")
    page.fill("#id_rx-0-duration_days", "5")
    page.click("#save-consultation")

    page.wait_for_url(f"**/opd/visits/{queue[0].pk}/")
    expect(page.locator(".messages")).to_contain_text("Consultation saved for token 1.")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("J18.9 Pneumonia, unspecified")
    expect(facts).to_contain_text("Amoxicillin 500 mg · Oral · TDS \N{MULTIPLICATION SIGN} 5 days")
    consultation = Consultation.objects.get(visit=queue[0])
    assert consultation.doctor == doctor
    assert consultation.complaints == "Fever and cough for 3 days"
    assert [d.icd10_code for d in consultation.diagnoses.all()] == ["J18.9"]
    (rx,) = consultation.prescriptions.all()
    assert (rx.drug, rx.dose, rx.route, rx.frequency, rx.duration_days) == (
        "Amoxicillin",
        "500 mg",
        "oral",
        "TDS",
        5,
    )
    queue[0].refresh_from_db()
    assert queue[0].status == VisitStatus.DONE

    response = page.request.get(page.locator("#print-prescription").get_attribute("href"))
    assert response.ok
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_nurse_is_told_the_range_of_an_absurd_temperature(page, make_user, medicine, queue):
    make_user(Role.NURSE, username="sr-mary", full_name="Sr. Mary Thomas")
    log_in(page, "sr-mary", TEST_PASSWORD)
    page.goto("/opd/clinics/MED-1/")
    page.locator("tr", has_text="Kavita Joshi").get_by_role("link", name="record").click()
    page.wait_for_url(f"**/opd/visits/{queue[0].pk}/vitals/")
    expect(page.locator("h1")).to_have_text("Vitals: token 1, Kavita Joshi")

    page.fill("#id_temperature_c", "400")
    page.fill("#id_pulse_per_min", "96")
    page.click("#save-vitals")
    error = page.locator(".has-error .error")
    expect(error).to_have_text(
        "Temperature 400 °C is outside 25 to 45 °C: check the reading and the unit."
    )
    expect(page.locator("#id_pulse_per_min")).to_have_value("96")
    assert Vitals.objects.count() == 0

    page.fill("#id_temperature_c", "38.2")
    page.click("#save-vitals")
    page.wait_for_url("**/opd/clinics/MED-1/")
    expect(page.locator(".messages")).to_contain_text("Vitals recorded for token 1.")
    expect(page.locator("tr", has_text="Kavita Joshi")).to_contain_text("38.2 °C")
    vitals = Vitals.objects.get()
    assert vitals.visit == queue[0]
    assert (vitals.temperature_c, vitals.pulse_per_min) == (Decimal("38.2"), 96)
    assert vitals.recorded_by.username == "sr-mary"


def test_waiting_hall_display_follows_the_calls_without_names(page, doctor, medicine, queue):
    opd.visit_call_next(actor=doctor, clinic=medicine)

    page.goto("/opd/display/")
    row = page.locator("#board tbody tr", has_text="Clinic MED-1")
    expect(row.locator(".room")).to_have_text("12")
    expect(row.locator(".now")).to_have_text("1")
    expect(row.locator(".next")).to_have_text("2 3")
    html = page.content()
    for visit in queue:
        assert visit.patient.name not in html
        assert visit.patient.uhid not in html
    screenshot(page, "opd-display.png")

    factories.consult(doctor, queue[0])
    opd.visit_call_next(actor=doctor, clinic=medicine)
    expect(row.locator(".now")).to_have_text("2", timeout=8_000)  # htmx polls every 5 s
    expect(row.locator(".next")).to_have_text("3")
    assert "Kavita Joshi" not in page.content()
