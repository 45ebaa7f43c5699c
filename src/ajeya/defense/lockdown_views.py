"""The lockdown page (IT/security and hospital administrators): the state and its history,
switching on, and switching off by two people, each step with a fresh two-factor code."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from ajeya.core.errors import ValidationFailed
from ajeya.core.forms import FAILED, on_form
from ajeya.core.roles import Perm, permission_required
from ajeya.core.validation import MIN_REASON_LENGTH
from ajeya.defense import lockdown as lockdowns


class _CodeForm(forms.Form):
    """A step that needs the person's current two-factor code, checked last (a code is
    used up once checked, so it is not spent on a form refused for another field)."""

    action = forms.CharField(widget=forms.HiddenInput)
    token = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Your two-factor code, now",
        error_messages={"invalid": "Enter the six digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                lockdowns.two_factor_check(user=self.user, token=data["token"])
            except ValidationFailed as exc:
                self.add_error("token", exc.human)
        return data


class OnForm(_CodeForm):
    reason = forms.CharField(
        max_length=300, min_length=MIN_REASON_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was seen (an alert, encrypted files, a call from CERT-In). Everyone "
        "is logged out at once; the system stays read-only until two people switch it off.",
    )  # fmt: skip
    field_order = ["action", "reason", "token"]


class OffForm(_CodeForm):
    note = forms.CharField(
        max_length=300, min_length=MIN_REASON_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why it is safe now: what was found, cleaned, reset.",
    )  # fmt: skip
    field_order = ["action", "note", "token"]


# action: (form, the service, the form field the service takes, what it says when done)
ACTIONS = {
    "on": (OnForm, lockdowns.lockdown_on, "reason", ""),
    "off_request": (
        OffForm, lockdowns.lockdown_off_request, "note",
        "You asked to switch lockdown off: a second person confirms with their own code.",
    ),
    "off_confirm": (
        OffForm, lockdowns.lockdown_off_confirm, "note",
        "Lockdown is off: the system is writable again.",
    ),
}  # fmt: skip


def _next_step(current, user) -> str:
    """Which form the page offers: switch on, ask to switch off, confirm, or none (the
    one who asked waits for a second person)."""
    if current is None:
        return "on"
    if current.off_requested_by_id is None:
        return "off_request"
    return "" if current.off_requested_by_id == user.pk else "off_confirm"


def _act(request, form: _CodeForm, action: str):
    """Run the step's service; on success the response to send, else None (the refusal
    is on the form)."""
    _, service, field, done_text = ACTIONS[action]
    result = on_form(form, lambda: service(actor=request.user, **{field: form.cleaned_data[field]}))
    if result is FAILED:
        return None
    if action != "on":
        messages.success(request, done_text)
        return redirect("defense:lockdown")
    # Every session has ended, this one too: log in again (with two-factor) to go on.
    logout(request)
    messages.warning(
        request,
        f"Lockdown is on. Every session has ended ({result.sessions_ended}), yours too: "
        "log in again.",
    )
    query = urlencode({"next": reverse("defense:lockdown")})
    return redirect(f"{reverse('accounts:login')}?{query}")


@permission_required(Perm.DEFENSE_LOCKDOWN)
def lockdown(request):
    current = lockdowns.active()
    step = _next_step(current, request.user)
    form = ACTIONS[step][0](initial={"action": step}, user=request.user) if step else None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            status = 400
        else:
            step, status = action, 422
            form = ACTIONS[action][0](request.POST, user=request.user)
            if form.is_valid() and (done := _act(request, form, action)) is not None:
                return done
    context = {
        "current": current,
        "step": step,
        "form": form,
        "history": lockdowns.history(),
        "emergency": settings.AJEYA_LOCKDOWN_EMERGENCY,
        "paused": settings.AJEYA_LOCKDOWN_PAUSED,
    }
    return render(request, "defense/lockdown.html", context, status=status)
