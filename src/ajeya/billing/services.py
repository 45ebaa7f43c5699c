"""Every write in billing: charges, bills, money in and out, discounts, approvals and the
cashier's day-end — each on the ledger, each all or nothing, none an edit of the past.

Money checks are made at the account: what the patient owes on bills made so far
(`selectors.balance`). A payment may not exceed it (an advance is a deposit), a refund
may not exceed what was paid and not used, a scheme settlement what the scheme owes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from ajeya.billing import numbers, pricing, selectors
from ajeya.billing.models import (
    Account,
    AccountKind,
    ApprovalStatus,
    Bill,
    BillKind,
    Charge,
    Counter,
    DayClose,
    DayCloseLine,
    Discount,
    ItemKind,
    Payment,
    PaymentKind,
    PaymentMode,
    TariffItem,
)
from ajeya.core import clock, money
from ajeya.core.errors import Conflict, NotFound, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerAction
from ajeya.ledger.registry import state_of

PACKAGE_COVERS = frozenset({ItemKind.BED, ItemKind.LAB, ItemKind.PROCEDURE, ItemKind.CONSULTATION})
MAX_QUANTITY = Decimal("999")


def _amount(value, *, field: str = "amount", what: str = "Amount", allow_zero=False) -> Decimal:
    try:
        return money.parse(value, allow_zero=allow_zero, what=what)
    except money.MoneyError as exc:
        raise ValidationFailed({field: [str(exc)]}) from None


# -- accounts --------------------------------------------------------------------------


def account_for(*, patient, admission=None, actor=None) -> Account:
    """The patient's outpatient account, or the admission's; opened on first use."""
    kind = AccountKind.IPD if admission is not None else AccountKind.OPD
    query = (
        Account.objects.filter(admission=admission)
        if admission
        else Account.objects.filter(patient=patient, kind=AccountKind.OPD)
    )
    found = query.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            account = Account(
                number=numbers.account_number(),
                patient=patient,
                kind=kind,
                admission=admission,
                opened_at=clock.now(),
            )
            ledger.create_sealed(account, actor=actor)
            return account
    except IntegrityError:  # opened meanwhile by another writer
        return query.get()


# -- charges ---------------------------------------------------------------------------


def _bed_category(account: Account) -> str | None:
    if account.admission_id is None or account.admission.bed_id is None:
        return None
    return account.admission.bed.category


def build_charge(
    *,
    account: Account,
    code: str,
    service_date: dt.date,
    quantity: Decimal = Decimal(1),
    department=None,
    source: str = "",
    description: str = "",
    bed_category: str | None = None,
    actor=None,
    item: TariffItem | None = None,
) -> Charge:
    """A priced, unsaved charge (capture builds many and saves them together)."""
    if item is None:
        item = TariffItem.objects.filter(code=code).first()
    rate_class = pricing.rate_class_for(
        account.patient, bed_category=bed_category or _bed_category(account)
    )
    price = pricing.price_on(item, rate_class, service_date) if item is not None else None
    covered = (
        account.package_id is not None
        and item is not None
        and item.kind in PACKAGE_COVERS
        and item.pk != account.package_id
    )
    if price is None or covered:
        unit, share = money.ZERO, money.ZERO
    else:
        unit, share = price.amount, price.scheme_share
    tax_rate = item.tax_rate if item is not None else money.ZERO
    a = pricing.amounts(unit_price=unit, quantity=quantity, tax_rate=tax_rate, scheme_share=share)
    name = description or (item.name if item is not None else code)
    if covered:
        name = f"{name} (in package {account.package.code})"
    return Charge(
        account=account,
        item=item,
        code=code,
        description=name[:160],
        department=department or (item.department if item is not None else None),
        source=source,
        service_date=service_date,
        quantity=quantity,
        rate_class=price.rate_class if price is not None else rate_class,
        unit_price=a.unit_price,
        tax_rate=tax_rate,
        amount=a.amount,
        tax=a.tax,
        scheme_amount=a.scheme_amount,
        patient_amount=a.patient_amount,
        in_package=covered,
        priced=price is not None or covered,
        posted_at=clock.now(),
        posted_by=actor if getattr(actor, "pk", None) else None,
    )


def charge_post(
    *,
    actor,
    account: Account,
    code: str,
    quantity="1",
    service_date: dt.date | None = None,
    department=None,
    note: str = "",
) -> Charge:
    """A service the counter or ward adds by hand (procedures, certificates) from the tariff."""
    require_perm(actor, Perm.BILLING_COLLECT)
    errors: dict[str, list[str]] = {}
    item = (
        TariffItem.objects.select_related("department")
        .filter(code=code.strip().upper(), is_active=True)
        .first()
    )
    if item is None:
        errors["code"] = [f"No active tariff item has the code {code.strip()!r}."]
    elif item.kind == ItemKind.PACKAGE:
        errors["code"] = [f"{item.code} is a package: book it on the inpatient account."]
    try:
        qty = Decimal(str(quantity).strip())
        if not qty.is_finite() or qty <= 0 or qty > MAX_QUANTITY or qty != round(qty, 2):
            raise ValueError
    except (ArithmeticError, ValueError):
        errors["quantity"] = [f"Quantity must be a number from 0.01 to {MAX_QUANTITY}."]
    day = service_date or clock.today()
    if day > clock.today():
        errors["service_date"] = ["A service cannot be charged before it is given (future date)."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        charge = build_charge(
            account=account,
            code=item.code,
            service_date=day,
            quantity=qty,
            department=department,
            description=f"{item.name} — {note.strip()}" if note.strip() else "",
            actor=actor,
            item=item,
        )
        if not charge.priced:
            raise ValidationFailed(
                {"code": [f"The tariff has no price for {item.code} on {day:%d-%m-%Y}."]}
            )
        ledger.create_sealed(charge, actor=actor)
    return charge


def _reversal(original: Charge, *, actor, reason: str) -> Charge:
    return Charge(
        account_id=original.account_id,
        item_id=original.item_id,
        code=original.code,
        description=f"Reversal: {original.description}"[:160],
        department_id=original.department_id,
        source=original.source,
        service_date=original.service_date,
        quantity=original.quantity,
        rate_class=original.rate_class,
        unit_price=original.unit_price,
        tax_rate=original.tax_rate,
        amount=-original.amount,
        tax=-original.tax,
        scheme_amount=-original.scheme_amount,
        patient_amount=-original.patient_amount,
        in_package=original.in_package,
        priced=original.priced,
        posted_at=clock.now(),
        posted_by=actor if getattr(actor, "pk", None) else None,
        reverses=original,
        reason=reason,
        bill_id=original.bill_id,  # a billed line's reversal joins its bill
    )


def reverse_charges(charges: list[Charge], *, actor, reason: str) -> list[Charge]:
    """Reverse charges inside the caller's transaction (capture, bill cancellation)."""
    made = [_reversal(c, actor=actor, reason=reason) for c in charges]
    ledger.create_sealed_many(made, actor=actor, reason=reason)
    return made


def charge_reverse(*, actor, charge: Charge, reason: str) -> Charge:
    """Take back a charge with a new negative line; the original stays as it was."""
    require_perm(actor, Perm.BILLING_COLLECT)
    reason = require_reason(reason, why="Say why the charge is reversed")
    with transaction.atomic():
        current = locked(Charge.objects).get(pk=charge.pk)
        if current.reverses_id is not None:
            raise Conflict("A reversal cannot itself be reversed; post the charge again.")
        if Charge.objects.filter(reverses=current).exists():
            raise Conflict(f"{current.description} is already reversed.")
        (made,) = reverse_charges([current], actor=actor, reason=reason)
    return made


def charge_reprice(*, actor, charge: Charge) -> Charge:
    """Price an unbilled charge that arrived before the tariff had its price."""
    require_perm(actor, Perm.BILLING_COLLECT)
    with transaction.atomic():
        current = locked(Charge.objects).select_related("account__patient").get(pk=charge.pk)
        if current.priced:
            raise Conflict(f"{current.description} is priced already.")
        if current.bill_id:
            raise Conflict("A billed charge is corrected by reversal, not re-pricing.")
        fresh = build_charge(
            account=current.account,
            code=current.code,
            service_date=current.service_date,
            quantity=current.quantity,
            department=current.department,
            source=current.source,
            description=current.description,
            actor=actor,
        )
        if not fresh.priced:
            raise ValidationFailed(
                f"The tariff still has no price for {current.code} on "
                f"{current.service_date:%d-%m-%Y}."
            )
        before = state_of(current)
        if current.department_id is None:  # captured before its tariff item existed
            current.department = fresh.department
        for field in ("item", "rate_class", "unit_price", "tax_rate", "amount", "tax",
                      "scheme_amount", "patient_amount", "in_package", "priced"):  # fmt: skip
            setattr(current, field, getattr(fresh, field))
        ledger.save_sealed(current, actor=actor, before=before, reason="priced from the tariff")
    return current


def package_book(*, actor, account: Account, code: str, reason: str) -> Account:
    """Book a scheme package on a stay: the package line is charged to the scheme, and
    the stay's unbilled bed, lab, procedure and consultation charges are reversed and
    posted again as included in the package (so is everything charged later)."""
    require_perm(actor, Perm.BILLING_COLLECT)
    reason = require_reason(reason, why="Name the scheme's approval (pre-authorisation)")
    item = TariffItem.objects.filter(code=code.strip().upper(), kind=ItemKind.PACKAGE).first()
    if item is None:
        raise ValidationFailed({"code": [f"{code.strip()!r} is not a package in the tariff."]})
    with transaction.atomic():
        current = locked(Account.objects).select_related("patient").get(pk=account.pk)
        if current.kind != AccountKind.IPD:
            raise Conflict("Packages are booked on an inpatient stay's account.")
        if current.package_id is not None:
            raise Conflict(f"This stay already has package {current.package.code}.")
        line = build_charge(
            account=current, code=item.code, service_date=clock.today(), actor=actor, item=item
        )
        if not line.scheme_amount:
            raise ValidationFailed(
                {"code": [f"The patient's scheme does not cover {item.code} ({item.name})."]}
            )
        # Every row lock before the first ledger entry (core.locking, rule 2).
        covered = list(
            locked(Charge.objects)
            .filter(account=current, bill__isnull=True, reverses__isnull=True, reversal=None)
            .filter(item__kind__in=PACKAGE_COVERS)
        )
        before = state_of(current)
        current.package = item
        ledger.save_sealed(current, actor=actor, before=before, reason=reason)
        reverse_charges(covered, actor=actor, reason=f"included in package {item.code}")
        again = [
            build_charge(
                account=current,
                code=c.code,
                service_date=c.service_date,
                quantity=c.quantity,
                department=c.department,
                source=f"{c.source}+pkg" if c.source else "",
                description=c.description,
                actor=actor,
                item=c.item,
            )
            for c in covered
        ]
        ledger.create_sealed_many([line, *again], actor=actor, reason=reason)
    return current


# -- bills -----------------------------------------------------------------------------


def bill_create(*, actor, account: Account) -> Bill:
    """Finalise every unbilled charge of the account under one bill number (OPD at the
    counter; for a stay, the final bill, after its bed-days are posted)."""
    require_perm(actor, Perm.BILLING_COLLECT)
    with transaction.atomic():
        current = locked(Account.objects).select_related("admission").get(pk=account.pk)
        kind = BillKind.IPD if current.kind == AccountKind.IPD else BillKind.OPD
        if kind == BillKind.IPD and current.admission.status != "discharged":
            raise Conflict(
                "The final bill is made at discharge; use the running (interim) bill until then."
            )
        lines = list(locked(Charge.objects).filter(account=current, bill__isnull=True))
        if not lines:
            raise Conflict("There are no unbilled charges on this account.")
        unpriced = [c.code for c in lines if not c.priced]
        if unpriced:
            codes = ", ".join(sorted(set(unpriced)))
            raise Conflict(
                f"{len(unpriced)} charge(s) have no tariff price ({codes}): "
                "add the price to the tariff and re-price them first."
            )
        number = numbers.bill_number()
        bill = Bill(
            number=number,
            account=current,
            kind=kind,
            created_at=clock.now(),
            created_by=actor,
            amount=money.total(c.amount for c in lines),
            tax=money.total(c.tax for c in lines),
            scheme_amount=money.total(c.scheme_amount for c in lines),
            patient_amount=money.total(c.patient_amount for c in lines),
        )
        ledger.create_sealed(bill, actor=actor)
        befores = [state_of(c) for c in lines]
        for c in lines:
            c.bill = bill
        ledger.save_sealed_many(
            lines, actor=actor, befores=befores, fields=["bill"], reason=f"billed on {number}"
        )
    return bill


def bill_cancel(*, actor, bill: Bill, reason: str) -> Bill:
    """Cancel a bill: every line still standing is reversed on it, so what was paid for
    it becomes refundable. The bill and its number stay."""
    require_perm(actor, Perm.BILLING_COLLECT)
    reason = require_reason(reason, why="Say why the bill is cancelled")
    with transaction.atomic():
        locked(Account.objects).get(pk=bill.account_id)
        current = locked(Bill.objects).get(pk=bill.pk)
        if current.cancelled_at is not None:
            raise Conflict(f"Bill {current.number} is already cancelled.")
        standing = list(
            locked(Charge.objects).filter(bill=current, reverses__isnull=True, reversal=None)
        )
        reverse_charges(standing, actor=actor, reason=reason)
        before = state_of(current)
        current.cancelled_at = clock.now()
        current.cancelled_by = actor
        current.cancel_reason = reason
        ledger.save_sealed(
            current, actor=actor, before=before, reason=reason, action=LedgerAction.CANCEL
        )
    return current


# -- money in and out ------------------------------------------------------------------


def _counter(counter: Counter | str) -> Counter:
    found = (
        counter
        if isinstance(counter, Counter)
        else Counter.objects.filter(code=str(counter).strip().upper()).first()
    )
    if found is None or not found.is_active:
        raise ValidationFailed({"counter": [f"No open cash counter {counter}."]})
    return found


def _check_reference(mode: str, reference: str) -> str:
    reference = reference.strip()
    if mode == PaymentMode.UPI and not (reference.isdigit() and len(reference) == 12):
        raise ValidationFailed(
            {"reference": ["A UPI payment needs its 12-digit UTR (transaction reference)."]}
        )
    if mode == PaymentMode.CARD and not reference:
        raise ValidationFailed({"reference": ["A card payment needs the approval code."]})
    if mode == PaymentMode.SCHEME and not reference:
        raise ValidationFailed({"reference": ["A scheme settlement needs the claim number."]})
    return reference


def _day_open(counter: Counter, cashier) -> None:
    """A cashier who has closed the day at a counter takes no more money there that day:
    the close would no longer match the drawer."""
    if DayClose.objects.filter(counter=counter, cashier=cashier, date=clock.today()).exists():
        raise Conflict(
            f"Your day at {counter.code} is closed: take this at another counter or tomorrow."
        )


def _mark_paid(payment: Payment, number: str = "", paid_at: dt.datetime | None = None) -> None:
    payment.paid_at = paid_at or clock.now()
    payment.number = number or numbers.receipt_number(
        payment.counter, refund=payment.kind == PaymentKind.REFUND, when=payment.paid_at
    )


def payment_receive(
    *,
    actor,
    account: Account,
    counter: Counter | str,
    amount,
    mode: str,
    kind: str = PaymentKind.PAYMENT,
    reference: str = "",
    bill: Bill | None = None,
    preallocated_number: str = "",
    paid_at: dt.datetime | None = None,
    reason: str = "",
) -> Payment:
    """Money received at a counter, with a gapless receipt number. A payment may not be
    more than the patient owes on bills (take the excess as an advance deposit); a
    scheme settlement not more than the scheme owes.

    A paper receipt written during a downtime is back-entered with its printed number,
    the time on paper and its provenance as the reason (`downtime.services`)."""
    require_perm(actor, Perm.BILLING_COLLECT)
    value = _amount(amount)
    counter = _counter(counter)
    if kind not in (PaymentKind.PAYMENT, PaymentKind.DEPOSIT, PaymentKind.SETTLEMENT):
        raise ValidationFailed({"kind": [f"{kind!r} is not money received."]})
    if mode not in PaymentMode.values:
        raise ValidationFailed({"mode": [f"{mode!r} is not a payment mode."]})
    if (kind == PaymentKind.SETTLEMENT) != (mode == PaymentMode.SCHEME):
        raise ValidationFailed({"mode": ["Only a scheme settlement is paid in mode 'scheme'."]})
    reference = _check_reference(mode, reference)
    if bill is not None and bill.account_id != account.pk:
        raise ValidationFailed({"bill": [f"Bill {bill.number} is not on this account."]})
    if bill is not None and bill.cancelled_at is not None:
        raise Conflict(f"Bill {bill.number} is cancelled: nothing is due on it.")
    _day_open(counter, actor)
    with transaction.atomic():
        current = locked(Account.objects).get(pk=account.pk)
        due = selectors.balance(current)
        if kind == PaymentKind.PAYMENT and value > due.patient_due:
            raise ValidationFailed(
                {
                    "amount": [
                        f"{money.inr(value)} is more than the {money.inr(max(due.patient_due, 0))}"
                        " due on this account's bills; take the rest as an advance deposit."
                    ]
                }
            )
        if kind == PaymentKind.SETTLEMENT and value > due.scheme_due:
            raise ValidationFailed(
                {
                    "amount": [
                        f"{money.inr(value)} is more than the {money.inr(due.scheme_due)} "
                        "the scheme owes on this account's bills."
                    ]
                }
            )
        payment = Payment(
            counter=counter,
            account=current,
            bill=bill,
            kind=kind,
            mode=mode,
            amount=value,
            reference=reference,
            requested_at=paid_at or clock.now(),
            requested_by=actor,
            reason=reason[:200],
        )
        _mark_paid(payment, preallocated_number, paid_at)
        ledger.create_sealed(payment, actor=actor, reason=reason)
    return payment


def _needs_approval(value: Decimal) -> bool:
    return value > settings.AJEYA_BILLING_APPROVAL_LIMIT


def refund_request(
    *, actor, account: Account, counter: Counter | str, amount, mode: str, reason: str,
    reference: str = "",
) -> Payment:  # fmt: skip
    """Pay money back (from what was paid and not used). Above the approval limit it
    waits, without a voucher number, for a second person."""
    require_perm(actor, Perm.BILLING_COLLECT)
    value = _amount(amount)
    counter = _counter(counter)
    reason = require_reason(reason, why="Say why the money is refunded")
    if mode not in (PaymentMode.CASH, PaymentMode.CARD, PaymentMode.UPI):
        raise ValidationFailed({"mode": ["A refund is paid in cash, to the card, or by UPI."]})
    if not _needs_approval(value):
        _day_open(counter, actor)
    with transaction.atomic():
        current = locked(Account.objects).get(pk=account.pk)
        _check_refundable(current, value)
        refund = Payment(
            counter=counter,
            account=current,
            kind=PaymentKind.REFUND,
            mode=mode,
            amount=value,
            reference=reference.strip(),
            reason=reason,
            requested_at=clock.now(),
            requested_by=actor,
            status=ApprovalStatus.AWAITING if _needs_approval(value) else ApprovalStatus.DONE,
        )
        if refund.status == ApprovalStatus.DONE:
            _mark_paid(refund)
        ledger.create_sealed(refund, actor=actor, reason=reason)
    return refund


def _check_refundable(account: Account, value: Decimal, *, waiting: Payment | None = None) -> None:
    b = selectors.balance(account)
    pending = b.refunds_awaiting - (waiting.amount if waiting is not None else 0)
    room = min(b.credit, b.received - b.refunded) - pending
    if value > room:
        raise ValidationFailed(
            {
                "amount": [
                    f"A refund of {money.inr(value)} is more than was paid and not used "
                    f"({money.inr(max(room, 0))} can be refunded on this account)."
                ]
            }
        )


def _decide(model, pk: int, *, actor, approve: bool):
    """Lock the request's account, then the waiting request, and check who may decide."""
    require_perm(actor, Perm.BILLING_APPROVE)
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound("No such request.")
    account_id = found.account_id if model is Payment else found.bill.account_id
    locked(Account.objects).get(pk=account_id)  # the same lock order as the counter's
    current = locked(model.objects).get(pk=pk)
    if current.status != ApprovalStatus.AWAITING:
        raise Conflict(f"This request was already {current.get_status_display().lower()}.")
    if current.requested_by_id == actor.pk:
        raise Conflict("A second person must approve what you asked for.")
    before = state_of(current)
    current.status = ApprovalStatus.DONE if approve else ApprovalStatus.REJECTED
    current.decided_at = clock.now()
    current.decided_by = actor
    return current, before


def refund_decide(*, actor, refund: Payment, approve: bool, note: str = "") -> Payment:
    note = require_reason(note, why="Add a note to the decision") if not approve else note.strip()
    with transaction.atomic():
        current, before = _decide(Payment, refund.pk, actor=actor, approve=approve)
        if approve:
            _check_refundable(current.account, current.amount, waiting=current)
            _mark_paid(current)
        ledger.save_sealed(current, actor=actor, before=before, reason=note or "refund approved")
    return current


def discount_request(*, actor, bill: Bill, amount, reason: str) -> Discount:
    """A concession on a bill's patient share; above the limit a second person approves."""
    require_perm(actor, Perm.BILLING_COLLECT)
    value = _amount(amount)
    reason = require_reason(reason, why="Say why the discount is given")
    with transaction.atomic():
        locked(Account.objects).get(pk=bill.account_id)  # discounts change what is due
        current = locked(Bill.objects).get(pk=bill.pk)
        if current.cancelled_at is not None:
            raise Conflict(f"Bill {current.number} is cancelled.")
        room = selectors.discountable(current)
        if value > room:
            raise ValidationFailed(
                {
                    "amount": [
                        f"A discount of {money.inr(value)} is more than the patient's share "
                        f"left on bill {current.number} ({money.inr(room)})."
                    ]
                }
            )
        discount = Discount(
            bill=current,
            amount=value,
            reason=reason,
            requested_at=clock.now(),
            requested_by=actor,
            status=ApprovalStatus.AWAITING if _needs_approval(value) else ApprovalStatus.DONE,
        )
        ledger.create_sealed(discount, actor=actor, reason=reason)
    return discount


def discount_decide(*, actor, discount: Discount, approve: bool, note: str = "") -> Discount:
    note = require_reason(note, why="Add a note to the decision") if not approve else note.strip()
    with transaction.atomic():
        current, before = _decide(Discount, discount.pk, actor=actor, approve=approve)
        ledger.save_sealed(current, actor=actor, before=before, reason=note or "discount approved")
    return current


# -- the cashier's day -----------------------------------------------------------------


def day_close(
    *, actor, counter: Counter | str, date: dt.date, counted: dict[str, object], note: str = ""
) -> DayClose:
    """Close one cashier's day at a counter: what was counted per mode against what the
    receipts and refunds say; each difference is recorded. Once only."""
    require_perm(actor, Perm.BILLING_CLOSE)
    counter = _counter(counter)
    if date > clock.today():
        raise ValidationFailed({"date": ["A day cannot be closed before it has happened."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, Decimal] = {}
    for mode in (PaymentMode.CASH, PaymentMode.CARD, PaymentMode.UPI):
        try:
            values[mode] = money.parse(
                counted.get(mode, "0") or "0", allow_zero=True, what=f"Counted {mode.label}"
            )
        except money.MoneyError as exc:
            errors[mode] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        expected = selectors.expected_takings(counter=counter, cashier=actor, date=date)
        if DayClose.objects.filter(counter=counter, cashier=actor, date=date).exists():
            raise Conflict(f"Your day at {counter.code} on {date:%d-%m-%Y} is already closed.")
        close = DayClose(
            counter=counter, cashier=actor, date=date, closed_at=clock.now(), note=note.strip()
        )
        try:
            with transaction.atomic():
                ledger.create_sealed(close, actor=actor)
        except IntegrityError:
            raise Conflict(
                f"Your day at {counter.code} on {date:%d-%m-%Y} is already closed."
            ) from None
        ledger.create_sealed_many(
            [
                DayCloseLine(
                    close=close,
                    mode=mode,
                    expected=expected.get(mode, money.ZERO),
                    counted=values[mode],
                    difference=values[mode] - expected.get(mode, money.ZERO),
                )
                for mode in values
            ],
            actor=actor,
        )
    return close
