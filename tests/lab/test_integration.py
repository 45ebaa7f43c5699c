"""The laboratory where it meets the other departments: a doctor's lab order in OPD
becomes a lab order; a ward orders tests for an inpatient; the discharge summary lists
the admission's authorised results."""

from __future__ import annotations

import pytest

from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.roles import Role
from ajeya.ipd import hooks as ipd_hooks
from ajeya.ipd import services as ipd_services
from ajeya.lab import selectors, services
from ajeya.lab.models import LabOrder, OrderSource, ResultStatus
from ajeya.ledger.verification import verify
from ajeya.opd import orders as opd_orders
from ajeya.opd.models import ClinicalOrder, OrderStatus
from ajeya.opd.services import OrderLine
from tests.ipd import factories as ipd
from tests.lab import factories as lab
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    lab.load_catalogue()
    lab.technician(), lab.pathologist()


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse-lata", full_name="Lata Menon")


@pytest.fixture
def patient(clerk):
    return PatientFactory(actor=clerk, name="Mohan Das")


def clean() -> None:
    assert verify(use_checkpoint_dir=False).findings == []


# -- OPD: the doctor's order lines -------------------------------------------------------


def test_the_lab_takes_the_orders_doctors_write_in_opd(
    monday_morning, catalogue, clerk, doctor, clinic, patient
):
    visit = opd.called(clerk, doctor, clinic, patient)

    consultation = opd.consult(
        doctor,
        visit,
        order_lines=[
            OrderLine(test="Complete blood count", note="fever 3 days"),
            OrderLine(test="hba1c"),
        ],
    )

    placed = list(consultation.orders.order_by("id"))
    assert [o.status for o in placed] == [OrderStatus.PLACED, OrderStatus.PLACED]
    made = [LabOrder.objects.get(number=o.reference) for o in placed]
    for order in made:
        assert (order.source, order.visit, order.patient) == (OrderSource.OPD, visit, patient)
        assert (order.doctor, order.ordered_by, order.ordered_at) == (
            doctor,
            doctor,
            monday_morning,
        )
        assert order.admission is None
    assert [list(o.items.values_list("panel__code", flat=True)) for o in made] == [
        ["CBC"],
        ["HBA1C"],
    ]
    assert made[0].clinical_notes == "fever 3 days"
    assert [(s.container, s.section) for o in made for s in o.samples.all()] == [
        ("edta", "haematology"),
        ("edta", "biochemistry"),
    ]
    assert list(opd_orders.pending("lab")) == []
    clean()


def test_a_test_the_lab_does_not_do_is_refused_on_the_doctors_form(
    monday_morning, catalogue, clerk, doctor, clinic, patient
):
    visit = opd.called(clerk, doctor, clinic, patient)
    before = lab.snapshot()
    with pytest.raises(ValidationFailed) as caught:
        opd.consult(doctor, visit, order_lines=[OrderLine(test="Unicorn serology")])
    assert caught.value.errors["orders"] == [
        "Order 1: Unknown test 'Unicorn serology': choose one from the laboratory catalogue."
    ]
    assert lab.snapshot() == before
    assert ClinicalOrder.objects.count() == 0


def test_without_a_catalogue_the_orders_wait_for_the_lab(
    monday_morning, clerk, doctor, clinic, patient
):
    visit = opd.called(clerk, doctor, clinic, patient)
    consultation = opd.consult(doctor, visit)
    waiting = list(consultation.orders.all())
    assert [(o.status, o.reference) for o in waiting] == [(OrderStatus.REQUESTED, "")] * 2
    assert {o.pk for o in opd_orders.pending("lab")} == {o.pk for o in waiting}
    assert LabOrder.objects.count() == 0


def test_a_critical_value_on_an_opd_order_reaches_the_consulting_doctor(
    monday_morning, catalogue, clerk, doctor, clinic, patient
):
    visit = opd.called(clerk, doctor, clinic, patient)
    consultation = opd.consult(doctor, visit, order_lines=[OrderLine(test="RBS")])
    order = LabOrder.objects.get(number=consultation.orders.get().reference)
    [sample] = lab.received(order)
    lab.verified(sample, {"RBS": "480"})
    [alert] = selectors.open_alerts_for(doctor)
    assert (alert.result.test.code, alert.result.flag, alert.patient) == ("RBS", "HH", patient)
    services.alert_acknowledge(actor=doctor, alert=alert, note="called the patient back")
    assert selectors.open_alert_count(doctor) == 0
    clean()


# -- IPD: orders for an inpatient and the discharge summary -------------------------------


@pytest.fixture
def admission(clock_at, catalogue, clerk, doctor, clinic, patient):
    clock_at(2026, 11, 30, 9, 0)
    bed = ipd.beds(ipd.ward("W1", rooms={"1": ["general"]}))[0]
    return ipd.admit(clerk, bed, doctor=doctor, unit=clinic, patient=patient)


def ward_order(doctor, admission, tests, **kwargs) -> LabOrder:
    return services.order_create(
        actor=doctor,
        patient=admission.patient,
        tests=tests,
        source=OrderSource.IPD,
        admission=admission,
        **kwargs,
    )


def test_the_discharge_summary_lists_the_admissions_authorised_results(
    clock_at, doctor, nurse, clerk, clinic, admission, patient, django_assert_num_queries
):
    assert selectors.investigations_for_admission in ipd_hooks._PROVIDERS
    kft = ward_order(doctor, admission, ["KFT"], priority="urgent")
    for sample in kft.samples.all():
        services.sample_collect(actor=nurse, sample=sample)
    [sst] = lab.received(kft)
    clock_at(2026, 11, 30, 11, 0)
    lab.authorised(
        sst, {"UREA": "30", "CREAT": "1.8", "NA": "138", "K": "4.0", "CL": "101", "URIC": "6.1"}
    )
    clock_at(2026, 12, 1, 9, 0)
    cbc = ward_order(doctor, admission, ["CBC"])
    [edta] = lab.received(cbc)
    lab.verified(edta, {"HB": "9.1"})  # verified, not yet authorised: not on the summary
    # The same patient's walk-in test is not this admission's.
    lab.authorised(lab.received(lab.walk_in(["FBS"], patient=patient))[0], {"FBS": "91"})
    clock_at(2026, 12, 1, 10, 0)
    services.result_amend(
        actor=lab.pathologist(),
        result=lab.results_of(sst)["K"],
        value="5.8",
        reason="haemolysis index missed",
    )
    services.results_authorise(actor=lab.pathologist("dr-path2"), sample=sst)
    assert lab.results_of(sst)["K"].status == ResultStatus.AUTHORISED

    with django_assert_num_queries(1):
        lines = selectors.investigations_for_admission(admission)

    assert lines == [
        "30-11 Urea 30 mg/dL",
        "30-11 Creatinine 1.80 mg/dL H",
        "30-11 Sodium 138 mmol/L",
        "30-11 Chloride 101 mmol/L",
        "30-11 Uric acid 6.1 mg/dL",
        "01-12 Potassium 5.8 mmol/L H",  # the amended value, authorised again
    ]
    assert ipd_services.investigations_for(admission) == "\n".join(lines)
    clean()

    clock_at(2026, 12, 1, 12, 0)
    ipd.discharge(doctor, admission, investigations=ipd_services.investigations_for(admission))
    assert "Creatinine 1.80 mg/dL H" in admission.discharge.investigations
    with pytest.raises(Conflict, match="was discharged at 01-12-2026 12:00"):
        ward_order(doctor, admission, ["CBC"])
    clean()


def test_another_admissions_results_stay_off_the_summary(
    clock_at, doctor, clerk, clinic, admission
):
    bed = ipd.bed(ipd.room(admission.bed.ward, "9"), "W1-9-1")
    other = ipd.admit(clerk, bed, doctor=doctor, unit=clinic)
    [sample] = lab.received(ward_order(doctor, other, ["FBS"]))
    lab.authorised(sample, {"FBS": "88"})
    assert selectors.investigations_for_admission(admission) == []
    assert selectors.investigations_for_admission(other) == ["30-11 Glucose, fasting 88 mg/dL"]
