"""Every refusal of the billing services names its problem and writes nothing: the
failure paths the other test files do not reach."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.billing import capture, services, tariff
from ajeya.billing.models import Charge, PaymentKind
from ajeya.core import clock
from ajeya.core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from ajeya.ledger.models import LedgerEntry
from tests.billing import factories as f
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    f.load_tariff()
    f.counter("OPD-1")
    return f.cashier()


@pytest.fixture
def billed(clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = services.account_for(patient=patient)
    return services.bill_create(actor=clerk, account=account)


def refused(error: type[ApplicationError], match: str, call) -> None:
    """The call is refused with `error` naming `match`, and the ledger did not move."""
    before = LedgerEntry.objects.count()
    with pytest.raises(error, match=match):
        call()
    assert LedgerEntry.objects.count() == before


def test_a_reversal_is_not_reversed_and_a_charge_only_once(clerk, billed):
    line = billed.lines.get()
    reversal = services.charge_reverse(actor=clerk, charge=line, reason="registered twice")
    refused(
        Conflict,
        "already reversed",
        lambda: services.charge_reverse(actor=clerk, charge=line, reason="again please"),
    )
    refused(
        Conflict,
        "cannot itself be reversed",
        lambda: services.charge_reverse(actor=clerk, charge=reversal, reason="undo it"),
    )


def test_a_cancelled_bills_lines_are_reversed_already(clerk):
    patient = PatientFactory()
    capture.capture(patient=patient)
    account = services.account_for(patient=patient)
    services.charge_post(actor=clerk, account=account, code="PROC-ECG")
    bill = services.bill_create(actor=clerk, account=account)
    services.bill_cancel(actor=clerk, bill=bill, reason="wrong patient")
    line = bill.lines.filter(reverses__isnull=True).first()
    refused(
        Conflict,
        "is already reversed",
        lambda: services.charge_reverse(actor=clerk, charge=line, reason="once more"),
    )


def test_a_billed_charge_is_not_repriced(clerk, billed):
    refused(
        Conflict,
        "corrected by reversal|priced already",
        lambda: services.charge_reprice(actor=clerk, charge=billed.lines.get()),
    )


@pytest.mark.parametrize(
    ("code", "quantity", "day", "field", "message"),
    [
        ("PKG-TKR", "1", None, "code", "is a package"),
        ("NOPE", "1", None, "code", "No active tariff item"),
        ("PROC-ECG", "0", None, "quantity", "Quantity must be"),
        ("PROC-ECG", "1.001", None, "quantity", "Quantity must be"),
        ("PROC-ECG", "1", 1, "service_date", "before it is given"),
    ],
)
def test_hand_posted_charges_are_checked(clerk, code, quantity, day, field, message):
    account = services.account_for(patient=PatientFactory())
    when = clock.today() + dt.timedelta(days=day) if day else None
    before = Charge.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.charge_post(
            actor=clerk, account=account, code=code, quantity=quantity, service_date=when
        )
    assert message in " ".join(caught.value.errors[field])
    assert Charge.objects.count() == before


def test_packages_only_on_a_stay(clerk):
    account = services.account_for(
        patient=PatientFactory(category="scheme", scheme="pmjay", scheme_beneficiary_id="PM1")
    )
    refused(
        Conflict,
        "inpatient stay",
        lambda: services.package_book(
            actor=clerk, account=account, code="PKG-TKR", reason="pre-auth PA-1"
        ),
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"kind": "refund"}, "kind", "is not money received"),
        ({"mode": "cheque"}, "mode", "is not a payment mode"),
        ({"mode": "scheme", "reference": "CLM-1"}, "mode", "Only a scheme settlement"),
        ({"mode": "card"}, "reference", "approval code"),
        ({"mode": "upi", "reference": "12345"}, "reference", "12-digit UTR"),
        ({"kind": "settlement", "mode": "scheme"}, "reference", "claim number"),
        ({"counter": "NOWHERE"}, "counter", "No open cash counter"),
    ],
)
def test_payments_are_checked_before_anything_is_written(clerk, kwargs, field, message):
    account = services.account_for(patient=PatientFactory())
    args = {
        "counter": "OPD-1",
        "amount": "10",
        "mode": "cash",
        "kind": PaymentKind.DEPOSIT,
        **kwargs,
    }
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.payment_receive(actor=clerk, account=account, **args)
    assert message in " ".join(caught.value.errors[field])
    assert LedgerEntry.objects.count() == before


def test_a_payment_names_the_right_bill(clerk, billed):
    other = services.account_for(patient=PatientFactory())
    refused(
        ValidationFailed,
        "not on this account",
        lambda: services.payment_receive(
            actor=clerk, account=other, counter="OPD-1", amount="10", mode="cash", bill=billed
        ),
    )
    services.bill_cancel(actor=clerk, bill=billed, reason="not needed")
    billed.refresh_from_db()
    refused(
        Conflict,
        "nothing is due on it",
        lambda: services.payment_receive(
            actor=clerk,
            account=billed.account,
            counter="OPD-1",
            amount="10",
            mode="cash",
            bill=billed,
        ),
    )


def test_refunds_go_back_in_cash_card_or_upi(clerk):
    account = services.account_for(patient=PatientFactory())
    services.payment_receive(
        actor=clerk,
        account=account,
        counter="OPD-1",
        amount="50",
        mode="cash",
        kind=PaymentKind.DEPOSIT,
    )
    refused(
        ValidationFailed,
        "cash, to the card, or by UPI",
        lambda: services.refund_request(
            actor=clerk,
            account=account,
            counter="OPD-1",
            amount="10",
            mode="scheme",
            reason="leaving early",
        ),
    )


def test_deciding_a_request_that_does_not_exist(clerk):
    from ajeya.billing.models import Payment

    admin = f.supervisor()
    refused(
        NotFound,
        "No such request",
        lambda: services.refund_decide(actor=admin, refund=Payment(pk=999999), approve=True),
    )


def test_tariff_items_and_counters_are_not_made_twice_or_with_bad_codes(clerk):
    admin = f.supervisor()
    refused(
        Conflict,
        "exists already",
        lambda: tariff.item_create(actor=admin, code="reg", name="Again", kind="other"),
    )
    refused(
        Conflict,
        "exists already",
        lambda: tariff.counter_create(actor=admin, code="opd-1", name="Again"),
    )
    refused(
        ValidationFailed,
        "counter code",
        lambda: tariff.counter_create(actor=admin, code="OPD 1!", name="Bad"),
    )
