"""Form helpers shared by every app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.utils.http import url_has_allowed_host_and_scheme

from ajeya.core.errors import ApplicationError, ValidationFailed

FAILED = object()  # what `on_form` returns when the service refused


def add_service_errors(form: forms.Form, exc: ValidationFailed) -> None:
    """Show a service's refusal on the form: on the field it names, or at the top."""
    for field, messages in exc.errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


def on_form(form: forms.Form, call: Callable[[], Any]) -> Any:
    """Run a service for a form: its result, or `FAILED` with the refusal on the form —
    field by field for a ValidationFailed, at the top for any other ApplicationError
    (a conflict, a refused permission, a lockdown)."""
    try:
        return call()
    except ValidationFailed as exc:
        add_service_errors(form, exc)
    except ApplicationError as exc:
        form.add_error(None, exc.message)
    return FAILED


def safe_next(request, default: str = "/") -> str:
    """The `next` a form or link asks for, if it stays on this site (never an open
    redirect to somewhere else)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
