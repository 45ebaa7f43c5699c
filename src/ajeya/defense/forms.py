"""Alert handling and canary forms: they validate, the services decide."""

from __future__ import annotations

from django import forms


class AlertNoteForm(forms.Form):
    action = forms.ChoiceField(choices=[("acknowledge", "Acknowledge"), ("resolve", "Resolve")])
    note = forms.CharField(
        max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you found or did; kept with the alert in the ledger.",
    )  # fmt: skip


class CanaryForm(forms.Form):
    uhid = forms.CharField(label="UHID of the decoy patient", max_length=20)
    note = forms.CharField(max_length=200, required=False)
