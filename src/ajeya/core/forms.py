"""Form helpers shared by every app."""

from __future__ import annotations

from django import forms

from ajeya.core.errors import ValidationFailed


def add_service_errors(form: forms.Form, exc: ValidationFailed) -> None:
    """Show a service's refusal on the form: on the field it names, or at the top."""
    for field, messages in exc.errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
