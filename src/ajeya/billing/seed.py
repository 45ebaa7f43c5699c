"""The demo hospital's billing: the starter tariff, four cash counters, every service of
the seeded fortnight captured as charges, and a day at the counters — OPD bills paid in
cash, card and UPI; deposits for today's inpatients; final bills for those discharged
with their deposits adjusted; a package booked for a PM-JAY inpatient; a small discount;
and a large refund and a large discount waiting for the administrator's approval.

Everything goes through the services (ledgered and sealed). Safe to run again: the
counter day is made only when no bill exists yet.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from ajeya.accounts.models import User
from ajeya.billing import capture, selectors, services, tariff
from ajeya.billing.models import (
    Account,
    AccountKind,
    Bill,
    Charge,
    Counter,
    PaymentKind,
    PaymentMode,
)
from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.core.roles import Role

COUNTERS = [
    ("OPD-1", "OPD cash counter 1"),
    ("OPD-2", "OPD cash counter 2"),
    ("IPD-1", "Inpatient billing counter"),
    ("LAB-1", "Laboratory counter"),
]
CAPTURE_DAYS = 15  # the wards' seeded history is two weeks


def _first(role: Role) -> User | None:
    return User.objects.filter(role=role, is_active=True).order_by("pk").first()


def _utr(rng: random.Random) -> str:
    return str(rng.randint(10**11, 10**12 - 1))


def _pay(cashier, account, bill, counter, due: Decimal, rng: random.Random) -> None:
    mode = rng.choices([PaymentMode.CASH, PaymentMode.UPI, PaymentMode.CARD], [60, 30, 10])[0]
    reference = _utr(rng) if mode == PaymentMode.UPI else ""
    if mode == PaymentMode.CARD:
        reference = f"AP{rng.randint(100000, 999999)}"
    services.payment_receive(
        actor=cashier, account=account, counter=counter, amount=due, mode=mode,
        reference=reference, bill=bill,
    )  # fmt: skip


def _opd_day(rng, cashier, counters, counts) -> None:
    accounts = list(
        Account.objects.filter(
            kind=AccountKind.OPD, charges__bill__isnull=True, charges__patient_amount__gt=0
        )
        .distinct()
        .order_by("pk")
    )
    for n, account in enumerate(accounts[: max(len(accounts) * 2 // 3, 1)]):
        try:
            bill = services.bill_create(actor=cashier, account=account)
        except ApplicationError:
            continue
        counts["bills"] += 1
        due = selectors.balance(account).patient_due
        if n == 3 and due > 20:  # a concession for a poor patient, within the limit
            services.discount_request(
                actor=cashier, bill=bill, amount="20.00", reason="Poor patient, MSW advice"
            )
            due -= 20
        if due > 0:
            _pay(cashier, account, bill, counters["OPD-1" if n % 2 else "OPD-2"], due, rng)
            counts["payments"] += 1


def _wards(rng, cashier, counters, counts) -> None:
    for account in Account.objects.filter(kind=AccountKind.IPD).select_related(
        "admission", "patient"
    ):
        admission = account.admission
        if account.patient.category in ("general", "staff"):
            # The advance is paid an hour after admission, not at the moment of seeding.
            with clock.travel(admission.admitted_at + dt.timedelta(hours=1)):
                services.payment_receive(
                    actor=cashier, account=account, counter=counters["IPD-1"],
                    amount=rng.choice(["2000", "5000", "10000"]), mode=PaymentMode.CASH,
                    kind=PaymentKind.DEPOSIT,
                )  # fmt: skip
            counts["deposits"] += 1
        if admission.status == "discharged" and account.charges.filter(bill__isnull=True):
            bill = services.bill_create(actor=cashier, account=account)
            counts["bills"] += 1
            b = selectors.balance(account)
            if b.patient_due > 0:
                _pay(cashier, account, bill, counters["IPD-1"], b.patient_due, rng)
                counts["payments"] += 1
            elif b.credit > 0 and b.credit <= 1000:
                services.refund_request(
                    actor=cashier, account=account, counter=counters["IPD-1"],
                    amount=b.credit, mode=PaymentMode.CASH, reason="Unused advance at discharge",
                )  # fmt: skip
                counts["refunds"] += 1


def _package(cashier) -> None:
    stay = (
        Account.objects.filter(
            kind=AccountKind.IPD,
            patient__scheme="pmjay",
            package__isnull=True,
        )
        .order_by("admission__status", "pk")  # "admitted" before "discharged"
        .first()
    )
    if stay is not None:
        services.package_book(
            actor=cashier, account=stay, code="PKG-DENGUE", reason="PM-JAY pre-auth PA2611-0042"
        )


def _settle(cashier, counters, counts) -> None:
    """The scheme pays its share of the first scheme patient's final bill."""
    bill = (
        Bill.objects.filter(account__kind=AccountKind.IPD, scheme_amount__gt=0)
        .order_by("pk")
        .first()
    )
    if bill is None:
        return
    due = selectors.balance(bill.account).scheme_due
    if due > 0:
        services.payment_receive(
            actor=cashier, account=bill.account, counter=counters["IPD-1"], amount=due,
            mode=PaymentMode.SCHEME, kind=PaymentKind.SETTLEMENT, reference="CLM-2611-0193",
            bill=bill,
        )  # fmt: skip
        counts["payments"] += 1


def _awaiting(rng, cashier, counters) -> None:
    """A large refund and a large discount for the administrator to decide."""
    stay = next(
        (
            a
            for a in Account.objects.filter(kind=AccountKind.IPD, admission__status="discharged")
            if selectors.balance(a).credit > 1000
        ),
        None,
    )
    if stay is not None:
        services.refund_request(
            actor=cashier, account=stay, counter=counters["IPD-1"],
            amount=selectors.balance(stay).credit, mode=PaymentMode.UPI,
            reference=_utr(rng), reason="Unused advance at discharge, to the patient's UPI",
        )  # fmt: skip
    bill = (
        Bill.objects.filter(account__kind=AccountKind.IPD, cancelled_at__isnull=True)
        .order_by("-patient_amount")
        .first()
    )
    if bill is not None and selectors.discountable(bill) > 1500:
        services.discount_request(
            actor=cashier, bill=bill, amount="1500.00",
            reason="Widow pension holder: hospital welfare committee concession",
        )  # fmt: skip


def seed_billing(*, seed: int = 1) -> dict[str, int]:
    tariff.load()
    existing = set(Counter.objects.values_list("code", flat=True))
    for code, name in COUNTERS:
        if code not in existing:
            tariff.counter_create(actor=None, code=code, name=name, system=True)
    captured = capture.capture(days=CAPTURE_DAYS)
    counts = {"charges": Charge.objects.count(), "bills": 0, "payments": 0, "deposits": 0,
              "refunds": 0, "unpriced": len(captured.unpriced)}  # fmt: skip
    cashier = _first(Role.BILLING_CLERK)
    if cashier is None or Bill.objects.exists():
        return counts
    rng = random.Random(seed)
    counters = {c.code: c for c in Counter.objects.all()}
    _package(cashier)
    _wards(rng, cashier, counters, counts)
    _settle(cashier, counters, counts)
    _opd_day(rng, cashier, counters, counts)
    _awaiting(rng, cashier, counters)
    counts["charges"] = Charge.objects.count()
    return counts
