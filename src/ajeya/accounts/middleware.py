"""Two-factor enforcement: no page until the second factor is given or enrolled.

Roles in MFA_REQUIRED_ROLES must enrol at first login; anyone who has enrolled must
give a code every login.
"""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from ajeya.accounts.selectors import user_has_confirmed_device
from ajeya.core.roles import PUBLIC

_EXEMPT = {"accounts:mfa_verify", "accounts:logout"}
_SESSION_NO_DEVICE = "_ajeya_no_otp_device"


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        if getattr(view_func, "required_permission", None) == PUBLIC:
            return None
        match = request.resolver_match
        view_name = match.view_name if match is not None else ""
        if view_name in _EXEMPT:
            return None
        next_qs = urlencode({"next": request.get_full_path()})
        # Someone who has an authenticator must use it: without this, a stolen password
        # could enrol a second authenticator on the setup page and pass as verified.
        if not request.session.get(_SESSION_NO_DEVICE):
            if user_has_confirmed_device(user):
                return redirect(f"{reverse('accounts:mfa_verify')}?{next_qs}")
            request.session[_SESSION_NO_DEVICE] = True
        if view_name == "accounts:mfa_setup":
            return None
        if user.mfa_required:
            return redirect(f"{reverse('accounts:mfa_setup')}?{next_qs}")
        if user.must_change_password and view_name != "accounts:password_change":
            return redirect(f"{reverse('accounts:password_change')}?{next_qs}")
        return None
