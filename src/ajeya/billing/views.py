"""The billing counter: find a patient, their outpatient account and their stays'
accounts (charges, bills, money in and out, the balance), a bill's page, and the printed
bill, interim bill and receipt.

Each action is a POST that calls one service. A refusal draws the page again with the
service's message (422 for bad input, 409 for a conflict with what is recorded); success
redirects (post/redirect/get) with a message naming the receipt or bill number.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.db.models import Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ajeya.billing import capture, forms, selectors, services
from ajeya.billing.models import (
    Account,
    AccountKind,
    ApprovalStatus,
    Bill,
    Counter,
    ItemKind,
    Payment,
    PaymentKind,
    TariffItem,
)
from ajeya.core import money
from ajeya.core.errors import ApplicationError, NotFound, ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, has_perm, permission_required
from ajeya.ipd import selectors as ipd_selectors
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind
from ajeya.patients import selectors as patient_selectors

SEARCH_LIMIT = 25
MONEY_KINDS = (PaymentKind.PAYMENT, PaymentKind.DEPOSIT)


def account_url(account: Account) -> str:
    if account.kind == AccountKind.IPD:
        return reverse("billing:stay", args=[account.admission.number])
    return reverse("billing:account", args=[account.patient.uhid])


# -- the counter -----------------------------------------------------------------------


@permission_required(Perm.BILLING_VIEW)
def home(request):
    """Find the patient: a UHID or IP number opens the account, a name lists matches."""
    form = forms.FindForm(request.GET or None)
    patients, note = [], ""
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if query.upper().startswith("IP"):
            try:
                admission = ipd_selectors.admission_get(query)
            except NotFound as exc:
                form.add_error("q", exc.human)
            else:
                return redirect("billing:stay", number=admission.number)
        else:
            result = patient_selectors.patient_search(query)
            patients = list(result.patients[:SEARCH_LIMIT])
            note = result.message
            if result.kind == "uhid" and len(patients) == 1:
                return redirect("billing:account", uhid=patients[0].uhid)
            if not patients and not note:
                note = "No patient found."
            seen(request, [p.uhid for p in patients], AccessKind.LISTED)
    return render(
        request,
        "billing/home.html",
        {"form": form, "patients": patients, "note": note, "limit": SEARCH_LIMIT},
    )


def _account_page(request, account: Account, *, status: int = 200, **given):
    """The account's page: its running charges, bills, money and balance, and the
    cashier's forms (those in `given` are drawn again with their errors)."""
    collect = has_perm(request.user, Perm.BILLING_COLLECT)
    session = request.session
    charges = list(selectors.unbilled(account))
    context = {
        "account": account,
        "patient": account.patient,
        "admission": account.admission,
        "charges": charges,
        "reversed": selectors.reversed_ids(charges),
        "unpriced": [c for c in charges if not c.priced],
        "bills": list(
            account.bills.select_related("created_by").annotate(now=Sum("lines__patient_amount"))
        ),
        "payments": selectors.payments_in(account.payments.all()),
        "balance": selectors.balance(account),
        "stays": [a for a in selectors.accounts_of(account.patient) if a.kind == AccountKind.IPD]
        if account.kind == AccountKind.OPD
        else [],
        "collect": collect,
    }
    if collect:
        ipd = account.kind == AccountKind.IPD
        items = TariffItem.objects.filter(is_active=True).only("code", "name", "kind")
        counters = list(Counter.objects.filter(is_active=True).order_by("code"))
        context.update(
            tariff=[i for i in items if i.kind != ItemKind.PACKAGE],
            packages=[i for i in items if i.kind == ItemKind.PACKAGE] if ipd else [],
            charge_form=forms.ChargeForm(),
            payment_form=forms.PaymentForm(
                session=session,
                counters=counters,
                initial={"kind": PaymentKind.DEPOSIT if ipd else PaymentKind.PAYMENT},
            ),
            refund_form=forms.RefundForm(session=session, counters=counters),
            package_form=forms.PackageForm() if ipd and account.package_id is None else None,
        )
    context.update(given)
    seen(request, [account.patient.uhid], AccessKind.VIEWED)
    return render(request, "billing/account.html", context, status=status)


def open_account(patient, admission=None, *, actor) -> Account:
    """Post the patient's pending charges, then the account (opened on first use)."""
    capture.capture(patient=patient)
    return services.account_for(patient=patient, admission=admission, actor=actor)


@permission_required(Perm.BILLING_VIEW)
def account(request, uhid: str):
    patient = patient_selectors.patient_get(uhid)
    opened = open_account(patient, actor=request.user)
    opened.patient = patient
    return _account_page(request, opened)


@permission_required(Perm.BILLING_VIEW)
def stay(request, number: str):
    admission = ipd_selectors.admission_get(number)
    opened = open_account(admission.patient, admission, actor=request.user)
    opened.patient, opened.admission = admission.patient, admission
    return _account_page(request, opened)


def _act(
    request,
    form,
    write: Callable[[dict], tuple[str, str]],
    *,
    page: Callable[..., object],
    form_name: str | None,
):
    """Parse the form and call the service; success → redirect with the message
    `write` returns. A refusal draws `page` again: bad input on the form (422), a
    conflict as a message (409). Inline forms (`form_name` None) report by message."""
    status = 422
    if form.is_valid():
        try:
            message, target = write(form.cleaned_data)
        except ValidationFailed as exc:
            if form_name is None:
                messages.error(request, exc.human)
            else:
                add_service_errors(form, exc)
        except ApplicationError as exc:
            messages.error(request, exc.human)
            status = exc.http_status
        else:
            messages.success(request, message)
            return redirect(target)
    elif form_name is None:
        messages.error(request, " ".join(m for errs in form.errors.values() for m in errs))
    return page(request, status=status, **({form_name: form} if form_name else {}))


def _on_account(view):
    """An action on an account: `view(request, account)` returns (form, write, name)."""

    @wraps(view)
    def wrapped(request, number: str):
        target = selectors.account_get(number)
        form, write, name = view(request, target)
        return _act(
            request,
            form,
            write,
            page=lambda r, **kw: _account_page(r, target, **kw),
            form_name=name,
        )

    return wrapped


def _remember_counter(request, data: dict) -> None:
    request.session[forms.COUNTER_SESSION_KEY] = data["counter"]


def _receipt_message(payment: Payment) -> str:
    if payment.kind == PaymentKind.REFUND:
        if payment.status == ApprovalStatus.AWAITING:
            return (
                f"Refund of {money.inr(payment.amount)} is awaiting a second person's approval "
                "(it is above the approval limit); no voucher until it is approved."
            )
        return f"Refund voucher {payment.number}: {money.inr(payment.amount)} paid back."
    return (
        f"Receipt {payment.number}: {money.inr(payment.amount)} "
        f"{payment.get_mode_display().lower()} ({payment.get_kind_display().lower()})."
    )


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_account
def charge_add(request, target: Account):
    def write(data):
        charge = services.charge_post(
            actor=request.user,
            account=target,
            code=data["code"],
            quantity=data["quantity"],
            note=data["note"],
        )
        return (
            f"{charge.description} charged: {money.inr(charge.patient_amount)}.",
            account_url(target),
        )

    return forms.ChargeForm(request.POST), write, "charge_form"


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_account
def bill_make(request, target: Account):
    """Make the bill (OPD) or the final bill (a stay, after discharge)."""

    def write(data):
        bill = services.bill_create(actor=request.user, account=target)
        return (
            f"Bill {bill.number} made: the patient pays {money.inr(bill.patient_amount)}.",
            reverse("billing:bill", args=[bill.pk]),
        )

    return forms.ConfirmForm(request.POST), write, None


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_account
def payment(request, target: Account):
    form = forms.PaymentForm(request.POST, session=request.session)

    def write(data):
        _remember_counter(request, data)
        received = services.payment_receive(
            actor=request.user,
            account=target,
            counter=data["counter"],
            amount=data["amount"],
            mode=data["mode"],
            kind=data["kind"],
            reference=data["reference"],
        )
        return _receipt_message(received), account_url(target)

    return form, write, "payment_form"


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_account
def refund(request, target: Account):
    form = forms.RefundForm(request.POST, session=request.session)

    def write(data):
        _remember_counter(request, data)
        paid = services.refund_request(
            actor=request.user,
            account=target,
            counter=data["counter"],
            amount=data["amount"],
            mode=data["mode"],
            reason=data["reason"],
            reference=data["reference"],
        )
        return _receipt_message(paid), account_url(target)

    return form, write, "refund_form"


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_account
def package(request, target: Account):
    def write(data):
        booked = services.package_book(
            actor=request.user, account=target, code=data["code"], reason=data["reason"]
        )
        return (
            f"Package {booked.package.code} booked on {booked.number}: the scheme pays the "
            "package rate; beds, tests and procedures are included.",
            account_url(target),
        )

    return forms.PackageForm(request.POST), write, "package_form"


def _on_charge(request, pk: int, write):
    charge = selectors.charge_get(pk)
    return _act(
        request,
        forms.ReasonForm(request.POST),
        lambda data: (write(charge, data), account_url(charge.account)),
        page=lambda r, **kw: _account_page(r, charge.account, **kw),
        form_name=None,
    )


@permission_required(Perm.BILLING_COLLECT)
@require_POST
def charge_reverse(request, pk: int):
    def write(charge, data):
        made = services.charge_reverse(actor=request.user, charge=charge, reason=data["reason"])
        return f"{charge.description} reversed ({money.inr(made.patient_amount)})."

    return _on_charge(request, pk, write)


@permission_required(Perm.BILLING_COLLECT)
@require_POST
def charge_reprice(request, pk: int):
    def write(charge, data):
        priced = services.charge_reprice(actor=request.user, charge=charge)
        return f"{priced.description} priced from the tariff: {money.inr(priced.patient_amount)}."

    return _on_charge(request, pk, write)


# -- a bill ----------------------------------------------------------------------------


def _bill_page(request, bill: Bill, *, status: int = 200, **given):
    data = selectors.bill_statement(bill)
    context = {**data, "account": bill.account, "patient": bill.account.patient}
    collect = has_perm(request.user, Perm.BILLING_COLLECT) and bill.cancelled_at is None
    if collect:
        due = max(min(data["figures"]["due"], selectors.balance(bill.account).patient_due), 0)
        kinds = [(PaymentKind.PAYMENT.value, "Payment")]
        if data["figures"]["scheme_due"] > 0:
            kinds.append((PaymentKind.SETTLEMENT.value, "Scheme settlement"))
        context.update(
            payment_form=forms.PaymentForm(
                session=request.session,
                kinds=kinds,
                initial={"amount": f"{due:.2f}" if due else ""},
            ),
            discount_form=forms.DiscountForm(),
            cancel_form=forms.CancelForm(),
        )
    context["collect"] = collect
    context.update(given)
    seen(request, [bill.account.patient.uhid], AccessKind.VIEWED)
    return render(request, "billing/bill.html", context, status=status)


@permission_required(Perm.BILLING_VIEW)
def bill(request, pk: int):
    return _bill_page(request, selectors.bill_get(pk))


def _on_bill(view):
    @wraps(view)
    def wrapped(request, pk: int):
        target = selectors.bill_get(pk)
        form, write, name = view(request, target)
        return _act(
            request,
            form,
            write,
            page=lambda r, **kw: _bill_page(r, target, **kw),
            form_name=name,
        )

    return wrapped


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_bill
def bill_payment(request, target: Bill):
    kinds = [(k.value, k.label) for k in (PaymentKind.PAYMENT, PaymentKind.SETTLEMENT)]
    form = forms.PaymentForm(request.POST, session=request.session, kinds=kinds)

    def write(data):
        _remember_counter(request, data)
        received = services.payment_receive(
            actor=request.user,
            account=target.account,
            counter=data["counter"],
            amount=data["amount"],
            mode=data["mode"],
            kind=data["kind"],
            reference=data["reference"],
            bill=target,
        )
        return _receipt_message(received), reverse("billing:bill", args=[target.pk])

    return form, write, "payment_form"


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_bill
def bill_discount(request, target: Bill):
    def write(data):
        given = services.discount_request(
            actor=request.user, bill=target, amount=data["amount"], reason=data["reason"]
        )
        if given.status == ApprovalStatus.AWAITING:
            text = (
                f"Discount of {money.inr(given.amount)} on bill {target.number} is awaiting "
                "a second person's approval."
            )
        else:
            text = f"Discount of {money.inr(given.amount)} given on bill {target.number}."
        return text, reverse("billing:bill", args=[target.pk])

    return forms.DiscountForm(request.POST), write, "discount_form"


@permission_required(Perm.BILLING_COLLECT)
@require_POST
@_on_bill
def bill_cancel(request, target: Bill):
    def write(data):
        services.bill_cancel(actor=request.user, bill=target, reason=data["reason"])
        return (
            f"Bill {target.number} cancelled; its lines are reversed and what was paid on "
            "it is the patient's credit.",
            reverse("billing:bill", args=[target.pk]),
        )

    return forms.CancelForm(request.POST), write, "cancel_form"
