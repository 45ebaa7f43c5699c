"""Registration, correction and allergy forms. They validate; the services write."""

from __future__ import annotations

from django import forms
from django.conf import settings

from ajeya.patients import validators
from ajeya.patients.models import AllergySeverity, Patient, PatientCategory, Sex
from ajeya.patients.services import DEMOGRAPHIC_FIELDS

_FIELDS = [f for f in DEMOGRAPHIC_FIELDS if f != "dob_estimated"]
_FIELD_RULES = {
    "name": [validators.validate_person_name],
    "guardian_name": [validators.validate_person_name],
    "date_of_birth": [validators.validate_date_of_birth],
    "pincode": [validators.validate_pincode],
    "aadhaar_last4": [validators.validate_aadhaar_last4],
}


class PatientForm(forms.ModelForm):
    age_years = forms.IntegerField(
        label="or age (years)",
        required=False,
        min_value=0,
        max_value=validators.MAX_AGE_YEARS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "style": "width:6em"}),
    )

    class Meta:
        model = Patient
        fields = _FIELDS
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "phone": forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
            "pincode": forms.TextInput(attrs={"inputmode": "numeric", "maxlength": 6}),
            "abha_number": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            "aadhaar_last4": forms.TextInput(
                attrs={"inputmode": "numeric", "autocomplete": "off", "style": "width:6em"}
            ),
            "sex": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update({"autofocus": True, "autocomplete": "off"})
        self.fields["date_of_birth"].required = False
        self.fields["state"].initial = getattr(settings, "AJEYA_DEFAULT_STATE", "")
        self.fields["category"].initial = PatientCategory.GENERAL
        # Fields as typed are cleaned by the service too; the form normalises first so
        # its messages match what will be stored.
        self.fields["phone"].max_length = None
        self.fields["abha_number"].max_length = None
        self.fields["aadhaar_last4"].max_length = None
        self.fields["sex"].choices = Sex.choices  # no "---------" radio button
        for name in ("phone", "abha_number", "aadhaar_last4"):
            # People type spaces, dashes and +91: the limit applies after normalising.
            self.fields[name].widget.attrs.pop("maxlength", None)
            self.fields[name].validators = [
                v for v in self.fields[name].validators if not hasattr(v, "limit_value")
            ]
        for name, rules in _FIELD_RULES.items():
            self.fields[name].validators.extend(rules)

    def clean_phone(self):
        value = validators.normalise_phone(self.cleaned_data.get("phone", ""))
        validators.validate_phone(value)
        return value

    def clean_abha_number(self):
        value = validators.normalise_abha(self.cleaned_data.get("abha_number", ""))
        validators.validate_abha(value)
        return value

    def clean(self):
        data = super().clean()
        no_birth = not data.get("date_of_birth") and data.get("age_years") is None
        if no_birth and not {"date_of_birth", "age_years"} & set(self.errors):
            self.add_error("date_of_birth", "Enter a date of birth or an age in years.")
        if data.get("category") == PatientCategory.SCHEME and not data.get("scheme"):
            self.add_error("scheme", "Choose the scheme for a scheme patient.")
        return data

    def _post_clean(self):
        # The model's own full_clean runs in the service; running it here on a
        # half-built instance (no UHID, no seal) would only duplicate messages.
        pass

    def details(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in _FIELDS}
        data["age_years"] = self.cleaned_data.get("age_years")
        if data["date_of_birth"] is not None:
            data["age_years"] = None
        return data


class RegisterForm(PatientForm):
    confirm_new = forms.BooleanField(
        required=False,
        label="None of these is the patient: register as new",
    )


class EditForm(PatientForm):
    reason = forms.CharField(
        label="Reason for the change",
        max_length=500,
        help_text="Kept in the ledger with the change, e.g. 'spelling corrected from ID card'.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.pop("autofocus", None)
        self.fields["reason"].widget.attrs["autofocus"] = True
        self.fields["age_years"].help_text = "Type an age to replace the date with an estimate."

    def details(self) -> dict:
        data = super().details()
        # The date box always holds the current date; an age typed now is the correction.
        if self.cleaned_data.get("age_years") is not None:
            data["date_of_birth"] = None
            data["age_years"] = self.cleaned_data["age_years"]
        return data


class AllergyForm(forms.Form):
    substance = forms.CharField(
        max_length=100,
        help_text="A drug, food or material, e.g. Penicillin, Peanuts, Latex.",
        error_messages={"required": "Name the substance the patient is allergic to."},
    )
    reaction = forms.CharField(
        max_length=200, required=False, help_text="What happened, e.g. rash, wheeze."
    )
    # No default: whoever records the allergy must say how severe it is.
    severity = forms.ChoiceField(
        choices=[("", "Choose…"), *AllergySeverity.choices],
        error_messages={"required": "Choose how severe the reaction is."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["substance"].widget.attrs["autocomplete"] = "off"


class AllergyRemoveForm(forms.Form):
    allergy = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Reason for removing",
        max_length=200,
        error_messages={"required": "Say why the allergy is removed."},
    )


class MergeRequestForm(forms.Form):
    survivor = forms.CharField(
        label="UHID the person already had", max_length=20,
        help_text="The record to keep; this one will point to it.",
    )  # fmt: skip
    reason = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How you know: e.g. 'same name, father and phone; patient confirms'.",
    )  # fmt: skip


class MergeDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(max_length=300, required=False)
