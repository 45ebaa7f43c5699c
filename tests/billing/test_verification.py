"""`ajeya verify` over billing: clean after a day at the counter, and money changed
behind the application's back (raw SQL, a stolen database password) is named."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from ajeya.billing import capture, selectors, services
from ajeya.billing.models import Charge, Payment, PaymentKind
from ajeya.core import clock
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.registry import state_of
from ajeya.ledger.verification import verify
from tests.billing import factories as f
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

D = Decimal


def raw(sql: str, params: list) -> None:
    """Play the intruder: SQL straight at the database, past every service."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def findings() -> list[tuple[str, str, str]]:
    return [(x.table, x.ident, x.problem) for x in verify(use_checkpoint_dir=False).findings]


@pytest.fixture
def day(clock_at, settings):
    """A morning at counter OPD-1: bills, payments by cash and UPI, a deposit, a refund, a
    discount waiting for and given approval, a cancelled bill, and the day closed."""
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("20")
    clock_at(2026, 11, 30, 9, 0)
    f.load_tariff()
    clerk, boss, counter = f.cashier(), f.supervisor(), f.counter()
    first, second = PatientFactory(), PatientFactory()
    capture.capture()
    one = services.account_for(patient=first)
    services.charge_post(actor=clerk, account=one, code="PROC-ECG")
    services.charge_post(actor=clerk, account=one, code="PROC-CERT")
    bill = services.bill_create(actor=clerk, account=one)  # 10 + 50 + 118
    discount = services.discount_request(actor=clerk, bill=bill, amount="28", reason="poor patient")
    services.discount_decide(actor=boss, discount=discount, approve=True)
    cash = services.payment_receive(
        actor=clerk, account=one, counter=counter, amount="100", mode="cash", bill=bill
    )
    services.payment_receive(
        actor=clerk,
        account=one,
        counter=counter,
        amount="50",
        mode="upi",
        reference="412345678901",
        bill=bill,
    )
    two = services.account_for(patient=second)
    services.payment_receive(
        actor=clerk,
        account=two,
        counter=counter,
        amount="500",
        mode="cash",
        kind=PaymentKind.DEPOSIT,
    )
    wrong = services.bill_create(actor=clerk, account=two)
    services.bill_cancel(actor=clerk, bill=wrong, reason="registered twice")
    services.refund_request(
        actor=clerk, account=two, counter=counter, amount="15", mode="cash", reason="unused"
    )
    clock_at(2026, 11, 30, 17, 0)
    services.day_close(
        actor=clerk, counter=counter, date=clock.today(), counted={"cash": "585", "upi": "50"}
    )
    assert selectors.balance(one).patient_due == D("0.00")
    return {"payment": cash, "bill": bill}


def test_a_day_of_billing_verifies_clean(day):
    report = verify(use_checkpoint_dir=False)
    assert report.findings == []
    assert report.rows_checked > 0


def test_a_payment_changed_by_raw_sql_is_named(day):
    payment = day["payment"]
    raw("UPDATE billing_payment SET amount = %s WHERE id = %s", ["10.00", payment.pk])
    [(table, ident, problem)] = findings()
    assert (table, ident) == ("billing_payment", str(payment.pk))
    assert problem.startswith("differs from ledger entry #")
    assert problem.endswith("in amount")


def test_a_forger_who_reseals_the_payment_is_still_named(day):
    payment = Payment.objects.get(pk=day["payment"].pk)
    payment.amount = D("10.00")
    raw(
        "UPDATE billing_payment SET amount = %s, seal = %s WHERE id = %s",
        ["10.00", state_hash(state_of(payment)), payment.pk],
    )
    [(table, ident, problem)] = findings()
    assert (table, ident) == ("billing_payment", str(payment.pk))
    assert problem.endswith("in amount (its seal was recomputed to hide it)")


def test_a_charge_made_cheaper_and_a_payment_slipped_in_are_named(day):
    charge = Charge.objects.get(code="PROC-ECG")
    raw(
        "UPDATE billing_charge SET amount = 5, patient_amount = 5 WHERE id = %s",
        [charge.pk],
    )
    raw(
        "INSERT INTO billing_payment (number, counter_id, account_id, kind, mode, amount, "
        "reference, reason, status, requested_at, requested_by_id, paid_at, seal) "
        "SELECT 'R/OPD-1/2026-27/999999', counter_id, account_id, kind, mode, 1000, '', '', "
        "status, requested_at, requested_by_id, paid_at, '' FROM billing_payment WHERE id = %s",
        [day["payment"].pk],
    )
    found = findings()
    assert len(found) == 2, found
    by_table = {table: (ident, problem) for table, ident, problem in found}
    assert by_table["billing_charge"][0] == str(charge.pk)
    assert "in amount, patient_amount" in by_table["billing_charge"][1]
    assert "added behind the application's back" in by_table["billing_payment"][1]
