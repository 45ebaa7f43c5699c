"""The clinical standard reports on a small world whose numbers are counted by hand:
OPD census, IPD census, doctor-wise consultations, scheme-wise patients, lab workload;
the department filter, the charts, and query counts that do not grow with the data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ajeya.appointments import services as appointments
from ajeya.core.periods import Period
from ajeya.core.roles import Role
from ajeya.lab import services as lab_services
from ajeya.opd import services as opd
from ajeya.reports import registry
from tests.appointments import factories as schedule
from tests.ipd import factories as ipd
from tests.lab import factories as lab
from tests.lab.test_tat import t, through
from tests.opd import factories as visits
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

MONDAY, TUESDAY = dt.date(2026, 11, 30), dt.date(2026, 12, 1)
TWO_DAYS = Period(MONDAY, TUESDAY)
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def run(slug: str, period: Period = TWO_DAYS, department=None):
    return registry.run(slug, period, department)


def seen(doctor, clinic, clerk, patient, **consult):
    visit = visits.called(clerk, doctor, clinic, patient)
    visits.consult(doctor, visit, order_lines=[], **consult)
    return visit


@pytest.fixture
def surgeon(make_user):
    return make_user(Role.DOCTOR, username="dr-vikram", full_name="Dr. Vikram Singh")


@pytest.fixture
def opd_world(clock_at, clerk, doctor, surgeon, clinic, surgery):
    """Monday: in Medicine, P1 by appointment (waiting), P2 seen by Dr. Asha, P3 did not
    answer, P4 transferred to Surgery and seen there by Dr. Vikram, who advised admission.
    Tuesday: P2 seen again by Dr. Asha."""
    clock_at(2026, 11, 30, 8, 0)
    session = schedule.session(clinic, weekday=0)
    p1 = PatientFactory(category="general")
    p2 = PatientFactory(category="bpl")
    p3 = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG1")
    p4 = PatientFactory(category="scheme", scheme="pmjay", scheme_beneficiary_id="PM1")
    booked = appointments.appointment_book(
        actor=clerk, patient=p1, session=session, date=MONDAY, slot_time=dt.time(9, 0)
    )
    visits.checked_in(clerk, clinic, p1, appointment=booked)
    seen(doctor, clinic, clerk, p2)
    absent = visits.called(clerk, doctor, clinic, p3)
    opd.visit_skip(actor=doctor, visit=absent)
    opd.visit_mark_no_show(actor=doctor, visit=absent)
    sent = visits.checked_in(clerk, clinic, p4)
    moved = opd.visit_transfer(actor=doctor, visit=sent, to_clinic=surgery, reason="Hernia")
    opd.visit_call(actor=surgeon, visit=moved)
    visits.consult(surgeon, moved, order_lines=[], admit_advised=True, admit_note="Repair")
    clock_at(2026, 12, 1, 8, 0)
    seen(doctor, clinic, clerk, p2)
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4}


@pytest.fixture
def ipd_world(opd_world, clock_at, doctor, surgeon, clinic, surgery):
    """Beds: Medicine's ward W1 (2), Surgery's ward S1 (2). Monday 10:00: P4 into S1,
    P5 into W1. Tuesday 11:00 P5 goes home; 12:00 P6 into W1, who dies at 15:00."""
    medicine = ipd.beds(ipd.ward("W1", dept="MED"))
    surgical = ipd.beds(ipd.ward("S1", dept="SURG"))
    clock_at(2026, 11, 30, 10, 0)
    ipd.admit(surgeon, surgical[0], doctor=surgeon, unit=surgery, patient=opd_world["p4"])
    p5 = ipd.admit(doctor, medicine[0], doctor=doctor, unit=clinic)
    clock_at(2026, 12, 1, 11, 0)
    ipd.discharge(doctor, p5)
    clock_at(2026, 12, 1, 12, 0)
    p6 = ipd.admit(doctor, medicine[1], doctor=doctor, unit=clinic)
    clock_at(2026, 12, 1, 15, 0)
    ipd.discharge(
        doctor,
        p6,
        kind="death",
        condition="Expired",
        death_at=dt.datetime(2026, 12, 1, 14, 30, tzinfo=IST),
        cause_immediate="Septic shock",
        cause_underlying_icd10="J18.9",
        manner_of_death="natural",
    )
    clock_at(2026, 12, 2, 9, 0)
    return opd_world


# -- OPD census ---------------------------------------------------------------------------


def test_opd_census_counts_each_day_and_department(opd_world):
    [table] = run("opd-census")
    assert table.header == [
        "Date", "Department", "Visits", "By appointment", "Walk-in", "Seen", "Not answered",
    ]  # fmt: skip
    assert table.rows == [
        [MONDAY, "Department MED", 4, 1, 3, 1, 1],
        [MONDAY, "Department SURG", 1, 0, 1, 1, 0],
        [TUESDAY, "Department MED", 1, 0, 1, 1, 0],
    ]
    assert table.total == ["Total", "", 6, 1, 5, 3, 1]
    assert "transferred" in table.note


def test_opd_census_for_one_department_and_one_day(opd_world, surgery):
    [table] = run("opd-census", department=surgery.department)
    assert table.rows == [[MONDAY, "Department SURG", 1, 0, 1, 1, 0]]
    assert table.total == ["Total", "", 1, 0, 1, 1, 0]
    [tuesday] = run("opd-census", Period(TUESDAY, TUESDAY))
    assert tuesday.total == ["Total", "", 1, 0, 1, 1, 0]


def test_opd_census_of_an_empty_period_has_no_rows_and_no_chart(db):
    [table] = run("opd-census")
    assert (table.rows, table.total) == ([], None)
    assert registry.get("opd-census").chart([table]) == ""


def test_opd_census_chart_draws_a_bar_per_day_with_its_total(opd_world):
    svg = registry.get("opd-census").chart(run("opd-census"))
    assert svg.startswith("<svg")
    assert svg.count("<rect") == 2
    assert "30-11-2026: 5" in svg
    assert "01-12-2026: 1" in svg


# -- IPD census ---------------------------------------------------------------------------


def test_ipd_census_counts_admissions_discharges_and_midnight_inpatients(ipd_world):
    [table] = run("ipd-census")
    assert table.header[1:8] == [
        "Admissions", "Home", "LAMA", "Referred", "Absconded", "Deaths", "Discharges",
    ]  # fmt: skip
    assert table.rows == [
        [MONDAY, 2, 0, 0, 0, 0, 0, 0, 2, 4, Decimal("50.0")],
        [TUESDAY, 1, 1, 0, 0, 0, 1, 2, 1, 4, Decimal("25.0")],
    ]
    assert table.total == ["Total", 3, 1, 0, 0, 0, 1, 2, "", "", ""]


def test_ipd_census_for_the_wards_of_one_department(ipd_world, clinic):
    [table] = run("ipd-census", department=clinic.department)
    assert table.rows == [
        [MONDAY, 1, 0, 0, 0, 0, 0, 0, 1, 2, Decimal("50.0")],
        [TUESDAY, 1, 1, 0, 0, 0, 1, 2, 0, 2, Decimal("0.0")],
    ]


def test_ipd_census_without_beds_shows_no_occupancy(db):
    [table] = run("ipd-census", Period(MONDAY, MONDAY))
    assert table.rows == [[MONDAY, 0, 0, 0, 0, 0, 0, 0, 0, 0, None]]


# -- doctor-wise consultations and scheme-wise patients -------------------------------------


def test_doctor_consultations_per_doctor_with_distinct_patients(opd_world):
    [table] = run("doctor-consultations")
    assert table.rows == [
        ["Dr. Asha Rao", "Department MED", 2, 1, 0],
        ["Dr. Vikram Singh", "Department SURG", 1, 1, 1],
    ]
    assert table.total == ["Total", "", 3, 2, 1]
    [medicine] = run("doctor-consultations", department=_dept("MED"))
    assert medicine.rows == [["Dr. Asha Rao", "Department MED", 2, 1, 0]]
    assert medicine.total == ["Total", "", 2, 1, 0]


def _dept(code):
    return schedule.department(code)


def test_scheme_patients_counts_each_patient_once(ipd_world):
    [table] = run("scheme-patients")
    assert table.rows == [
        ["General", 3, 1, 2],
        ["BPL / free", 1, 2, 0],
        ["CGHS", 1, 1, 0],
        ["PM-JAY (Ayushman Bharat)", 1, 2, 1],
    ]
    assert table.total == ["Total", 6, 6, 3]


def test_scheme_patients_for_one_department(ipd_world):
    [surgery] = run("scheme-patients", department=_dept("SURG"))
    assert surgery.rows == [["PM-JAY (Ayushman Bharat)", 1, 1, 1]]
    [medicine] = run("scheme-patients", department=_dept("MED"))
    assert medicine.rows == [
        ["General", 3, 1, 2],
        ["BPL / free", 1, 2, 0],
        ["CGHS", 1, 1, 0],
        ["PM-JAY (Ayushman Bharat)", 1, 1, 0],
    ]


# -- lab workload ---------------------------------------------------------------------------


@pytest.fixture
def lab_world(clock_at):
    """Monday: FBS ordered 08:10 and authorised 09:30 (80 min), FBS 10:00 to 11:00 (60),
    CBC 08:00 to 08:50 (50), FBS ordered 23:30 and authorised Tuesday 00:30 (60).
    Tuesday: a CBC ordered at 09:00 and cancelled."""
    lab.load_catalogue()
    through(clock_at, "FBS", t(30, 8, 10), t(30, 8, 30), t(30, 9, 30))
    through(clock_at, "FBS", t(30, 10), t(30, 10, 20), t(30, 11))
    through(clock_at, "CBC", t(30, 8), t(30, 8, 5), t(30, 8, 50))
    through(clock_at, "FBS", t(30, 23, 30), t(30, 23, 45), dt.datetime(2026, 12, 1, 0, 30))  # noqa: DTZ001
    clock_at(2026, 12, 1, 9, 0)
    order = lab.walk_in(["CBC"])
    lab_services.item_cancel(actor=lab.technician(), item=order.items.get(), reason="Duplicate")
    clock_at(2026, 12, 2, 9, 0)


def test_lab_workload_per_section_and_day_with_median_turnaround(lab_world):
    [table] = run("lab-workload")
    assert table.rows == [
        [MONDAY, "Haematology", 1, 1, 0, 50],
        [MONDAY, "Biochemistry", 3, 2, 0, 70],
        [TUESDAY, "Haematology", 1, 0, 1, ""],
        [TUESDAY, "Biochemistry", 0, 1, 0, 60],
    ]
    assert table.total == ["Total", "", 5, 4, 1, 60]
    assert "does not apply" in table.note
    assert run("lab-workload", department=_dept("MED"))[0].rows == table.rows
    svg = registry.get("lab-workload").chart([table])
    assert "30-11-2026: 4" in svg
    assert "01-12-2026: 1" in svg


# -- query counts -----------------------------------------------------------------------------


def queries(slug: str, department=None) -> int:
    """Queries of a report once the OPD's closed days are counted (the worker keeps them
    counted; counting a changed day is work per day, done once)."""
    run(slug, department=department)
    with CaptureQueriesContext(connection) as captured:
        run(slug, department=department)
    return len(captured)


SLUGS = ["opd-census", "ipd-census", "doctor-consultations", "scheme-patients", "lab-workload"]


def test_query_counts_do_not_grow_with_the_data(
    ipd_world, lab_world, clock_at, clerk, doctor, clinic, make_user
):
    small = {slug: queries(slug) for slug in SLUGS}
    small_med = {slug: queries(slug, _dept("MED")) for slug in SLUGS}
    clock_at(2026, 12, 1, 16, 0)
    for _ in range(4):
        seen(doctor, clinic, clerk, PatientFactory(category="staff"))
    other = make_user(Role.DOCTOR, username="dr-third", full_name="Dr. Third")
    seen(other, clinic, clerk, PatientFactory())
    bed = ipd.beds(ipd.ward("W2", dept="MED", rooms={"1": ["general"] * 3}))
    for n in range(3):
        ipd.admit(doctor, bed[n], doctor=doctor, unit=clinic)
    for _ in range(2):
        through(clock_at, "CBC", t(30, 12), t(30, 12, 5), t(30, 12, 30))
    clock_at(2026, 12, 2, 9, 0)
    assert {slug: queries(slug) for slug in SLUGS} == small
    assert {slug: queries(slug, _dept("MED")) for slug in SLUGS} == small_med
    assert max(small.values()) <= 7  # the OPD reports: 3 of them check the counted days
