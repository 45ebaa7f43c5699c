"""The laboratory's documents: sample labels, the report PDF, the public page that checks
a printed report's QR code, and the turnaround-time dashboard."""

from __future__ import annotations

import csv

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from ajeya.core import pdf
from ajeya.core.errors import ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, permission_required, public
from ajeya.core.views import public_check
from ajeya.lab import charts, documents, selectors, tat
from ajeya.ledger import services as ledger
from ajeya.ledger.access import seen
from ajeya.ledger.models import AccessKind


@permission_required(Perm.SAMPLE_COLLECT)
@never_cache  # a patient's paper: not left in a shared ward PC's browser cache
def labels(request, number: str):
    """The order's sample labels (`?accession=` for one label again). Labelling is part
    of collecting a sample, so it is the collectors' permission: those who only read
    reports have no tube to stick a label on, and a stray label is a mislabelling risk."""
    order, samples = selectors.order_labels(number, request.GET.get("accession", ""))
    seen(request, [order.patient.uhid], AccessKind.PRINTED)
    return pdf.response(documents.sample_labels(order, samples), f"labels-{order.number}.pdf")


@permission_required(Perm.LAB_VIEW)
@never_cache
def report_pdf(request, number: str):
    report, versions = selectors.report_for_print(number)
    seen(request, [report.order.patient.uhid], AccessKind.PRINTED)
    content = documents.report_pdf(
        report,
        versions=versions,
        url=documents.verify_url(request, report),
        printed_by=pdf.printed_by(request),
    )
    return pdf.response(content, f"lab-report-{report.number}.pdf")


@public
@never_cache
def verify(request, number: str, digest: str):
    """Anyone holding a printed report scans its QR code and lands here: no login. The
    patient's details are shown only when the paper's digest matched an intact report."""
    check = selectors.report_check(number, digest)
    if check.shows_patient:
        ledger.patients_accessed(
            actor=request.user if request.user.is_authenticated else None,
            uhids=[check.content["patient"]["uhid"]],
            what=AccessKind.VIEWED,
        )
    return public_check(
        request,
        "lab/verify.html",
        {"check": check, "statuses": selectors.CheckStatus},
        unknown=check.status == selectors.CheckStatus.UNKNOWN,
    )


class PeriodForm(forms.Form):
    first = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _turnaround(request) -> tuple[PeriodForm, tat.Turnaround | None]:
    form = PeriodForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None
    asked = form.cleaned_data if form.is_bound else {}
    try:
        chosen = tat.period(asked.get("first"), asked.get("last"))
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return form, None
    if not form.is_bound:
        form = PeriodForm(initial={"first": chosen.first, "last": chosen.last})
    return form, tat.turnaround(chosen)


@permission_required(Perm.LAB_TAT)
def tat_dashboard(request):
    form, data = _turnaround(request)
    return render(
        request,
        "lab/tat.html",
        {
            "form": form,
            "data": data,
            "svg": charts.tat_svg(data.rows) if data else "",
            "max_days": tat.MAX_DAYS,
            "query": request.GET.urlencode(),
        },
        status=200 if data else 422,
    )


@permission_required(Perm.LAB_TAT)
def tat_csv(request):
    form, data = _turnaround(request)
    if data is None:
        raise ValidationFailed(" ".join(m for msgs in form.errors.values() for m in msgs))
    chosen = data.period
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="lab-tat-{chosen.first:%Y%m%d}-{chosen.last:%Y%m%d}.csv"'
    )
    csv.writer(response).writerows(tat.csv_rows(data))
    return response
