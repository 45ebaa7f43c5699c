"""Investigation pages: the incidents, opening one (from alerts), one incident with its
alerts, CERT-In report and deadline, timeline and chart, and the evidence download."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ajeya.core import pdf
from ajeya.core.errors import ValidationFailed
from ajeya.core.forms import FAILED, add_service_errors, on_form
from ajeya.core.roles import Perm, permission_required
from ajeya.defense import certin, evidence, incident_charts, incidents, timeline
from ajeya.defense import incident_selectors as selectors
from ajeya.defense.incident_forms import (
    IncidentOpenForm,
    IncidentUpdateForm,
    TimelineFilterForm,
    initial_from_alerts,
)


@permission_required(Perm.DEFENSE_INCIDENTS)
def incident_list(request):
    rows = [(i, certin.deadline(i)) for i in selectors.incident_list()[:200]]
    return render(request, "defense/incidents.html", {"rows": rows})


@permission_required(Perm.DEFENSE_INCIDENTS)
def incident_open(request):
    if request.method != "POST":
        chosen = selectors.alerts_by_ids(request.GET.get("alerts", ""))
        form = IncidentOpenForm(initial=initial_from_alerts(chosen), chosen=[a.pk for a in chosen])
        return render(request, "defense/incident_open.html", {"form": form})
    chosen = [int(v) for v in request.POST.getlist("alerts") if v.isdigit()]
    form = IncidentOpenForm(request.POST, chosen=chosen)
    if form.is_valid():
        opened = on_form(form, lambda: incidents.incident_open(actor=request.user,
                                                               **form.cleaned_data))  # fmt: skip
        if opened is not FAILED:
            messages.success(request, f"Incident {opened.number} opened.")
            return redirect("defense:incident", number=opened.number)
    return render(request, "defense/incident_open.html", {"form": form}, status=400)


def _timeline(request, found) -> dict:
    form = TimelineFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    try:
        events = timeline.timeline(found.window_start, found.window_end, **filters)
        unit, buckets = timeline.per_hour(found.window_start, found.window_end, **filters)
    except ValidationFailed as exc:
        add_service_errors(form, exc)
        return {"filter_form": form, "events": [], "chart": "", "total": 0, "unit": "hour"}
    total = sum(b.total for b in buckets)
    return {
        "filter_form": form,
        "events": events,
        "unit": unit,
        "total": total,
        "chart": incident_charts.events_svg(unit, buckets),
    }


def _initial(found) -> dict:
    names = (
        "status",
        "reported_at",
        "summary",
        "systems_affected",
        "actions_taken",
        "window_start",
        "window_end",
    )
    return {name: getattr(found, name) for name in names}


@permission_required(Perm.DEFENSE_INCIDENTS)
def incident(request, number: str, update_form: IncidentUpdateForm | None = None):
    found = selectors.incident_get(number)
    context = {
        "incident": found,
        "alerts": selectors.incident_alerts(found),
        "report": certin.report(found),
        "update_form": update_form or IncidentUpdateForm(initial=_initial(found)),
        **_timeline(request, found),
    }
    return render(request, "defense/incident.html", context, status=400 if update_form else 200)


@permission_required(Perm.DEFENSE_INCIDENTS)
@require_POST
def incident_update(request, number: str):
    found = selectors.incident_get(number)
    form = IncidentUpdateForm(request.POST, initial=_initial(found))
    if form.is_valid():
        done = on_form(form, lambda: incidents.incident_update(
            actor=request.user, incident=found, reason=form.cleaned_data["reason"],
            **form.changes(),
        ))  # fmt: skip
        if done is not FAILED:
            messages.success(request, f"Incident {found.number} updated.")
            return redirect("defense:incident", number=found.number)
    return incident(request, number, update_form=form)


@permission_required(Perm.DEFENSE_INCIDENTS)
def certin_text(request, number: str):
    found = selectors.incident_get(number)
    reply = HttpResponse(
        certin.report_text(certin.report(found)), content_type="text/plain; charset=utf-8"
    )
    reply["Content-Disposition"] = f'attachment; filename="{found.number}-cert-in.txt"'
    return reply


@permission_required(Perm.DEFENSE_INCIDENTS)
def certin_pdf(request, number: str):
    found = selectors.incident_get(number)
    content = certin.report_pdf(found, printed_by=pdf.printed_by(request))
    return pdf.response(content, f"{found.number}-cert-in.pdf")


@permission_required(Perm.DEFENSE_INCIDENTS)
@require_POST
def incident_evidence(request, number: str):
    """The evidence bundle as a download. A POST: it records the patients it names as
    exported (a change of the access chain, not a page view)."""
    found = selectors.incident_get(number)
    scratch = Path(tempfile.mkdtemp(prefix="ajeya-evidence-download-"))
    try:
        path = evidence.export(found, scratch, actor=request.user)
        handle = path.open("rb")
    finally:
        shutil.rmtree(scratch)  # an open file stays readable until the response closes it
    return FileResponse(
        handle, as_attachment=True, filename=path.name, content_type="application/zip"
    )
