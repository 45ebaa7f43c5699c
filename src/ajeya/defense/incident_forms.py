"""Incident forms: opening one (pre-filled from alerts), updating it, filtering its
timeline. They check what was typed; the services decide."""

from __future__ import annotations

from django import forms
from django.db.models import Q

from ajeya.core import clock
from ajeya.defense.certin import KIND_FOR_RULE, IncidentKind
from ajeya.defense.incidents import default_window
from ajeya.defense.models import Alert, AlertStatus, IncidentStatus, Severity

WHEN = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")
_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class AlertChoices(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj: Alert) -> str:
        when = clock.local(obj.occurred_at).strftime("%d-%m-%Y %H:%M")
        who = f", {obj.actor_username}" if obj.actor_username else ""
        ip = f", {obj.ip}" if obj.ip else ""
        return f"#{obj.pk} {obj.get_severity_display()}: {obj.title} ({when}{who}{ip})"


class IncidentOpenForm(forms.Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(
        label="Incident type (CERT-In, Annexure I)", choices=IncidentKind.choices
    )
    detected_at = forms.DateTimeField(
        label="Detected at (IST)",
        widget=WHEN,
        help_text="CERT-In must have the report within 6 hours of this.",
    )
    window_start = forms.DateTimeField(
        label="Investigate from (IST)",
        widget=WHEN,
        required=False,
        help_text="Empty: 24 h before the earliest alert",
    )
    window_end = forms.DateTimeField(
        label="Investigate to (IST)", widget=WHEN, required=False, help_text="Empty: now"
    )
    alerts = AlertChoices(
        queryset=Alert.objects.none(), required=False, label="Alerts that are part of it"
    )
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="What is known so far"
    )

    def __init__(self, *args, chosen: list[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        unlinked = Alert.objects.filter(incident=None)
        self.fields["alerts"].queryset = unlinked.filter(
            ~Q(status=AlertStatus.RESOLVED) | Q(pk__in=list(chosen))
        ).order_by("-occurred_at")


def initial_from_alerts(alerts: list[Alert]) -> dict:
    """What an incident opened from these alerts most likely is: the worst alert's title
    and type, detected when the first was raised, the default window."""
    if not alerts:
        return {"detected_at": clock.now().replace(microsecond=0)}
    worst = min(alerts, key=lambda a: (_RANK.get(a.severity, 3), a.occurred_at))
    start, end = default_window(alerts)
    return {
        "title": worst.title,
        "kind": KIND_FOR_RULE.get(worst.rule, IncidentKind.UNAUTHORISED_ACCESS),
        "detected_at": min(a.raised_at for a in alerts),
        "window_start": start,
        "window_end": end,
        "alerts": [a.pk for a in alerts],
    }


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    reported_at = forms.DateTimeField(
        label="Reported to CERT-In at (IST)", widget=WHEN, required=False
    )
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Description"
    )
    systems_affected = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Affected systems"
    )
    actions_taken = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Actions taken"
    )
    window_start = forms.DateTimeField(label="Investigate from (IST)", widget=WHEN)
    window_end = forms.DateTimeField(label="Investigate to (IST)", widget=WHEN)
    reason = forms.CharField(max_length=300, help_text="Kept in the ledger with the change")

    def changes(self) -> dict:
        return {k: self.cleaned_data[k] for k in self.changed_data if k != "reason"}


class TimelineFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User")
    ip = forms.CharField(required=False, max_length=45, label="IP address")
    patient = forms.CharField(required=False, max_length=20, label="Patient UHID")
