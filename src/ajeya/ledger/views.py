"""The auditor's search over both chains, with CSV export."""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from ajeya.core import clock
from ajeya.core.errors import ValidationFailed
from ajeya.core.forms import add_service_errors
from ajeya.core.roles import Perm, permission_required, public
from ajeya.core.views import public_check
from ajeya.ledger import papers, selectors
from ajeya.ledger.forms import AuditForm

PAGE_SIZE = 50
CSV_COLUMNS = ["seq", "recorded_at_ist", "user", "role", "action", "subject", "ip", "request_id"]


class _Echo:
    def write(self, value):
        return value


def _csv_rows(queryset, kind: str):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in queryset.iterator(chunk_size=2000):
        if kind == "accesses":
            action, subject = entry.what, f"patient {entry.patient_uhid}"
        else:
            action, subject = entry.action, f"{entry.subject_type} {entry.subject_id}"
        yield writer.writerow(
            [
                entry.seq,
                clock.local(entry.recorded_at).strftime("%Y-%m-%d %H:%M:%S"),
                entry.actor_username,
                entry.actor_role,
                action,
                subject,
                entry.ip,
                entry.request_id,
            ]
        )


@permission_required(Perm.AUDIT_VIEW)
def audit(request):
    form = AuditForm(request.GET or None)
    page, kind = None, "changes"
    if form.is_bound and form.is_valid():
        kind = form.cleaned_data["kind"]
        try:
            results = selectors.audit_search(selectors.AuditQuery(**form.cleaned_data))
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        else:
            if request.GET.get("format") == "csv":
                response = StreamingHttpResponse(
                    _csv_rows(results, kind), content_type="text/csv; charset=utf-8"
                )
                stamp = clock.local(clock.now()).strftime("%Y%m%d-%H%M")
                response["Content-Disposition"] = f'attachment; filename="ajeya-{kind}-{stamp}.csv"'
                return response
            page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "ledger/audit.html",
        {"form": form, "page": page, "kind": kind, "query": query.urlencode()},
    )


@public
@never_cache
def paper_verify(request, subject_type: str, digest: str, subject_id: str):
    """Anyone holding a printed paper scans its QR code and lands here: no login."""
    found = papers.check(subject_type, digest, subject_id)
    return public_check(
        request,
        "ledger/paper_verify.html",
        {"check": found, "statuses": papers.PaperStatus},
        unknown=found.status == papers.PaperStatus.UNKNOWN,
    )
