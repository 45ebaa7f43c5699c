"""Reads for billing: an account's balance, unbilled charges, a bill's lines and what is
still due on it, the cashier's expected takings, and approvals waiting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from ajeya.billing.models import (
    Account,
    AccountKind,
    ApprovalStatus,
    Bill,
    Charge,
    Counter,
    Discount,
    Payment,
    PaymentKind,
    PaymentMode,
)
from ajeya.core import money
from ajeya.core.errors import NotFound
from ajeya.core.periods import Period

ZERO = money.ZERO


def _sum(query: QuerySet, field: str) -> Decimal:
    return query.aggregate(v=Coalesce(Sum(field), ZERO))["v"]


@dataclass(frozen=True)
class Balance:
    billed_patient: Decimal  # the patient's share of every bill line (reversals included)
    billed_scheme: Decimal
    unbilled_patient: Decimal  # running charges not yet on a bill
    unbilled_scheme: Decimal
    discounts: Decimal  # approved
    received: Decimal  # payments and deposits
    refunded: Decimal
    refunds_awaiting: Decimal
    settled: Decimal  # scheme settlements

    @property
    def patient_due(self) -> Decimal:
        """What the patient owes on bills made so far (negative: money in hand)."""
        return self.billed_patient - self.discounts - self.received + self.refunded

    @property
    def running_due(self) -> Decimal:
        """As `patient_due`, counting the charges not yet billed (the interim bill)."""
        return self.patient_due + self.unbilled_patient

    @property
    def credit(self) -> Decimal:
        """Money paid and not used by any charge, billed or running: what may be refunded."""
        return max(-self.running_due, ZERO)

    @property
    def scheme_due(self) -> Decimal:
        return self.billed_scheme - self.settled


def balance(account: Account) -> Balance:
    charges = Charge.objects.filter(account=account).aggregate(
        billed_patient=Coalesce(Sum("patient_amount", filter=Q(bill__isnull=False)), ZERO),
        billed_scheme=Coalesce(Sum("scheme_amount", filter=Q(bill__isnull=False)), ZERO),
        unbilled_patient=Coalesce(Sum("patient_amount", filter=Q(bill__isnull=True)), ZERO),
        unbilled_scheme=Coalesce(Sum("scheme_amount", filter=Q(bill__isnull=True)), ZERO),
    )
    done = Q(status=ApprovalStatus.DONE)
    money_moved = Payment.objects.filter(account=account).aggregate(
        received=Coalesce(
            Sum("amount", filter=done & Q(kind__in=[PaymentKind.PAYMENT, PaymentKind.DEPOSIT])),
            ZERO,
        ),
        refunded=Coalesce(Sum("amount", filter=done & Q(kind=PaymentKind.REFUND)), ZERO),
        awaiting=Coalesce(
            Sum(
                "amount",
                filter=Q(status=ApprovalStatus.AWAITING, kind=PaymentKind.REFUND),
            ),
            ZERO,
        ),
        settled=Coalesce(Sum("amount", filter=done & Q(kind=PaymentKind.SETTLEMENT)), ZERO),
    )
    discounts = _sum(Discount.objects.filter(bill__account=account, status=ApprovalStatus.DONE),
                     "amount")  # fmt: skip
    return Balance(
        billed_patient=charges["billed_patient"],
        billed_scheme=charges["billed_scheme"],
        unbilled_patient=charges["unbilled_patient"],
        unbilled_scheme=charges["unbilled_scheme"],
        discounts=discounts,
        received=money_moved["received"],
        refunded=money_moved["refunded"],
        refunds_awaiting=money_moved["awaiting"],
        settled=money_moved["settled"],
    )


def bill_patient_total(bill: Bill) -> Decimal:
    """The patient's share of the bill now: its lines, reversals included."""
    return _sum(Charge.objects.filter(bill=bill), "patient_amount")


def discountable(bill: Bill) -> Decimal:
    """What a further discount may still take off the bill (approved and waiting ones
    count against it)."""
    given = _sum(bill.discounts.exclude(status=ApprovalStatus.REJECTED), "amount")
    return max(bill_patient_total(bill) - given, ZERO)


def unbilled(account: Account) -> QuerySet[Charge]:
    return (
        Charge.objects.filter(account=account, bill__isnull=True)
        .select_related("department", "reverses")
        .order_by("service_date", "id")
    )


def bill_lines(bill: Bill) -> QuerySet[Charge]:
    return bill.lines.select_related("department").order_by("service_date", "id")


def accounts_of(patient) -> QuerySet[Account]:
    return Account.objects.filter(patient=patient).select_related("admission", "package")


def opd_account(patient) -> Account | None:
    return Account.objects.filter(patient=patient, kind=AccountKind.OPD).first()


def expected_takings(*, counter: Counter, cashier, date: dt.date) -> dict[str, Decimal]:
    """Money in minus money out per mode for one cashier's day at one counter (scheme
    settlements are not cash in the drawer and are left out)."""
    start, end = Period(date, date).bounds()
    rows = (
        Payment.objects.filter(
            counter=counter,
            requested_by=cashier,
            status=ApprovalStatus.DONE,
            paid_at__gte=start,
            paid_at__lt=end,
        )
        .exclude(mode=PaymentMode.SCHEME)
        .values("mode", "kind")
        .annotate(total=Sum("amount"))
    )
    takings: dict[str, Decimal] = {}
    for row in rows:
        sign = -1 if row["kind"] == PaymentKind.REFUND else 1
        takings[row["mode"]] = takings.get(row["mode"], ZERO) + sign * row["total"]
    return takings


def awaiting_approval() -> tuple[QuerySet[Payment], QuerySet[Discount]]:
    refunds = Payment.objects.filter(status=ApprovalStatus.AWAITING).select_related(
        "account__patient", "requested_by", "counter"
    )
    discounts = Discount.objects.filter(status=ApprovalStatus.AWAITING).select_related(
        "bill__account__patient", "requested_by"
    )
    return refunds, discounts


# -- what the counter's pages read ------------------------------------------------------


def account_get(number: str) -> Account:
    account = (
        Account.objects.select_related("patient", "admission", "package")
        .filter(number=number.strip().upper())
        .first()
    )
    if account is None:
        raise NotFound(f"No account has number {number}.")
    return account


def bill_get(pk: int) -> Bill:
    bill = (
        Bill.objects.select_related(
            "account__patient",
            "account__admission",
            "account__package",
            "created_by",
            "cancelled_by",
        )
        .filter(pk=pk)
        .first()
    )
    if bill is None:
        raise NotFound(f"No bill {pk}.")
    return bill


def charge_get(pk: int) -> Charge:
    charge = (
        Charge.objects.select_related("account__patient", "account__admission", "account__package")
        .filter(pk=pk)
        .first()
    )
    if charge is None:
        raise NotFound(f"No charge {pk}.")
    return charge


def payment_get(pk: int) -> Payment:
    payment = (
        Payment.objects.select_related(
            "account__patient",
            "account__admission",
            "counter",
            "bill",
            "requested_by",
            "decided_by",
        )
        .filter(pk=pk)
        .first()
    )
    if payment is None:
        raise NotFound(f"No payment {pk}.")
    return payment


def payments_in(query) -> list[Payment]:
    return list(query.select_related("counter", "bill", "requested_by").order_by("requested_at"))


def reversed_ids(charges) -> set[int]:
    return {c.reverses_id for c in charges if c.reverses_id}


MONEY_KINDS = (PaymentKind.PAYMENT, PaymentKind.DEPOSIT)


def bill_figures(bill: Bill, lines: list[Charge], payments: list[Payment], discounts) -> dict:
    patient_now = money.total(c.patient_amount for c in lines)
    given = money.total(d.amount for d in discounts if d.status == ApprovalStatus.DONE)
    paid = money.total(
        p.amount for p in payments if p.status == ApprovalStatus.DONE and p.kind in MONEY_KINDS
    )
    settled = money.total(
        p.amount
        for p in payments
        if p.status == ApprovalStatus.DONE and p.kind == PaymentKind.SETTLEMENT
    )
    scheme_now = money.total(c.scheme_amount for c in lines)
    return {
        "amount": money.total(c.amount for c in lines),
        "tax": money.total(c.tax for c in lines),
        "scheme": scheme_now,
        "patient": patient_now,
        "discounts": given,
        "paid": paid,
        "settled": settled,
        "due": patient_now - given - paid,
        "scheme_due": scheme_now - settled,
    }


def bill_statement(bill: Bill) -> dict:
    lines = list(bill_lines(bill))
    payments = payments_in(bill.payments.all())
    discounts = list(bill.discounts.select_related("requested_by", "decided_by"))
    return {
        "bill": bill,
        "lines": lines,
        "reversed": reversed_ids(lines),
        "payments": payments,
        "discounts": discounts,
        "figures": bill_figures(bill, lines, payments, discounts),
    }
