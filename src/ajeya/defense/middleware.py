"""Lockdown at the door. While a lockdown lasts, every request that would change something
(any method but GET, HEAD, OPTIONS, TRACE) is answered 423 Locked, and so is every export,
except:

- the emergency functions, AJEYA_LOCKDOWN_EMERGENCY (URL names such as patients:register):
  their requests run with `emergency` set in the request context, so the ledger's write
  guard lets their writes through;
- logging in and out and giving the two-factor code (IT must get in to switch it off);
- the defence pages (defense:*): the lockdown page, alerts, incidents.

An export is a page whose URL name is in AJEYA_LOCKDOWN_PAUSED or ends in `_export`,
`_csv` or `_xlsx`, or any page asked for `?format=csv` or `?format=xlsx` (the audit
search's CSV). Printing one patient's paper (a slip, a lab report PDF) is care, not an
export, and goes on.
"""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.shortcuts import render
from django.urls import Resolver404, resolve

from ajeya.core import context
from ajeya.defense import lockdown

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ALWAYS_OPEN = frozenset({"accounts:login", "accounts:logout", "accounts:mfa_verify"})
OPEN_NAMESPACES = ("defense:",)
EXPORT_SUFFIXES = ("_export", "_csv", "_xlsx")
EXPORT_FORMATS = frozenset({"csv", "xlsx"})


def view_name(request) -> str:
    try:
        return resolve(request.path_info, getattr(request, "urlconf", None)).view_name
    except Resolver404:
        return ""


def is_export(request, name: str) -> bool:
    return (
        name in settings.AJEYA_LOCKDOWN_PAUSED
        or name.endswith(EXPORT_SUFFIXES)
        or request.GET.get("format", "").lower() in EXPORT_FORMATS
    )


def refused_as(request, name: str) -> str:
    """What lockdown refuses of this request: "" (nothing), "change" or "export"."""
    if name in ALWAYS_OPEN or name.startswith(OPEN_NAMESPACES):
        return ""
    if request.method not in SAFE_METHODS:
        return "change"
    if is_export(request, name):
        return "export"
    return ""


class LockdownMiddleware:
    """After authentication, two-factor and the request context (settings.MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with lockdown.remembered():
            current = lockdown.active()
            if current is None:
                return self.get_response(request)
            name = view_name(request)
            if name in settings.AJEYA_LOCKDOWN_EMERGENCY:
                emergency = dataclasses.replace(context.current(), emergency=True)
                with context.bind(emergency):
                    return self.get_response(request)
            refused = refused_as(request, name)
            if refused:
                return render(
                    request,
                    "defense/lockdown_refused.html",
                    {"refused": refused, "message": lockdown.refusal(current)},
                    status=423,
                )
            return self.get_response(request)
