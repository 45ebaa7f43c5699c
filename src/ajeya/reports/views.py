"""Reports: the index of those a person may run, a report's page (period and department
form, its tables and chart) and its exports (CSV, XLSX, PDF). Generic over the
registry, so every registered report, clinical or money, appears here."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render

from ajeya.core import pdf, periods, tables
from ajeya.core.errors import NotFound, ValidationFailed
from ajeya.core.models import Department
from ajeya.core.roles import Perm, has_perm, login_required
from ajeya.reports import registry

DEFAULT_DAYS = 7
GROUPS = {Perm.REPORTS_VIEW: "Hospital (MIS)", Perm.BILLING_REPORTS: "Money"}
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _allowed(request, slug: str) -> registry.Report:
    report = registry.get(slug)  # NotFound: 404
    if not has_perm(request.user, report.perm):
        raise PermissionDenied(f"Your role may not do this ({Perm(report.perm).label.lower()}).")
    return report


def _chosen(request, report: registry.Report):
    """The period and department the query string asks for; every refusal at once."""
    errors: dict[str, list[str]] = {}
    period = department = None
    try:
        period = periods.parse_period(
            request.GET.get("start"),
            request.GET.get("end"),
            max_days=report.max_days,
            default_days=DEFAULT_DAYS,
        )
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        department = periods.department(request.GET.get("department"))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return period, department


def _shown(table: tables.Table) -> dict:
    """A table as the page prints it: each cell's text, numbers right-aligned."""

    def cells(row):
        return [
            (tables.text(c), isinstance(c, int | Decimal) and not isinstance(c, bool)) for c in row
        ]

    return {
        "title": table.title,
        "header": table.header,
        "rows": [cells(r) for r in table.rows],
        "total": cells(table.total) if table.total else None,
        "note": table.note,
    }


def _heading(period, department) -> list[str]:
    return [f"Period: {period} (IST)", f"Department: {department.name if department else 'All'}"]


@login_required
def index(request):
    mine = [r for r in registry.REPORTS.values() if has_perm(request.user, r.perm)]
    if not mine:
        raise PermissionDenied("Your role may not run any report.")
    groups: dict[str, list[registry.Report]] = {}
    for report in mine:
        groups.setdefault(GROUPS.get(report.perm, "Other"), []).append(report)
    return render(request, "reports/index.html", {"groups": groups})


@login_required
def report(request, slug: str):
    chosen = _allowed(request, slug)
    context = {
        "report": chosen,
        "departments": Department.objects.filter(is_active=True).order_by("name"),
        "values": {k: request.GET.get(k, "") for k in ("start", "end", "department")},
        "query": request.GET.urlencode(),
        "errors": {},
    }
    try:
        period, department = _chosen(request, chosen)
        found = registry.run(slug, period, department)
    except ValidationFailed as exc:
        context["errors"] = exc.errors
        return render(request, "reports/report.html", context, status=422)
    if not context["values"]["start"] and not context["values"]["end"]:
        context["values"].update(start=f"{period.start:%Y-%m-%d}", end=f"{period.end:%Y-%m-%d}")
    context.update(
        period=period,
        department=department,
        tables=[_shown(t) for t in found],
        chart=chosen.chart(found) if chosen.chart else "",
        formats=list(TYPES),
    )
    return render(request, "reports/report.html", context)


@login_required
def report_export(request, slug: str, fmt: str):
    if fmt not in TYPES:
        raise NotFound(f"There is no {fmt!r} export; choose CSV, XLSX or PDF.")
    chosen = _allowed(request, slug)
    period, department = _chosen(request, chosen)  # ValidationFailed: the error page, 422
    found = registry.run(slug, period, department)
    heading = _heading(period, department)
    filename = f"{slug}-{period.start:%Y-%m-%d}-{period.end:%Y-%m-%d}.{fmt}"
    if fmt == "pdf":
        content = tables.pdf_bytes(
            chosen.title, found, printed_by=pdf.printed_by(request), heading=heading
        )
        return pdf.response(content, filename)
    if fmt == "csv":
        content = tables.csv_bytes(chosen.title, found, heading=[[line] for line in heading])
    else:
        content = tables.xlsx_bytes(chosen.title, found, heading=[[line] for line in heading])
    response = HttpResponse(content, content_type=TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
