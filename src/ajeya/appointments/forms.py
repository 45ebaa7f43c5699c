"""Scheduling and booking forms. They validate input; the services decide and write."""

from __future__ import annotations

import datetime as dt

from django import forms

from ajeya.accounts.models import User
from ajeya.appointments.models import BookingChannel, Clinic, ClosureKind, Weekday
from ajeya.core.models import Department
from ajeya.core.roles import Role


def parse_slot(value: str) -> tuple[int, dt.time]:
    """ "<session id>@HH:MM", as the slot grid posts it; anything else is refused."""
    if not value:
        raise forms.ValidationError("Choose a slot from the grid.")
    session_id, _, hhmm = value.partition("@")
    try:
        if not session_id.isdigit() or len(hhmm) != 5:
            raise ValueError(value)
        return int(session_id), dt.time.fromisoformat(hhmm)
    except ValueError:
        raise forms.ValidationError("That slot is not one the grid offered.") from None


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _doctors():
    return User.objects.filter(role=Role.DOCTOR, is_active=True).order_by("full_name")


class ClinicForm(forms.Form):
    code = forms.CharField(max_length=16, help_text="Short code, e.g. MED-1")
    name = forms.CharField(max_length=100)
    department = forms.ModelChoiceField(Department.objects.filter(kind="clinical"))
    room = forms.CharField(max_length=20)


class SessionForm(forms.Form):
    clinic = forms.ModelChoiceField(Clinic.objects.filter(is_active=True))
    doctor = forms.ModelChoiceField(
        _doctors(), required=False, help_text="Leave empty for the unit as a whole"
    )
    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int)
    start_time = forms.TimeField(widget=TIME)
    end_time = forms.TimeField(widget=TIME)
    slot_minutes = forms.IntegerField(initial=15)
    per_slot = forms.IntegerField(label="Patients per slot", initial=4)
    valid_from = forms.DateField(widget=DATE)
    valid_until = forms.DateField(widget=DATE, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = _doctors()
        self.fields["doctor"].label_from_instance = lambda u: u.full_name or u.username


class ClosureForm(forms.Form):
    kind = forms.ChoiceField(choices=ClosureKind.choices)
    clinic = forms.ModelChoiceField(Clinic.objects.filter(is_active=True), required=False)
    doctor = forms.ModelChoiceField(_doctors(), required=False)
    start_date = forms.DateField(widget=DATE)
    end_date = forms.DateField(widget=DATE)
    reason = forms.CharField(max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = _doctors()
        self.fields["doctor"].label_from_instance = lambda u: u.full_name or u.username


class BookForm(forms.Form):
    uhid = forms.CharField(label="Patient UHID", max_length=20)
    clinic = forms.ModelChoiceField(Clinic.objects.filter(is_active=True))
    date = forms.DateField(widget=DATE)
    slot = forms.CharField(
        required=False, widget=forms.HiddenInput, error_messages={"required": "Choose a slot."}
    )
    channel = forms.ChoiceField(
        choices=[(BookingChannel.COUNTER, "At the counter"), (BookingChannel.PHONE, "By phone")],
        initial=BookingChannel.COUNTER,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(max_length=200, required=False)

    def clean_slot(self) -> tuple[int, dt.time] | None:
        """A slot is "<session id>@HH:MM", as the slot grid posts it."""
        return parse_slot(self.cleaned_data.get("slot") or "")


class RescheduleForm(forms.Form):
    date = forms.DateField(widget=DATE)
    slot = forms.CharField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=200)

    clean_slot = BookForm.clean_slot


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200)


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label="Mobile number you registered with",
        max_length=14,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "tel", "autofocus": True}
        ),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="The 6-digit code we sent",
        max_length=8,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}
        ),
    )


class SelfBookForm(forms.Form):
    patient = forms.ChoiceField(widget=forms.RadioSelect)
    clinic = forms.ModelChoiceField(Clinic.objects.filter(is_active=True))
    date = forms.DateField(widget=DATE)
    slot = forms.CharField(required=False, widget=forms.HiddenInput)

    clean_slot = BookForm.clean_slot

    def __init__(self, *args, patients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].choices = [
            (p.uhid, f"{p.name} ({p.uhid_display})") for p in patients
        ]
