"""Cashiers and the capture job at the same moment on PostgreSQL: receipt numbers stay
gapless and unique per counter, a refused payment uses no number, a capture posts each
charge once, and refunds together never pay back more than is there."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from ajeya.billing import capture, selectors, services
from ajeya.billing.models import Account, ApprovalStatus, Charge, Payment, PaymentKind
from ajeya.core.errors import ValidationFailed
from ajeya.ledger.verification import verify
from tests.billing import factories as f
from tests.conftest import run_concurrently
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time by design")


@pytest.fixture(autouse=True)
def _morning(clock_at):
    clock_at(2026, 11, 30, 9, 0)


def _race(work, threads: int) -> tuple[list, list[BaseException]]:
    results: list = []
    errors = run_concurrently(lambda n: results.append(work(n)), threads)
    return results, errors


def serials(counter_code: str, *, kind_prefix: str = "R") -> list[int]:
    numbers = Payment.objects.filter(number__startswith=f"{kind_prefix}/{counter_code}/")
    return sorted(int(n.rsplit("/", 1)[1]) for n in numbers.values_list("number", flat=True))


def clean() -> None:
    assert verify(use_checkpoint_dir=False).findings == []


def deposit(cashier, account, counter, amount="100"):
    return services.payment_receive(
        actor=cashier,
        account=account,
        counter=counter,
        amount=amount,
        mode="cash",
        kind=PaymentKind.DEPOSIT,
    )


def test_eight_cashiers_at_one_counter_get_forty_gapless_receipts():
    counter = f.counter("OPD-1")
    cashiers = [f.cashier(f"cashier-{n}") for n in range(8)]
    accounts = [services.account_for(patient=PatientFactory()) for _ in range(8)]

    def five_deposits(n: int) -> list[str]:
        return [deposit(cashiers[n], accounts[n], counter, f"{n + 1}{k}").number for k in range(5)]

    done, errors = _race(five_deposits, 8)

    assert errors == []
    numbers = [number for batch in done for number in batch]
    assert len(numbers) == len(set(numbers)) == 40
    assert serials("OPD-1") == list(range(1, 41))
    for batch in done:  # one cashier's own receipts rise
        assert batch == sorted(batch)
    clean()


def test_payments_refused_inside_the_transaction_use_no_number():
    """Half the cashiers try to take more than is due (refused after the account is
    locked); the others' receipts still number 1..N with no gap."""
    counter = f.counter("OPD-1")
    cashiers = [f.cashier(f"cashier-{n}") for n in range(8)]
    account = services.account_for(patient=PatientFactory())

    def pay(n: int):
        if n % 2:
            return services.payment_receive(
                actor=cashiers[n], account=account, counter=counter, amount="50", mode="cash"
            )  # nothing is billed: nothing is due
        return deposit(cashiers[n], account, counter)

    done, errors = _race(pay, 8)

    assert len(done) == 4
    assert len(errors) == 4
    assert all(isinstance(e, ValidationFailed) and "advance deposit" in str(e) for e in errors)
    assert serials("OPD-1") == [1, 2, 3, 4]
    assert deposit(cashiers[0], account, counter).number.endswith("/000005")
    clean()


def test_two_counters_keep_their_own_series():
    counters = [f.counter("OPD-1"), f.counter("IPD-1")]
    cashiers = [f.cashier(f"cashier-{n}") for n in range(6)]
    accounts = [services.account_for(patient=PatientFactory()) for _ in range(6)]

    _, errors = _race(
        lambda n: [deposit(cashiers[n], accounts[n], counters[n % 2]) for _ in range(3)], 6
    )

    assert errors == []
    assert serials("OPD-1") == list(range(1, 10))
    assert serials("IPD-1") == list(range(1, 10))
    clean()


def test_two_captures_of_one_patient_post_each_charge_once():
    f.load_tariff()
    patient = PatientFactory()
    from tests.appointments import factories as schedule
    from tests.opd import factories as opd

    desk = f.staff("registration_clerk", "desk-1")
    opd.checked_in(desk, schedule.clinic("MED-1"), patient)

    results, errors = _race(lambda n: capture.capture(patient=patient), 4)

    assert errors == []
    assert sum(r.posted for r in results) == 2  # REG and CONS, each by one capture
    sources = list(Charge.objects.values_list("source", flat=True))
    assert sorted(sources) == sorted(set(sources))
    assert len(sources) == 2
    assert Account.objects.filter(patient=patient).count() == 1
    clean()


def test_refunds_at_once_never_pay_back_more_than_the_credit(settings):
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("1000")
    counter = f.counter("OPD-1")
    cashiers = [f.cashier(f"cashier-{n}") for n in range(5)]
    account = services.account_for(patient=PatientFactory())
    deposit(cashiers[0], account, counter, "100")

    done, errors = _race(
        lambda n: services.refund_request(
            actor=cashiers[n],
            account=account,
            counter=counter,
            amount="40",
            mode="cash",
            reason="patient leaving",
        ),
        5,
    )

    assert len(done) == 2
    assert len(errors) == 3
    assert all(isinstance(e, ValidationFailed) and "more than was paid" in str(e) for e in errors)
    assert all(r.status == ApprovalStatus.DONE for r in done)
    assert serials("OPD-1", kind_prefix="RF") == [1, 2]
    balance = selectors.balance(account)
    assert (balance.refunded, balance.credit) == (D("80.00"), D("20.00"))
    clean()


def test_an_approval_and_new_refunds_at_once_stay_within_the_credit(settings):
    """A refund waiting for approval counts against the credit while it waits, so its
    approval and new refunds racing it cannot together pay back more than was paid."""
    settings.AJEYA_BILLING_APPROVAL_LIMIT = D("50")
    counter = f.counter("OPD-1")
    cashiers = [f.cashier(f"cashier-{n}") for n in range(3)]
    boss = f.supervisor()
    account = services.account_for(patient=PatientFactory())
    deposit(cashiers[0], account, counter, "100")
    waiting = services.refund_request(
        actor=cashiers[0],
        account=account,
        counter=counter,
        amount="70",
        mode="cash",
        reason="patient leaving",
    )
    work = [
        lambda: services.refund_decide(actor=boss, refund=waiting, approve=True),
        lambda: services.refund_request(
            actor=cashiers[1],
            account=account,
            counter=counter,
            amount="30",
            mode="cash",
            reason="patient leaving",
        ),
        lambda: services.refund_request(
            actor=cashiers[2],
            account=account,
            counter=counter,
            amount="30",
            mode="cash",
            reason="patient leaving",
        ),
    ]

    done, errors = _race(lambda n: work[n](), 3)

    assert len(done) == 2, errors
    assert [type(e) for e in errors] == [ValidationFailed]
    balance = selectors.balance(account)
    assert (balance.refunded, balance.credit, balance.refunds_awaiting) == (
        D("100"),
        D("0"),
        D("0"),
    )
    clean()
