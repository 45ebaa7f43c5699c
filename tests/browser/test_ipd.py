"""The wards in a real browser: the admission desk admits on OPD advice, the nurse
charts, the doctor moves and discharges, housekeeping frees the bed, and the bed board
follows it all by itself.

With AJEYA_SCREENSHOTS=1 a ward's bed board and an admission's chart are saved to
docs/img/ for the README."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ajeya.core.roles import Role
from ajeya.ipd import services as ipd
from ajeya.ipd.models import (
    Admission,
    AdmissionSource,
    AdmissionStatus,
    Bed,
    BedStatus,
    DoseOutcome,
    IntakeOutput,
    Observation,
)
from tests.accounts.factories import TEST_PASSWORD
from tests.appointments import factories as schedule
from tests.browser.conftest import log_in
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
BOARD_POLL_MS = 12_000  # the board asks for itself every 10 s


def screenshot(page, name: str) -> None:
    """For the README, only when asked: CI writes no files."""
    if os.environ.get("AJEYA_SCREENSHOTS") == "1":
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=SCREENSHOTS / name)


def make_ward(code: str, name: str, rooms: dict[str, list[str]]) -> list[Bed]:
    """A ward through the services; beds are labelled <ward>-<room>-<n>."""
    ward = ipd.ward_create(
        actor=None, code=code, name=name, department=schedule.department("MED"), floor="2"
    )
    for number, categories in rooms.items():
        room = ipd.room_create(actor=None, ward=ward, number=number)
        for n, category in enumerate(categories, start=1):
            ipd.bed_create(actor=None, room=room, label=f"{code}-{number}-{n}", category=category)
    return list(Bed.objects.filter(ward=ward).order_by("label"))


def bed(label: str) -> Bed:
    return Bed.objects.get(label=label)


def tile(page, label: str):
    return page.locator(f"#bed-{label}")


@pytest.fixture
def morning(monday_morning):
    """08:00 IST, Monday 30 November 2026."""
    return monday_morning


@pytest.fixture
def wards(morning):
    """Medical ward A (six general beds in room 1, two semi-private in room 2) and an ICU
    of three beds."""
    return {
        "WA": make_ward("WA", "Medical Ward A", {"1": ["general"] * 6, "2": ["semi_private"] * 2}),
        "ICU": make_ward("ICU", "Medical ICU", {"1": ["icu"] * 3}),
    }


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="sr-mary", full_name="Sr. Mary Thomas")


@pytest.fixture
def inpatient(clerk, doctor, clinic, wards):
    """Kavita Joshi, admitted at 08:00 into WA-1-1 from emergency."""
    return ipd.admission_create(
        actor=clerk,
        patient=PatientFactory(actor=clerk, name="Kavita Joshi", sex="F"),
        bed=bed("WA-1-1"),
        attending_doctor=doctor,
        unit=clinic,
        provisional_icd10="J18.9",
        source=AdmissionSource.EMERGENCY,
    )


@pytest.fixture
def advised(clerk, doctor, clinic, morning):
    """Arjun Mehta, seen in MED-1 this morning and advised admission."""
    patient = PatientFactory(actor=clerk, name="Arjun Mehta")
    visit = opd.called(clerk, doctor, clinic, patient)
    return opd.consult(
        doctor,
        visit,
        diagnoses=["J18.9"],
        admit_advised=True,
        admit_note="Pneumonia with SpO2 89%: admit to medical ward",
    )


def admit_from_advice(page, advised) -> None:
    """The admission desk: Wards, Admit a patient, the advised patient's Admit, a bed."""
    patient = advised.visit.patient
    page.get_by_role("link", name="Wards").first.click()
    page.wait_for_url("**/ipd/")
    page.get_by_role("link", name="Admit a patient").click()
    page.wait_for_url("**/ipd/admit/")
    row = page.locator("section.card tbody tr", has_text=patient.name)
    expect(row).to_contain_text("MED-1")
    expect(row).to_contain_text("Pneumonia with SpO2 89%: admit to medical ward")
    row.get_by_role("link", name="Admit").click()
    page.wait_for_url(f"**/ipd/admit/?consultation={advised.pk}")
    expect(page.locator("#id_uhid")).to_have_value(patient.uhid)
    expect(page.locator("#id_source")).to_have_value("opd")
    expect(page.locator("#id_unit option:checked")).to_contain_text("MED-1")
    expect(page.locator("#id_attending_doctor option:checked")).to_have_text("Dr. Asha Rao")
    expect(page.locator("#id_provisional_icd10")).to_have_value(re.compile(r"^J18\.9 "))
    beds = page.locator("#id_bed option")
    expect(beds.filter(has_text="WA-1-1")).to_have_count(0)  # occupied: not offered
    page.select_option("#id_bed", label="WA-1-2 · WA · General")
    page.click("#admit")


def test_admission_desk_admits_an_opd_patient_and_the_board_hides_the_name(
    page, clerk, doctor, clinic, wards, inpatient, advised
):
    log_in(page, "clerk1", TEST_PASSWORD)
    admit_from_advice(page, advised)

    page.wait_for_url(lambda url: "/ipd/admit/" not in url)
    admission = Admission.objects.get(patient=advised.visit.patient)
    assert admission.status == AdmissionStatus.ADMITTED
    assert admission.bed.label == "WA-1-2"
    assert admission.source == AdmissionSource.OPD
    assert admission.consultation == advised
    assert (admission.unit, admission.attending_doctor) == (clinic, doctor)
    assert admission.provisional_icd10 == "J18.9"
    assert admission.admitted_by == clerk
    assert re.fullmatch(r"IP2026\d{7}", admission.number)
    assert bed("WA-1-2").status == BedStatus.OCCUPIED

    page.goto("/ipd/")
    occupied = tile(page, "WA-1-2")
    expect(occupied).to_have_class(re.compile(r"\boccupied\b"))
    expect(occupied).to_contain_text(admission.number)
    expect(occupied).to_contain_text("A.")  # initials, age and sex: not the name
    expect(tile(page, "WA-1-3")).to_have_class(re.compile(r"\bfree\b"))
    board = page.locator("#board").inner_text()
    for name in ("Arjun Mehta", "Mehta", "Kavita Joshi"):
        assert name not in board
    assert admission.patient.uhid not in page.content()
    page.goto("/ipd/admit/")
    expect(page.locator("main")).not_to_contain_text("Arjun Mehta")  # no longer waiting


def test_admission_desk_sees_the_admission_with_ip_number_and_bed(
    page, clerk, doctor, clinic, wards, inpatient, advised
):
    log_in(page, "clerk1", TEST_PASSWORD)
    admit_from_advice(page, advised)

    admission = Admission.objects.get(patient=advised.visit.patient)
    # The desk has no access to the chart: it gets the confirmation and the sheet to print.
    page.wait_for_url(f"**/ipd/admissions/{admission.number}/admitted/")
    expect(page.locator(".messages")).to_contain_text(f"Admitted: {admission.number}, bed WA-1-2.")
    expect(page.locator("#ip-number")).to_have_text(admission.number)
    expect(page.locator("main")).to_contain_text("Bed WA-1-2 · Medical Ward A")
    sheet = page.request.get(page.locator("#print-sheet").get_attribute("href"))
    assert sheet.headers["content-type"] == "application/pdf"


def test_nurse_charts_observations_fluids_and_a_dose(page, clock_at, doctor, nurse, inpatient):
    order = ipd.medication_order(
        actor=doctor,
        admission=inpatient,
        drug="Ceftriaxone",
        dose="1 g",
        route="iv",
        frequency="BD",
    )
    log_in(page, "sr-mary", TEST_PASSWORD)
    page.get_by_role("link", name="Wards").first.click()
    tile(page, "WA-1-1").get_by_role("link", name=inpatient.number).click()
    page.wait_for_url(f"**/ipd/admissions/{inpatient.number}/")
    expect(page.locator("h1")).to_contain_text("Kavita Joshi")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(0)

    readings = [
        ((2026, 11, 30, 10, 0), "38.4", "96", "130", "84", "95"),
        ((2026, 11, 30, 14, 0), "37.9", "92", "126", "82", "96"),
        ((2026, 11, 30, 18, 0), "37.4", "88", "122", "80", "97"),
    ]
    form = page.locator("#observation-form")
    for when, temperature, pulse, systolic, diastolic, spo2 in readings:
        clock_at(*when)
        form.locator("#id_temperature_c").fill(temperature)
        form.locator("#id_pulse_per_min").fill(pulse)
        form.locator("#id_systolic_mmhg").fill(systolic)
        form.locator("#id_diastolic_mmhg").fill(diastolic)
        form.locator("#id_spo2_percent").fill(spo2)
        form.get_by_role("button", name="Chart").click()
        expect(page.locator(".messages")).to_contain_text("Observations charted.")
    expect(charts).to_have_count(5)  # a strip each: temperature, pulse, BP (2), SpO2
    expect(charts.nth(0)).to_contain_text("Temperature (°C) — last 37.4")
    expect(charts.nth(1)).to_contain_text("Pulse (/min) — last 88")
    expect(charts.nth(4)).to_contain_text("SpO₂ (%) — last 97")
    for n in range(5):  # three readings, three points on each line
        expect(charts.nth(n).locator("polyline")).to_have_attribute(
            "points", re.compile(r"^\S+ \S+ \S+$")
        )
    first = Observation.objects.order_by("recorded_at").first()
    assert (first.temperature_c, first.pulse_per_min) == (Decimal("38.4"), 96)
    assert (first.systolic_mmhg, first.diastolic_mmhg, first.spo2_percent) == (130, 84, 95)
    assert first.recorded_by == nurse
    assert Observation.objects.filter(admission=inpatient).count() == 3

    fluids = page.locator("#fluid-form")
    fluids.locator("#id_fluid-direction").select_option("intake")
    fluids.locator("#id_fluid-route").select_option("iv")
    fluids.locator("#id_fluid-volume_ml").fill("500")
    fluids.locator("#id_fluid-note").fill("NS 0.9%")
    fluids.get_by_role("button", name="Chart fluid").click()
    expect(page.locator(".messages")).to_contain_text("Intake of 500 ml charted.")
    balance = page.locator("table", has_text="Balance ml").locator("tbody td")
    expect(balance).to_have_text(["30-11-2026", "500", "0", "+500"])
    entry = IntakeOutput.objects.get()
    assert (entry.direction, entry.route, entry.volume_ml) == ("intake", "iv", 500)

    row = page.locator("tr", has_text="Ceftriaxone")
    row.get_by_label("Dose outcome").select_option("given")
    row.get_by_role("button", name="Record dose").click()
    expect(page.locator(".messages")).to_contain_text("Ceftriaxone: given recorded.")
    expect(page.locator("tr", has_text="Ceftriaxone")).to_contain_text("Given · Sr. Mary Thomas")
    (dose,) = order.doses.all()
    assert (dose.outcome, dose.recorded_by) == (DoseOutcome.GIVEN, nurse)
    screenshot(page, "ipd-chart.png")

    form.locator("#id_temperature_c").fill("400")
    form.locator("#id_pulse_per_min").fill("90")
    form.get_by_role("button", name="Chart").click()
    expect(form.locator(".has-error .error")).to_have_text(
        "Temperature 400 °C is outside 25 to 45 °C: check the reading and the unit."
    )
    expect(form.locator("#id_pulse_per_min")).to_have_value("90")
    assert Observation.objects.filter(admission=inpatient).count() == 3


def test_doctor_transfers_and_discharges_and_the_nurse_frees_the_bed(
    page, clock_at, doctor, nurse, inpatient
):
    clock_at(2026, 11, 30, 11, 0)
    log_in(page, "dr-asha", TEST_PASSWORD)
    page.goto(f"/ipd/admissions/{inpatient.number}/")
    move = page.locator("#transfer-form")
    move.locator("#id_to_bed").select_option(label="ICU-1-2 · ICU · ICU")
    move.locator("#id_reason").fill("Rising oxygen need: to ICU")
    move.get_by_role("button", name="Move").click()
    expect(page.locator(".messages")).to_contain_text(f"{inpatient.number} is now in bed ICU-1-2.")
    expect(page.locator(".patient-head")).to_contain_text("bed ICU-1-2 (Medical ICU)")
    stays = page.locator("section", has_text="Where the patient lay").locator("tbody tr")
    expect(stays).to_have_count(2)
    expect(stays.nth(0).locator("td")).to_have_text(
        [
            "30-11-2026 08:00",
            "30-11-2026 11:00",
            "WA-1-1",
            "WA",
            re.compile("MED-1"),
            "admitted",
            "Sunita Verma",
        ]
    )
    expect(stays.nth(1).locator("td")).to_have_text(
        [
            "30-11-2026 11:00",
            "now",
            "ICU-1-2",
            "ICU",
            re.compile("MED-1"),
            "Rising oxygen need: to ICU",
            "Dr. Asha Rao",
        ]
    )
    assert (bed("WA-1-1").status, bed("ICU-1-2").status) == ("cleaning", "occupied")

    clock_at(2026, 12, 3, 10, 30)
    page.click("#discharge-link")
    page.wait_for_url(f"**/ipd/admissions/{inpatient.number}/discharge/")
    page.select_option("#id_kind", "normal")
    page.fill("#id_diagnosis_1", "J18.9")
    page.fill("#id_course", "IV ceftriaxone for 3 days; afebrile for 48 hours.")
    page.fill("#id_condition", "Stable, walking unaided")
    page.click("#save-discharge")
    page.wait_for_url(f"**/ipd/admissions/{inpatient.number}/")
    expect(page.locator(".messages")).to_contain_text(
        f"{inpatient.number} discharged; the bed goes to cleaning."
    )
    expect(page.locator(".patient-head")).to_contain_text("Discharged")
    expect(page.locator(".patient-head")).to_contain_text("discharged 03-12-2026 10:30")
    expect(page.locator("#discharge-link")).to_have_count(0)
    expect(page.locator("#transfer-form")).to_have_count(0)
    inpatient.refresh_from_db()
    assert inpatient.status == AdmissionStatus.DISCHARGED
    assert [d.icd10_code for d in inpatient.discharge.diagnoses.all()] == ["J18.9"]

    response = page.request.get(page.locator("#summary-pdf").get_attribute("href"))
    assert response.ok
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")

    page.goto("/ipd/")
    for label in ("WA-1-1", "ICU-1-2"):
        expect(tile(page, label)).to_have_class(re.compile(r"\bcleaning\b"))
        expect(tile(page, label)).to_contain_text("Cleaning")
        expect(tile(page, label).get_by_role("button", name="Cleaned")).to_have_count(0)  # doctor

    page.context.clear_cookies()
    log_in(page, "sr-mary", TEST_PASSWORD)
    page.goto("/ipd/wards/ICU/")
    old = tile(page, "ICU-1-2")
    expect(old).to_have_class(re.compile(r"\bcleaning\b"))
    old.get_by_role("button", name="Cleaned").click()
    page.wait_for_url("**/ipd/wards/ICU/")
    expect(page.locator(".messages")).to_contain_text("Bed ICU-1-2: free.")
    expect(tile(page, "ICU-1-2")).to_have_class(re.compile(r"\bfree\b"))
    expect(tile(page, "ICU-1-2")).to_contain_text("Free")
    assert bed("ICU-1-2").status == BedStatus.FREE
    assert bed("WA-1-1").status == BedStatus.CLEANING


def test_bed_board_follows_admissions_by_itself(
    page, clock_at, clerk, doctor, nurse, clinic, wards, inpatient
):
    names = ["Farida Khan", "Rahul Sharma", "Meena Iyer"]
    for label, name in zip(("WA-1-3", "WA-1-4", "WA-2-1"), names, strict=True):
        ipd.admission_create(
            actor=clerk,
            patient=PatientFactory(actor=clerk, name=name),
            bed=bed(label),
            attending_doctor=doctor,
            unit=clinic,
            provisional_icd10="I21.9",
        )
    ipd.bed_set_status(actor=nurse, bed=bed("WA-1-5"), status="reserved", note="post-op, OT 2")
    ipd.bed_set_status(actor=nurse, bed=bed("WA-2-2"), status="blocked", note="oxygen port")
    clock_at(2026, 11, 30, 9, 30)
    ipd.admission_transfer(
        actor=doctor, admission=inpatient, to_bed=bed("ICU-1-1"), reason="to ICU"
    )  # WA-1-1 is being cleaned

    log_in(page, "sr-mary", TEST_PASSWORD)
    page.goto("/ipd/wards/WA/")
    legend = page.locator("#board .legend")
    expect(legend).to_contain_text("Free 2")
    expect(legend).to_contain_text("Occupied 3")
    expect(legend).to_contain_text("Reserved 1")
    expect(legend).to_contain_text("Cleaning 1")
    expect(legend).to_contain_text("Blocked 1")
    waiting = tile(page, "WA-1-2")
    expect(waiting).to_have_class(re.compile(r"\bfree\b"))
    screenshot(page, "bed-board.png")

    admission = ipd.admission_create(
        actor=clerk,
        patient=PatientFactory(actor=clerk, name="Zainab Qureshi", sex="F"),
        bed=bed("WA-1-2"),
        attending_doctor=doctor,
        unit=clinic,
        provisional_icd10="A09",
    )
    expect(waiting).to_have_class(re.compile(r"\boccupied\b"), timeout=BOARD_POLL_MS)
    expect(waiting).to_contain_text(admission.number)
    expect(legend).to_contain_text("Free 1")
    expect(legend).to_contain_text("Occupied 4")
    assert page.url.endswith("/ipd/wards/WA/")  # no reload: htmx swapped the board
    board = page.locator("#board").inner_text()
    for name in [*names, "Zainab Qureshi", "Qureshi"]:
        assert name not in board


def test_doctor_charts_a_drug_by_its_labels(page, doctor, inpatient):
    log_in(page, "dr-asha", TEST_PASSWORD)
    page.goto(f"/ipd/admissions/{inpatient.number}/")
    ids = page.eval_on_selector_all("[id]", "elements => elements.map(e => e.id)")
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    drug = page.locator("#medication-form")
    drug.get_by_label("Drug").fill("Ceftriaxone")
    drug.get_by_label("Dose").fill("1 g")
    drug.get_by_label("Route").select_option("iv", timeout=2_000)
    drug.get_by_label("Frequency").select_option("BD")
    drug.get_by_role("button", name="Chart drug").click()
    expect(page.locator(".messages")).to_contain_text("Ceftriaxone charted.")
