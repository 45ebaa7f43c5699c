"""Billing's back office: the collection report (page, CSV, XLSX), the cashier's day-end
close, approvals of refunds and discounts, and the tariff with its price periods."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ajeya.billing import charts, reports, services, tariff
from ajeya.billing import office_forms as forms
from ajeya.billing.models import RateClass
from ajeya.billing.selectors import awaiting_approval, expected_takings
from ajeya.core import clock, money
from ajeya.core.errors import ApplicationError, ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, has_perm, permission_required
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind

CLOSE_MODES = (("cash", "Cash"), ("card", "Card"), ("upi", "UPI"))
TARIFF_PAGE = 100


def _shown(section: reports.Section) -> reports.Section:
    """A report table as the page prints it: money in rupees, counts as they are."""

    def cell(value):
        return money.inr(value) if isinstance(value, Decimal) else value

    return reports.Section(
        section.title,
        section.header,
        [[cell(v) for v in row] for row in section.rows],
        [cell(v) for v in section.total] if section.total else None,
    )


# -- collection report --------------------------------------------------------------------


def _collections(request) -> tuple[forms.CollectionsForm, reports.Collections | None]:
    form = forms.CollectionsForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None
    asked = form.cleaned_data if form.is_bound else {}
    end = asked.get("end") or clock.today()
    start = asked.get("start") or end
    try:
        report = reports.collections(start=start, end=end, counter=asked.get("counter") or None)
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return form, None
    if not form.is_bound:
        form = forms.CollectionsForm(initial={"start": start, "end": end})
    return form, report


def _export_name(report: reports.Collections, ext: str) -> str:
    counter = f"-{report.counter.code}" if report.counter else ""
    return f"collections-{report.start:%Y%m%d}-{report.end:%Y%m%d}{counter}.{ext}"


def _refused(form) -> ValidationFailed:
    return ValidationFailed(" ".join(m for msgs in form.errors.values() for m in msgs))


@permission_required(Perm.BILLING_REPORTS)
def collections(request):
    form, report = _collections(request)
    return render(
        request,
        "billing/office/collections.html",
        {
            "form": form,
            "report": report,
            "sections": [_shown(s) for s in reports.sections(report)] if report else [],
            "mode_chart": charts.by_mode_svg(report.by_mode) if report else "",
            "department_chart": charts.by_department_svg(report.by_department) if report else "",
            "query": request.GET.urlencode(),
            "max_days": reports.MAX_DAYS,
        },
        status=200 if report else 422,
    )


@permission_required(Perm.BILLING_REPORTS)
def collections_csv(request):
    form, report = _collections(request)
    if report is None:
        raise _refused(form)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_export_name(report, "csv")}"'
    csv.writer(response).writerows(reports.csv_rows(report))
    return response


@permission_required(Perm.BILLING_REPORTS)
def collections_xlsx(request):
    form, report = _collections(request)
    if report is None:
        raise _refused(form)
    response = HttpResponse(
        reports.xlsx_bytes(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_name(report, "xlsx")}"'
    return response


# -- the cashier's day-end close -----------------------------------------------------------


def _day_chosen(request):
    """The counter and day asked for (GET), else the cashier's usual counter today."""
    choose = forms.DayChoiceForm(request.GET or None)
    if choose.is_bound and choose.is_valid():
        counter = reports.open_counters().get(code=choose.cleaned_data["counter"])
        return choose, counter, choose.cleaned_data["date"]
    counter = reports.usual_counter(request.user)
    today = clock.today()
    if not choose.is_bound:
        choose = forms.DayChoiceForm(
            initial={"counter": counter.code if counter else "", "date": today}
        )
    return choose, counter, today


def _close_day(request, form: forms.DayCloseForm):
    """Close the day as the form says; the redirect, or None with the refusal on the form."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        close = services.day_close(
            actor=request.user,
            counter=data["counter"],
            date=data["date"],
            counted=form.counted(),
            note=data["note"],
        )
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return None
    except ApplicationError as exc:
        form.add_error(None, exc.human)
        return None
    off = [
        f"{line.get_mode_display()} {money.inr(line.difference)}"
        for line in close.lines.all()
        if line.difference
    ]
    messages.success(
        request,
        f"Day closed at {close.counter.code} for {close.date:%d-%m-%Y}: "
        + (f"differences {', '.join(off)}." if off else "no differences."),
    )
    return redirect(
        f"{reverse('billing:day_close')}?counter={close.counter.code}&date={close.date:%Y-%m-%d}"
    )


@permission_required(Perm.BILLING_CLOSE)
def day_close(request):
    """The cashier counts the drawer: what the receipts and refunds say is expected per
    mode, what was counted, and the difference, recorded once per counter and day."""
    if request.method == "POST":
        form = forms.DayCloseForm(request.POST)
        done = _close_day(request, form)
        if done is not None:
            return done
        status = 422
        code, day = request.POST.get("counter", ""), form.cleaned_data.get("date")
        counter = reports.open_counters().filter(code=code).first()
        day = day or clock.today()
        choose = forms.DayChoiceForm(initial={"counter": code, "date": day})
        closed = None
    else:
        status = 200
        choose, counter, day = _day_chosen(request)
        form = forms.DayCloseForm(initial={"counter": counter.code if counter else "", "date": day})
        closed = counter and reports.close_for(counter=counter, cashier=request.user, date=day)
    expected = expected_takings(counter=counter, cashier=request.user, date=day) if counter else {}
    rows = [
        (mode, label, expected.get(mode, money.ZERO), form[mode]) for mode, label in CLOSE_MODES
    ]
    return render(
        request,
        "billing/office/day_close.html",
        {
            "choose": choose,
            "form": form,
            "counter": counter,
            "day": day,
            "rows": rows,
            "expected_total": money.total(expected.get(m, money.ZERO) for m, _ in CLOSE_MODES),
            "closed": closed,
            "past": reports.closes_of(request.user),
        },
        status=status,
    )


# -- approvals ---------------------------------------------------------------------------


@permission_required(Perm.BILLING_APPROVE)
def approvals(request):
    refunds, discounts = awaiting_approval()
    refunds, discounts = list(refunds), list(discounts)
    uhids = {r.account.patient.uhid for r in refunds}
    uhids |= {d.bill.account.patient.uhid for d in discounts}
    seen(request, sorted(uhids), AccessKind.LISTED)
    return render(
        request,
        "billing/office/approvals.html",
        {
            "refunds": refunds,
            "discounts": discounts,
            "limit": money.inr(settings.AJEYA_BILLING_APPROVAL_LIMIT),
        },
    )


def _decide(request, record, decide, what: str):
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to approve or to reject.")
        return redirect("billing:approvals")
    approve = form.cleaned_data["decision"] == "approve"
    try:
        done = decide(record, approve=approve, note=form.cleaned_data["note"])
    except ApplicationError as exc:
        messages.error(request, f"{what}: {exc.human}")
    else:
        if approve:
            messages.success(request, f"{what} approved{_voucher(done)}.")
        else:
            messages.success(request, f"{what} rejected.")
    return redirect("billing:approvals")


def _voucher(refund) -> str:
    number = getattr(refund, "number", None)
    return f": voucher {number}; pay it at counter {refund.counter.code}" if number else ""


@permission_required(Perm.BILLING_APPROVE)
@require_POST
def refund_decide(request, pk: int):
    refund = reports.refund_get(pk)
    return _decide(
        request,
        refund,
        lambda r, **kw: services.refund_decide(actor=request.user, refund=r, **kw),
        f"Refund of {money.inr(refund.amount)}",
    )


@permission_required(Perm.BILLING_APPROVE)
@require_POST
def discount_decide(request, pk: int):
    discount = reports.discount_get(pk)
    return _decide(
        request,
        discount,
        lambda d, **kw: services.discount_decide(actor=request.user, discount=d, **kw),
        f"Discount of {money.inr(discount.amount)}",
    )


# -- the tariff ---------------------------------------------------------------------------


@permission_required(Perm.BILLING_VIEW)
def tariff_list(request):
    search = forms.TariffSearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    page = Paginator(reports.tariff_items(query), TARIFF_PAGE).get_page(request.GET.get("page"))
    today = clock.today()
    prices = reports.prices_on(page.object_list, today)
    used = {rate for found in prices.values() for rate in found}
    rates = [(value, label) for value, label in RateClass.choices if value in used]
    rows = [(item, [prices.get(item.pk, {}).get(r) for r, _ in rates]) for item in page]
    return render(
        request,
        "billing/office/tariff.html",
        {
            "search": search,
            "page": page,
            "rows": rows,
            "rates": rates,
            "today": today,
            "pager_query": f"q={query}" if query else "",
            "can_manage": has_perm(request.user, Perm.TARIFF_MANAGE),
        },
    )


@permission_required(Perm.TARIFF_MANAGE)
def tariff_price(request, code: str):
    item = reports.tariff_item(code)
    form = forms.PriceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                price = tariff.price_add(
                    actor=request.user,
                    item=item,
                    rate_class=data["rate_class"],
                    amount=data["amount"],
                    effective_from=data["effective_from"],
                    effective_to=data["effective_to"],
                    scheme_share=data["scheme_share"].strip() or None,
                )
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            except ApplicationError as exc:
                form.add_error(None, exc.human)
            else:
                messages.success(
                    request,
                    f"{item.code} {price.get_rate_class_display()}: {money.inr(price.amount)} "
                    f"from {price.effective_from:%d-%m-%Y}.",
                )
                return redirect("billing:tariff_price", code=item.code)
    return render(
        request,
        "billing/office/tariff_price.html",
        {
            "item": item,
            "form": form,
            "periods": reports.price_periods(item),
            "today": clock.today(),
        },
        status=status,
    )
