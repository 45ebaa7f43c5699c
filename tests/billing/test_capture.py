"""Charge capture from the other departments' records: registration, consultations (not
a transfer between clinics), lab tests on the right account, bed-days by the midnight
rule, cancellations, and a capture that may run any number of times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ajeya.billing import capture
from ajeya.billing.models import AccountKind, Charge
from ajeya.lab import services as lab_services
from ajeya.lab.models import OrderSource
from ajeya.ledger.models import LedgerEntry
from ajeya.opd import services as opd_services
from ajeya.opd.services import OrderLine
from tests.billing import factories as f
from tests.ipd import factories as ipd
from tests.lab import factories as lab
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date


@pytest.fixture
def tariff():
    f.load_tariff()


def charges(patient, **filters) -> list[tuple]:
    return list(
        Charge.objects.filter(account__patient=patient, **filters)
        .order_by("service_date", "code", "id")
        .values_list("code", "service_date", "patient_amount")
    )


# -- registration and consultation ----------------------------------------------------


def test_the_registration_fee_is_for_the_day_in_india(tariff, clock_at):
    clock_at(2026, 11, 30, 0, 30)  # 29-11 19:00 UTC
    patient = PatientFactory()
    assert capture.capture().posted == 1
    [reg] = Charge.objects.filter(account__patient=patient)
    assert (reg.code, reg.service_date, reg.amount) == ("REG", DAY(2026, 11, 30), D("10.00"))
    assert (reg.account.kind, reg.department.code, reg.posted_by) == (AccountKind.OPD, "MRD", None)


def test_a_consultation_is_charged_to_the_clinics_department(tariff, monday_morning, clerk, clinic):
    cghs = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG5")
    visit = opd.checked_in(clerk, clinic, cghs)
    capture.capture(patient=cghs)
    cons = Charge.objects.get(account__patient=cghs, code="CONS")
    assert cons.source == f"opd.visit:{visit.pk}"
    assert (cons.department.code, cons.description) == ("MED", "OPD consultation, Clinic MED-1")
    assert (cons.scheme_amount, cons.patient_amount) == (D("150.00"), D("0.00"))


def test_a_patient_sent_on_to_another_clinic_pays_one_consultation(
    tariff, monday_morning, clerk, doctor, clinic, surgery
):
    patient = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG6")
    first = opd.checked_in(clerk, clinic, patient)
    second = opd_services.visit_transfer(
        actor=doctor, visit=first, to_clinic=surgery, reason="needs a surgeon's opinion"
    )
    assert second.transferred_from == first
    capture.capture(patient=patient)
    [cons] = Charge.objects.filter(account__patient=patient, code="CONS")
    assert (cons.source, cons.department.code) == (f"opd.visit:{first.pk}", "MED")
    assert capture.capture(patient=patient).posted == 0  # the surgery visit is never charged


# -- lab tests: which account ----------------------------------------------------------


def test_tests_a_doctor_orders_in_opd_go_on_the_outpatient_account(
    tariff, monday_morning, clerk, doctor, clinic
):
    lab.load_catalogue()
    patient = PatientFactory()
    visit = opd.called(clerk, doctor, clinic, patient)
    opd.consult(doctor, visit, order_lines=[OrderLine(test="CBC"), OrderLine(test="HbA1c")])

    capture.capture(patient=patient)

    assert charges(patient, code__startswith="LAB") == [
        ("LAB-CBC", DAY(2026, 11, 30), D("100.00")),
        ("LAB-HBA1C", DAY(2026, 11, 30), D("250.00")),
    ]
    accounts = {c.account for c in Charge.objects.filter(account__patient=patient)}
    assert [(a.kind, a.admission) for a in accounts] == [(AccountKind.OPD, None)]
    cbc = Charge.objects.get(account__patient=patient, code="LAB-CBC")
    assert cbc.department.code == "LAB"
    assert "Complete blood count (order " in cbc.description


def test_tests_ordered_for_an_inpatient_go_on_the_stays_account(
    tariff, clock_at, clerk, doctor, clinic
):
    clock_at(2026, 11, 30, 9, 0)
    lab.load_catalogue()
    bed = ipd.beds(ipd.ward("W1", rooms={"1": ["private"]}))[0]
    admission = ipd.admit(clerk, bed, doctor=doctor, unit=clinic)
    lab_services.order_create(
        actor=doctor,
        patient=admission.patient,
        tests=["CBC"],
        source=OrderSource.IPD,
        admission=admission,
    )
    capture.capture(patient=admission.patient)
    cbc = Charge.objects.get(code="LAB-CBC")
    assert (cbc.account.kind, cbc.account.admission) == (AccountKind.IPD, admission)
    assert (cbc.rate_class, cbc.patient_amount) == (
        "private",
        D("300.00"),
    )  # private bed, price of 1 Oct
    reg = Charge.objects.get(code="REG")
    assert reg.account.kind == AccountKind.OPD


# -- bed-days --------------------------------------------------------------------------


@pytest.fixture
def ward(db):
    return ipd.ward("W1", rooms={"1": ["general"], "2": ["icu"]})


def test_admitted_late_at_night_and_gone_next_morning_is_one_day(
    tariff, ward, clock_at, clerk, doctor, clinic
):
    general, _ = ipd.beds(ward)
    clock_at(2026, 11, 28, 23, 30)
    admission = ipd.admit(clerk, general, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 29, 8, 0)
    ipd.discharge(doctor, admission)
    capture.capture(patient=admission.patient)
    assert charges(admission.patient, code__startswith="BED") == [
        ("BED-GEN", DAY(2026, 11, 28), D("35.00"))
    ]
    bed_day = Charge.objects.get(code="BED-GEN")
    assert bed_day.source == f"bed:{admission.number}:2026-11-28"
    assert bed_day.department == ward.department


def test_a_day_case_with_no_midnight_is_one_day(tariff, ward, clock_at, clerk, doctor, clinic):
    general, _ = ipd.beds(ward)
    clock_at(2026, 11, 28, 9, 0)
    admission = ipd.admit(clerk, general, doctor=doctor, unit=clinic)
    assert capture.capture(patient=admission.patient).posted == 1  # REG; no bed-day yet
    clock_at(2026, 11, 28, 17, 0)
    ipd.discharge(doctor, admission)
    capture.capture(patient=admission.patient)
    assert charges(admission.patient, code__startswith="BED") == [
        ("BED-GEN", DAY(2026, 11, 28), D("35.00"))
    ]


def test_each_night_is_charged_at_the_bed_the_patient_lay_in_at_midnight(
    tariff, ward, clock_at, clerk, doctor, clinic
):
    general, icu = ipd.beds(ward)
    clock_at(2026, 11, 27, 10, 0)
    admission = ipd.admit(clerk, general, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 28, 15, 0)
    from ajeya.ipd import services as ipd_services

    ipd_services.admission_transfer(
        actor=doctor, admission=admission, to_bed=icu, reason="falling saturation"
    )
    capture.capture(patient=admission.patient)  # a running stay: one midnight so far
    assert charges(admission.patient, code__startswith="BED") == [
        ("BED-GEN", DAY(2026, 11, 27), D("35.00"))
    ]
    clock_at(2026, 11, 29, 10, 0)
    ipd.discharge(doctor, admission)
    capture.capture(patient=admission.patient)
    assert charges(admission.patient, code__startswith="BED") == [
        ("BED-GEN", DAY(2026, 11, 27), D("35.00")),
        ("BED-ICU", DAY(2026, 11, 28), D("1000.00")),
    ]


# -- cancelled lab tests ---------------------------------------------------------------


def test_a_test_cancelled_after_its_sample_was_collected_stays_charged(tariff, clock_at):
    clock_at(2026, 11, 30, 9, 0)
    lab.load_catalogue()
    tech = lab.technician()
    order = lab.walk_in(("CBC", "LFT"), actor=tech)
    capture.capture(patient=order.patient)
    cbc, lft = (order.items.get(panel__code=code) for code in ("CBC", "LFT"))
    clock_at(2026, 11, 30, 9, 10)
    lab_services.sample_collect(actor=tech, sample=lft.sample)
    clock_at(2026, 11, 30, 9, 20)
    lab_services.item_cancel(actor=tech, item=lft, reason="patient refused to wait")
    lab_services.item_cancel(actor=tech, item=cbc, reason="ordered twice")

    result = capture.capture(patient=order.patient)

    assert (result.posted, result.reversed) == (0, 1)
    assert [c.patient_amount for c in Charge.objects.filter(source=f"lab.item:{lft.pk}")] == [
        D("225.00")
    ]
    assert sorted(c.patient_amount for c in Charge.objects.filter(source=f"lab.item:{cbc.pk}")) == [
        D("-100.00"),
        D("100.00"),
    ]


# -- run it again ----------------------------------------------------------------------


def test_capture_run_again_posts_nothing_twice(tariff, clock_at, clerk, doctor, clinic, ward):
    clock_at(2026, 11, 28, 10, 0)
    lab.load_catalogue()
    general, _ = ipd.beds(ward)
    admission = ipd.admit(clerk, general, doctor=doctor, unit=clinic)
    lab_services.order_create(
        actor=doctor,
        patient=admission.patient,
        tests=["KFT"],
        source=OrderSource.IPD,
        admission=admission,
    )
    order = lab.walk_in(("CBC", "LFT"))
    clock_at(2026, 11, 30, 9, 0)
    opd.checked_in(clerk, clinic, order.patient)
    lab_services.item_cancel(
        actor=lab.technician(), item=order.items.get(panel__code="LFT"), reason="duplicate"
    )

    first = capture.capture()
    assert (first.posted, first.reversed) == (2 + 1 + 2 + 1 + 2, 1)  # REG, KFT, tests, CONS, beds
    written = (Charge.objects.count(), LedgerEntry.objects.count())
    for again in (capture.capture(), capture.capture(patient=order.patient)):
        assert (again.posted, again.reversed, again.unpriced) == (0, 0, [])
    assert (Charge.objects.count(), LedgerEntry.objects.count()) == written
    sources = list(Charge.objects.filter(reverses__isnull=True).values_list("source", flat=True))
    assert len(sources) == len(set(sources))
