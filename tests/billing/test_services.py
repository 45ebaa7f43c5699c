"""Billing services end to end: capture, bills, payments, refunds, discounts, day close."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ajeya.billing import capture, selectors, services
from ajeya.billing.models import ApprovalStatus, Charge, DayCloseLine, Payment, PaymentKind
from ajeya.core import clock
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from tests.billing import factories as f
from tests.ipd.factories import assert_sealed
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def tariff():
    f.load_tariff()


@pytest.fixture
def clerk():
    return f.cashier()


def _opd(patient):
    return services.account_for(patient=patient)


def test_registration_fee_is_captured_once_however_often_capture_runs(tariff):
    patient = PatientFactory()
    first = capture.capture(patient=patient)
    again = capture.capture(patient=patient)
    assert (first.posted, again.posted) == (1, 0)
    charge = Charge.objects.get(account__patient=patient)
    assert (charge.code, charge.amount, charge.patient_amount) == ("REG", D("10.00"), D("10.00"))
    assert charge.source == f"patients.patient:{patient.uhid}"
    assert_sealed(charge)


def test_category_picks_the_rate_and_a_scheme_pays_its_share(tariff):
    staff_patient = PatientFactory(category="staff")
    cghs = PatientFactory(category="scheme", scheme="cghs", scheme_beneficiary_id="CG123")
    lab.load_catalogue()
    for p in (staff_patient, cghs):
        lab.walk_in(("CBC",), patient=p)
    capture.capture()
    cbc = {c.account.patient: c for c in Charge.objects.filter(code="LAB-CBC")}
    assert cbc[staff_patient].patient_amount == D("0.00")
    assert (cbc[cghs].scheme_amount, cbc[cghs].patient_amount) == (D("135.00"), D("0.00"))


def test_unknown_scheme_price_falls_back_to_general_paid_by_patient(tariff):
    esi = PatientFactory(category="scheme", scheme="esi", scheme_beneficiary_id="ESI9")
    capture.capture(patient=esi)
    reg = Charge.objects.get(account__patient=esi)
    assert (reg.rate_class, reg.scheme_amount, reg.patient_amount) == (
        "general",
        D("0.00"),
        D("10.00"),
    )


def test_lab_test_cancelled_before_collection_is_reversed_once(tariff):
    lab.load_catalogue()
    order = lab.walk_in(("CBC", "LFT"))
    capture.capture(patient=order.patient)
    item = order.items.get(panel__code="LFT")
    from ajeya.lab import services as lab_services

    lab_services.item_cancel(actor=lab.technician(), item=item, reason="duplicate order")
    first = capture.capture(patient=order.patient)
    second = capture.capture(patient=order.patient)
    assert (first.reversed, second.reversed) == (1, 0)
    lft = Charge.objects.filter(source=f"lab.item:{item.pk}").order_by("id")
    assert [c.patient_amount for c in lft] == [D("225.00"), D("-225.00")]
    assert lft[1].reverses == lft[0]


def test_opd_bill_payment_and_gapless_receipts(tariff, clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = _opd(patient)
    services.charge_post(actor=clerk, account=account, code="PROC-ECG")
    bill = services.bill_create(actor=clerk, account=account)
    assert bill.patient_amount == D("60.00")
    assert bill.amount + bill.tax == bill.scheme_amount + bill.patient_amount
    counter = f.counter()
    p1 = services.payment_receive(
        actor=clerk, account=account, counter=counter, amount="40", mode="cash", bill=bill
    )
    p2 = services.payment_receive(
        actor=clerk,
        account=account,
        counter=counter,
        amount="20.00",
        mode="upi",
        reference="412345678901",
        bill=bill,
    )
    fy = p1.number.split("/")[2]
    assert [p1.number, p2.number] == [f"R/OPD-1/{fy}/000001", f"R/OPD-1/{fy}/000002"]
    assert selectors.balance(account).patient_due == D("0.00")


def test_paying_more_than_due_is_refused_and_nothing_saved(tariff, clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = _opd(patient)
    services.bill_create(actor=clerk, account=account)
    with pytest.raises(ValidationFailed, match="advance deposit"):
        services.payment_receive(
            actor=clerk, account=account, counter=f.counter(), amount="10.01", mode="cash"
        )
    assert not Payment.objects.exists()
    deposit = services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount="500", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    assert deposit.number.endswith("000001")  # the refused payment used no number


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-5", "negative"), ("abc", "not a number"), ("1.005", "two decimal"), ("0", "more than")],
)
def test_bad_amounts_are_named(tariff, clerk, amount, message):
    account = _opd(PatientFactory())
    with pytest.raises(ValidationFailed, match=message):
        services.payment_receive(
            actor=clerk, account=account, counter=f.counter(), amount=amount, mode="cash",
            kind=PaymentKind.DEPOSIT,
        )  # fmt: skip


def test_upi_needs_its_reference(tariff, clerk):
    account = _opd(PatientFactory())
    with pytest.raises(ValidationFailed, match="UTR"):
        services.payment_receive(
            actor=clerk, account=account, counter=f.counter(), amount="10", mode="upi",
            kind=PaymentKind.DEPOSIT,
        )  # fmt: skip


def test_refund_only_of_money_paid_and_not_used(tariff, clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = _opd(patient)
    services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount="100", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    # ₹10 registration fee is running: ₹90 may go back, not ₹100.
    with pytest.raises(ValidationFailed, match="more than was paid"):
        services.refund_request(
            actor=clerk, account=account, counter=f.counter(), amount="90.01", mode="cash",
            reason="patient leaving",
        )  # fmt: skip
    refund = services.refund_request(
        actor=clerk, account=account, counter=f.counter(), amount="90", mode="cash",
        reason="patient leaving",
    )  # fmt: skip
    assert refund.status == ApprovalStatus.DONE
    assert refund.number.startswith("RF/OPD-1/")


def test_big_refund_waits_for_a_second_person(tariff, clerk, settings):
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("50")
    account = _opd(PatientFactory())
    services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount="100", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    refund = services.refund_request(
        actor=clerk, account=account, counter=f.counter(), amount="80", mode="cash",
        reason="patient leaving",
    )  # fmt: skip
    assert (refund.status, refund.number) == (ApprovalStatus.AWAITING, None)
    with pytest.raises(PermissionRefused):
        services.refund_decide(actor=clerk, refund=refund, approve=True)
    boss = f.supervisor()
    done = services.refund_decide(actor=boss, refund=refund, approve=True)
    assert done.status == ApprovalStatus.DONE
    assert done.number.endswith("000001")
    with pytest.raises(Conflict, match="already"):
        services.refund_decide(actor=boss, refund=refund, approve=True)


def test_bill_cancel_reverses_lines_and_frees_the_payment(tariff, clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = _opd(patient)
    bill = services.bill_create(actor=clerk, account=account)
    services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount="10", mode="cash", bill=bill
    )
    services.bill_cancel(actor=clerk, bill=bill, reason="registered twice by mistake")
    assert selectors.bill_patient_total(bill) == D("0.00")
    assert selectors.balance(account).credit == D("10.00")
    with pytest.raises(Conflict, match="already cancelled"):
        services.bill_cancel(actor=clerk, bill=bill, reason="registered twice by mistake")


def test_discount_limited_to_the_bill_and_needs_reason(tariff, clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    bill = services.bill_create(actor=clerk, account=_opd(patient))
    with pytest.raises(ValidationFailed, match="Say why"):
        services.discount_request(actor=clerk, bill=bill, amount="5", reason="")
    with pytest.raises(ValidationFailed, match="more than the patient's share"):
        services.discount_request(actor=clerk, bill=bill, amount="10.50", reason="poor patient")
    services.discount_request(actor=clerk, bill=bill, amount="10", reason="poor patient")
    assert selectors.balance(bill.account).patient_due == D("0.00")


def test_day_close_records_differences_and_only_once(tariff, clerk):
    account = _opd(PatientFactory())
    services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount="500", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    close = services.day_close(
        actor=clerk, counter="OPD-1", date=clock.today(), counted={"cash": "480"}
    )
    cash = DayCloseLine.objects.get(close=close, mode="cash")
    assert (cash.expected, cash.counted, cash.difference) == (D("500"), D("480"), D("-20"))
    with pytest.raises(Conflict, match="already closed"):
        services.day_close(actor=clerk, counter="OPD-1", date=clock.today(), counted={})
    # Money taken after the close would not be in it: refused at that counter.
    with pytest.raises(Conflict, match="day at OPD-1 is closed"):
        services.payment_receive(
            actor=clerk, account=account, counter="OPD-1", amount="5", mode="cash",
            kind=PaymentKind.DEPOSIT,
        )  # fmt: skip
    other = services.payment_receive(
        actor=clerk, account=account, counter=f.counter("OPD-2"), amount="5", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    assert other.number.startswith("R/OPD-2/")


def test_bed_days_by_midnight_and_final_bill_with_deposit(tariff, clerk):
    from tests.appointments import factories as schedule
    from tests.ipd import factories as ipd

    ward = ipd.ward("W1", rooms={"1": ["general", "icu"]})
    general, _icu = ipd.beds(ward)
    doctor = f.staff(Role.DOCTOR, "dr-ward")
    unit = schedule.clinic("MED-1")
    start = clock.now() - dt.timedelta(days=3)
    admission = ipd.admit(doctor, general, doctor=doctor, unit=unit, admitted_at=start)
    account = services.account_for(patient=admission.patient, admission=admission)
    services.payment_receive(
        actor=clerk, account=account, counter=f.counter("IPD-1"), amount="1000", mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip
    with pytest.raises(Conflict, match="at discharge"):
        services.bill_create(actor=clerk, account=account)
    ipd.discharge(doctor, admission)
    capture.capture(patient=admission.patient)
    assert capture.capture(patient=admission.patient).posted == 0
    beds = Charge.objects.filter(account=account, code="BED-GEN")
    assert beds.count() == 3  # three midnights
    bill = services.bill_create(actor=clerk, account=account)
    assert bill.patient_amount == D("105.00")
    assert selectors.balance(account).credit == D("895.00")
