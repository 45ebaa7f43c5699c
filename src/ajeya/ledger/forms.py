from __future__ import annotations

from django import forms

from ajeya.ledger.models import AccessKind, LedgerAction


class AuditForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("changes", "Changes to records"), ("accesses", "Views of patient records")],
        initial="changes",
    )
    username = forms.CharField(required=False, max_length=150, label="User")
    uhid = forms.RegexField(
        regex=r"^\d{12}$",
        required=False,
        label="Patient UHID",
        error_messages={"invalid": "A UHID is 12 digits."},
    )
    ip = forms.GenericIPAddressField(required=False, label="IP address")
    action = forms.ChoiceField(
        required=False,
        choices=[("", "any")]
        + [(f"{c.value}", f"change: {c.label}") for c in LedgerAction]
        + [(f"{c.value}", f"view: {c.label}") for c in AccessKind],
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_uhid(self):
        return "".join(ch for ch in self.cleaned_data.get("uhid", "") if ch.isdigit())
