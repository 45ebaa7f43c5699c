"""Login, two-factor, and staff account pages."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.accounts import selectors, services
from ajeya.accounts.forms import PasswordChangeForm, ReasonForm, StaffCreateForm, TokenForm
from ajeya.accounts.models import User
from ajeya.core.errors import ValidationFailed
from ajeya.core.forms import add_service_errors, safe_next
from ajeya.core.roles import Perm, login_required, permission_required, public

login = public(
    auth_views.LoginView.as_view(
        template_name="accounts/login.html", redirect_authenticated_user=True
    )
)
logout = public(auth_views.LogoutView.as_view())

_SETUP_SESSION_KEY = "_ajeya_totp_setup_device"


def _next_url(request) -> str:
    return safe_next(request)


@login_required
def mfa_verify(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refusal = None
        for device in devices_for_user(request.user, confirmed=True):
            try:
                services.check_token(device, form.cleaned_data["token"])
            except ValidationFailed as exc:
                refusal = refusal or exc
            else:
                otp_login(request, device)
                return redirect(_next_url(request))
        if refusal:
            add_service_errors(form, refusal)
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _next_url(request)})


@login_required
def mfa_setup(request):
    if not request.user.is_verified() and selectors.user_has_confirmed_device(request.user):
        # Enrolling another authenticator needs the current one first.
        return redirect(f"{reverse('accounts:mfa_verify')}?next={request.get_full_path()}")
    device = None
    device_id = request.session.get(_SETUP_SESSION_KEY)
    if device_id:
        device = TOTPDevice.objects.filter(pk=device_id, user=request.user, confirmed=False).first()
    if device is None:
        device = services.totp_device_start(user=request.user)
        request.session[_SETUP_SESSION_KEY] = device.pk
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_device_confirm(
                user=request.user, device=device, token=form.cleaned_data["token"]
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        else:
            request.session.pop(_SETUP_SESSION_KEY, None)
            otp_login(request, device)
            messages.success(request, "Two-factor authentication is on for your account.")
            return redirect(_next_url(request))
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/mfa_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, dark="#111", light="#fff"),
            "secret": device.config_url.split("secret=")[1].split("&")[0],
            "required": request.user.mfa_required,
            "next": _next_url(request),
        },
    )


@login_required
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=request.user,
                current=form.cleaned_data["current_password"],
                new=form.cleaned_data["new_password"],
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, "Your password has been changed.")
            return redirect(_next_url(request))
    return render(
        request, "accounts/password_change.html", {"form": form, "next": _next_url(request)}
    )


@permission_required(Perm.STAFF_VIEW)
def staff_list(request):
    return render(request, "accounts/staff_list.html", {"staff": selectors.staff_list()})


@permission_required(Perm.STAFF_MANAGE)
def staff_create(request):
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                actor=request.user, must_change_password=True, **form.cleaned_data
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Account {user.username} created.")
            return redirect("accounts:staff_list")
    return render(request, "accounts/staff_form.html", {"form": form})


@permission_required(Perm.STAFF_MANAGE)
@require_POST
def staff_reset_mfa(request, user_id: int):
    return _staff_action(request, user_id, services.totp_reset, "Two-factor reset for {}.")


@permission_required(Perm.STAFF_MANAGE)
@require_POST
def staff_unlock(request, user_id: int):
    return _staff_action(request, user_id, services.user_unlock, "Lockout lifted for {}.")


def _staff_action(request, user_id, service, done_message):
    target = get_object_or_404(User, pk=user_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for this change.")
        return redirect("accounts:staff_list")
    try:
        service(actor=request.user, user=target, reason=form.cleaned_data["reason"])
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done_message.format(target.username))
    return redirect("accounts:staff_list")
