"""The IT/security desk's alerts: the list, one alert with its evidence, acknowledging
and resolving with notes; and the canary records the rules watch."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render

from ajeya.core.forms import FAILED, on_form
from ajeya.core.roles import Perm, permission_required
from ajeya.defense import charts, selectors, services
from ajeya.defense.forms import AlertNoteForm, CanaryForm
from ajeya.defense.models import AlertStatus


@permission_required(Perm.DEFENSE_ALERTS)
def alerts(request):
    status = request.GET.get("status", "unresolved")
    counts = selectors.alert_counts()
    context = {
        "alerts": selectors.alerts(status)[:500],
        "status": status,
        "statuses": [("unresolved", "Unresolved"), *AlertStatus.choices, ("all", "All")],
        "chart": charts.severity_svg(counts),
    }
    return render(request, "defense/alerts.html", context)


@permission_required(Perm.DEFENSE_ALERTS)
def alert(request, pk: int):
    found = selectors.alert_get(pk)
    form = AlertNoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        handle = (
            services.alert_resolve
            if form.cleaned_data["action"] == "resolve"
            else services.alert_acknowledge
        )
        done = on_form(form, lambda: handle(actor=request.user, alert=found,
                                            note=form.cleaned_data["note"]))  # fmt: skip
        if done is not FAILED:
            messages.success(request, f"Alert {found.pk} {form.cleaned_data['action']}d.")
            return redirect("defense:alert", pk=found.pk)
    status = 422 if request.method == "POST" else 200
    evidence = json.dumps(found.evidence, indent=2, ensure_ascii=False, sort_keys=True)
    context = {"alert": found, "form": form, "evidence": evidence}
    return render(request, "defense/alert.html", context, status=status)


@permission_required(Perm.DEFENSE_ALERTS)
def canaries(request):
    from ajeya.patients.selectors import patient_get

    form = CanaryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():

        def mark():
            patient = patient_get(form.cleaned_data["uhid"])
            services.canary_add(actor=request.user, patient=patient,
                                note=form.cleaned_data["note"])  # fmt: skip
            return patient

        patient = on_form(form, mark)
        if patient is not FAILED:
            messages.success(request, f"{patient.uhid_display} is now a canary record.")
            return redirect("defense:canaries")
    status = 422 if request.method == "POST" else 200
    context = {"canaries": selectors.canaries(), "form": form}
    return render(request, "defense/canaries.html", context, status=status)
