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

_EXEMPT = {"accounts:mfa_setup", "accounts:mfa_verify", "accounts:logout"}
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
        if match is not None and match.view_name in _EXEMPT:
            return None
        next_qs = urlencode({"next": request.get_full_path()})
        if not request.session.get(_SESSION_NO_DEVICE):
            if user_has_confirmed_device(user):
                return redirect(f"{reverse('accounts:mfa_verify')}?{next_qs}")
            request.session[_SESSION_NO_DEVICE] = True
        if user.mfa_required:
            return redirect(f"{reverse('accounts:mfa_setup')}?{next_qs}")
        return None
