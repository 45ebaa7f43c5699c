"""OPD forms: check-in, transfer, vitals and the consultation. The services decide."""

from __future__ import annotations

from django import forms

from ajeya.appointments.models import Clinic
from ajeya.opd.models import Frequency, Route
from ajeya.opd.services import VITAL_RANGES


class CheckInForm(forms.Form):
    q = forms.CharField(
        label="UHID or appointment number",
        max_length=20,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


class WalkInForm(forms.Form):
    uhid = forms.CharField(widget=forms.HiddenInput)
    clinic = forms.ModelChoiceField(Clinic.objects.filter(is_active=True))


class TransferForm(forms.Form):
    to_clinic = forms.ModelChoiceField(Clinic.objects.filter(is_active=True), label="Send to")
    reason = forms.CharField(max_length=200)


class VitalsForm(forms.Form):
    """Free text fields: the service names a wrong value and its range exactly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, rule in VITAL_RANGES.items():
            self.fields[name] = forms.CharField(
                label=f"{rule.label} ({rule.unit})",
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
            )


PRESCRIPTION_ROWS = 6
DIAGNOSIS_ROWS = 4


class PrescriptionForm(forms.Form):
    drug = forms.CharField(max_length=120, required=False)
    dose = forms.CharField(max_length=40, required=False)
    route = forms.ChoiceField(choices=Route.choices, initial=Route.ORAL, required=False)
    frequency = forms.ChoiceField(choices=Frequency.choices, required=False)
    duration_days = forms.IntegerField(min_value=1, max_value=365, required=False)
    instructions = forms.CharField(max_length=200, required=False)

    @property
    def filled(self) -> bool:
        return bool((self.cleaned_data or {}).get("drug"))


PrescriptionFormSet = forms.formset_factory(
    PrescriptionForm, extra=PRESCRIPTION_ROWS, max_num=20, validate_max=True
)


class ConsultationForm(forms.Form):
    complaints = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    examination = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    diagnosis_1 = forms.CharField(label="Principal diagnosis (ICD-10)", max_length=250)
    diagnosis_2 = forms.CharField(label="Other diagnosis", max_length=250, required=False)
    diagnosis_3 = forms.CharField(label="Other diagnosis", max_length=250, required=False)
    diagnosis_4 = forms.CharField(label="Other diagnosis", max_length=250, required=False)
    lab_tests = forms.CharField(
        label="Lab tests (one per line)",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    advice = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    admit_advised = forms.BooleanField(label="Advise admission", required=False)
    admit_note = forms.CharField(label="Why, and to which ward", max_length=200, required=False)
    follow_up_on = forms.DateField(
        label="Follow up on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def diagnosis_codes(self) -> list[str]:
        """ "J18.9 Pneumonia, unspecified" or "J18.9": the code is the first word."""
        codes = []
        for n in range(1, DIAGNOSIS_ROWS + 1):
            value = (self.cleaned_data.get(f"diagnosis_{n}") or "").strip()
            if value:
                codes.append(value.split()[0])
        return codes

    def lab_lines(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data.get("lab_tests", "").splitlines()
            if line.strip()
        ]
