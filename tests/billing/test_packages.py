"""A PM-JAY package on a stay: what it takes in, what the scheme pays and what the
patient still pays, the scheme's settlement, and the bookings that are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q

from ajeya.billing import capture, selectors, services
from ajeya.billing.models import Charge, PaymentKind, PaymentMode
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.roles import Role
from ajeya.lab import services as lab_services
from ajeya.lab.models import OrderSource
from ajeya.ledger.models import LedgerEntry
from tests.appointments import factories as schedule
from tests.billing import factories as f
from tests.ipd import factories as ipd
from tests.ipd.factories import assert_sealed
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal
APPROVAL = "PM-JAY pre-authorisation PA-778812"


@pytest.fixture
def hospital(clock_at):
    clock_at(2026, 11, 28, 10, 0)
    f.load_tariff()
    lab.load_catalogue()
    ward = ipd.ward("W1", rooms={"1": ["general", "general", "general"]})
    return {
        "beds": ipd.beds(ward),
        "doctor": f.staff(Role.DOCTOR, "dr-ward", "Dr. Ward"),
        "desk": f.staff(Role.REGISTRATION_CLERK, "desk-ipd", "Admission Desk"),
        "unit": schedule.clinic("MED-1"),
        "clerk": f.cashier(),
    }


def admitted(hospital, patient, bed: int = 0):
    return ipd.admit(
        hospital["desk"],
        hospital["beds"][bed],
        doctor=hospital["doctor"],
        unit=hospital["unit"],
        patient=patient,
    )


def ward_order(hospital, admission, tests):
    return lab_services.order_create(
        actor=hospital["doctor"],
        patient=admission.patient,
        tests=tests,
        source=OrderSource.IPD,
        admission=admission,
    )


def pmjay_patient():
    return PatientFactory(category="scheme", scheme="pmjay", scheme_beneficiary_id="PMJAY123456")


@pytest.fixture
def stay(hospital, clock_at):
    """Admitted on 28-11 10:00; a blood count on 29-11; two bed-days and the test captured
    on 30-11, and a medical certificate (not a clinical service) posted by hand."""
    admission = admitted(hospital, pmjay_patient())
    clock_at(2026, 11, 29, 9, 0)
    ward_order(hospital, admission, ["CBC"])
    clock_at(2026, 11, 30, 9, 0)
    capture.capture(patient=admission.patient)
    account = services.account_for(patient=admission.patient, admission=admission)
    services.charge_post(actor=hospital["clerk"], account=account, code="PROC-CERT")
    return admission, account


def standing(account):
    """(code, scheme pays, patient pays, in package) of the charges not reversed."""
    return sorted(
        (c.code, c.scheme_amount, c.patient_amount, c.in_package)
        for c in Charge.objects.filter(account=account, reverses__isnull=True, reversal=None)
    )


def test_before_the_package_the_scheme_pays_each_service(stay):
    _, account = stay
    assert standing(account) == [
        ("BED-GEN", D("1800.00"), D("0.00"), False),
        ("BED-GEN", D("1800.00"), D("0.00"), False),
        ("LAB-CBC", D("100.00"), D("0.00"), False),
        ("PROC-CERT", D("0.00"), D("118.00"), False),  # PM-JAY has no price: general + GST
    ]


def test_booking_the_package_takes_in_the_covered_charges(stay, hospital):
    _, account = stay
    covered = list(Charge.objects.filter(account=account).exclude(code="PROC-CERT"))

    booked = services.package_book(
        actor=hospital["clerk"], account=account, code="pkg-dengue", reason=APPROVAL
    )

    assert booked.package.code == "PKG-DENGUE"
    assert_sealed(booked)
    for original in covered:
        original.refresh_from_db()
        back = original.reversal
        assert (back.patient_amount, back.scheme_amount) == (
            -original.patient_amount,
            -original.scheme_amount,
        )
        assert back.reason == "included in package PKG-DENGUE"
        again = Charge.objects.get(source=f"{original.source}+pkg")
        assert (again.code, again.service_date, again.in_package) == (
            original.code,
            original.service_date,
            True,
        )
        assert (again.amount, again.scheme_amount, again.patient_amount) == (D("0"),) * 3
        assert again.description.endswith("(in package PKG-DENGUE)")
    assert standing(account) == [
        ("BED-GEN", D("0.00"), D("0.00"), True),
        ("BED-GEN", D("0.00"), D("0.00"), True),
        ("LAB-CBC", D("0.00"), D("0.00"), True),
        ("PKG-DENGUE", D("12000.00"), D("0.00"), False),
        ("PROC-CERT", D("0.00"), D("118.00"), False),
    ]
    balance = selectors.balance(account)
    assert (balance.unbilled_scheme, balance.unbilled_patient) == (D("12000.00"), D("118.00"))
    reasons = {e.reason for e in LedgerEntry.objects.filter(subject_type="billing.account")}
    assert APPROVAL in reasons


def test_the_final_bill_shows_what_the_scheme_pays_and_what_the_patient_pays(
    stay, hospital, clock_at
):
    admission, account = stay
    clerk = hospital["clerk"]
    services.package_book(actor=clerk, account=account, code="PKG-DENGUE", reason=APPROVAL)
    clock_at(2026, 11, 30, 15, 0)
    ward_order(hospital, admission, ["LFT"])
    clock_at(2026, 12, 1, 10, 0)
    ipd.discharge(hospital["doctor"], admission)
    capture.capture(patient=admission.patient)

    later = list(
        Charge.objects.filter(account=account, reverses__isnull=True, reversal=None).filter(
            Q(code="LAB-LFT") | Q(code="BED-GEN", service_date=dt.date(2026, 11, 30))
        )
    )
    assert sorted(c.code for c in later) == ["BED-GEN", "LAB-LFT"]  # the third night, the test
    for c in later:
        assert (c.in_package, c.amount, c.patient_amount) == (True, D("0"), D("0"))

    bill = services.bill_create(actor=clerk, account=account)

    assert (bill.scheme_amount, bill.patient_amount) == (D("12000.00"), D("118.00"))
    assert (bill.amount, bill.tax) == (D("12100.00"), D("18.00"))
    assert bill.amount + bill.tax == bill.scheme_amount + bill.patient_amount
    assert not Charge.objects.filter(account=account, bill__isnull=True).exists()
    due = selectors.balance(account)
    assert (due.scheme_due, due.patient_due) == (D("12000.00"), D("118.00"))


@pytest.fixture
def billed(stay, hospital, clock_at):
    admission, account = stay
    services.package_book(
        actor=hospital["clerk"], account=account, code="PKG-DENGUE", reason=APPROVAL
    )
    clock_at(2026, 12, 1, 10, 0)
    ipd.discharge(hospital["doctor"], admission)
    capture.capture(patient=admission.patient)
    return account, services.bill_create(actor=hospital["clerk"], account=account)


def settle(hospital, account, amount, **kwargs):
    args = {
        "kind": PaymentKind.SETTLEMENT,
        "mode": PaymentMode.SCHEME,
        "reference": "CLM-2026-0042",
    }
    return services.payment_receive(
        actor=hospital["clerk"],
        account=account,
        counter=f.counter("IPD-1"),
        amount=amount,
        **{**args, **kwargs},
    )


def test_the_scheme_settles_up_to_what_it_owes_and_no_more(billed, hospital):
    account, bill = billed
    f.counter("IPD-1")
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationFailed, match=r"more than the ₹12,000\.00 the scheme owes"):
        settle(hospital, account, "12000.01", bill=bill)
    with pytest.raises(ValidationFailed, match="needs the claim number"):
        settle(hospital, account, "100", reference="")
    with pytest.raises(ValidationFailed, match="Only a scheme settlement is paid in mode"):
        settle(hospital, account, "100", mode=PaymentMode.CASH)
    with pytest.raises(ValidationFailed, match="Only a scheme settlement is paid in mode"):
        settle(hospital, account, "100", kind=PaymentKind.PAYMENT)
    assert LedgerEntry.objects.count() == before

    first = settle(hospital, account, "7000", bill=bill)
    second = settle(hospital, account, "5000.00", reference="CLM-2026-0042/2")

    assert (first.kind, first.mode, first.reference) == ("settlement", "scheme", "CLM-2026-0042")
    assert [first.number[-6:], second.number[-6:]] == ["000001", "000002"]
    due = selectors.balance(account)
    assert (due.settled, due.scheme_due, due.patient_due) == (D("12000"), D("0"), D("118.00"))
    with pytest.raises(ValidationFailed, match=r"more than the ₹0\.00 the scheme owes"):
        settle(hospital, account, "0.01")
    # The scheme's money does not make the patient's share smaller.
    with pytest.raises(ValidationFailed, match=r"more than the ₹118\.00 due"):
        services.payment_receive(
            actor=hospital["clerk"],
            account=account,
            counter=f.counter("IPD-1"),
            amount="118.01",
            mode="cash",
        )
    services.payment_receive(
        actor=hospital["clerk"],
        account=account,
        counter=f.counter("IPD-1"),
        amount="118",
        mode="cash",
    )
    assert selectors.balance(account).patient_due == D("0.00")


def test_a_settlement_before_the_bill_is_refused(stay, hospital):
    _, account = stay
    services.package_book(
        actor=hospital["clerk"], account=account, code="PKG-DENGUE", reason=APPROVAL
    )
    with pytest.raises(ValidationFailed, match="the scheme owes"):
        settle(hospital, account, "100")


def test_a_package_is_booked_once(stay, hospital):
    _, account = stay
    clerk = hospital["clerk"]
    services.package_book(actor=clerk, account=account, code="PKG-DENGUE", reason=APPROVAL)
    before = (Charge.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(Conflict, match="already has package PKG-DENGUE"):
        services.package_book(actor=clerk, account=account, code="PKG-APPX", reason=APPROVAL)
    assert (Charge.objects.count(), LedgerEntry.objects.count()) == before


@pytest.mark.parametrize(
    "patient",
    [
        {},
        {"category": "scheme", "scheme": "cghs", "scheme_beneficiary_id": "CG9"},
        {"category": "bpl"},
    ],
    ids=["general", "cghs", "bpl"],
)
def test_a_package_the_patients_scheme_does_not_cover_is_refused(hospital, patient):
    admission = admitted(hospital, PatientFactory(**patient), bed=1)
    capture.capture(patient=admission.patient)
    account = services.account_for(patient=admission.patient, admission=admission)
    before = (Charge.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(ValidationFailed, match=r"does not cover PKG-DENGUE \(PM-JAY package"):
        services.package_book(
            actor=hospital["clerk"], account=account, code="PKG-DENGUE", reason=APPROVAL
        )
    assert (Charge.objects.count(), LedgerEntry.objects.count()) == before
    account.refresh_from_db()
    assert account.package is None


def test_other_refused_bookings(stay, hospital):
    admission, account = stay
    clerk = hospital["clerk"]
    opd = services.account_for(patient=admission.patient)
    before = (Charge.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(Conflict, match="booked on an inpatient stay's account"):
        services.package_book(actor=clerk, account=opd, code="PKG-DENGUE", reason=APPROVAL)
    with pytest.raises(ValidationFailed, match="'PROC-ECG' is not a package"):
        services.package_book(actor=clerk, account=account, code="PROC-ECG", reason=APPROVAL)
    with pytest.raises(ValidationFailed, match="pre-authorisation"):
        services.package_book(actor=clerk, account=account, code="PKG-DENGUE", reason=" ")
    with pytest.raises(ValidationFailed, match="book it on the inpatient account"):
        services.charge_post(actor=clerk, account=account, code="PKG-DENGUE")
    assert (Charge.objects.count(), LedgerEntry.objects.count()) == before
