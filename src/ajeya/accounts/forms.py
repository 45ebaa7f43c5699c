from __future__ import annotations

from django import forms

from ajeya.core.models import Department
from ajeya.core.roles import Role


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Six-digit code",
        error_messages={"invalid": "Enter the six digits your authenticator app shows."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class StaffCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[a-z0-9._-]{3,40}$",
        error_messages={"invalid": "Use 3-40 lower-case letters, digits, dots, dashes."},
    )
    full_name = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)
    department = forms.ModelChoiceField(queryset=Department.objects.all(), required=False)
    employee_id = forms.CharField(max_length=30, required=False)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput)


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(widget=forms.PasswordInput, strip=False)
    new_password = forms.CharField(widget=forms.PasswordInput, strip=False)
    new_password_again = forms.CharField(widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", "The two new passwords differ.")
        return data
