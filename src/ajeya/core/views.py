"""The home page, the error pages, and the answer shape of the public paper checks."""

from __future__ import annotations

from django.shortcuts import render

from ajeya.core.roles import Perm, has_perm, login_required


def public_check(request, template: str, context: dict, *, unknown: bool):
    """A page anyone reaches by scanning a printed paper's QR code: 404 when the code
    names nothing; never indexed, and the address (it holds a fingerprint) is not passed
    on to another site."""
    response = render(request, template, context, status=404 if unknown else 200)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
def home(request):
    context = {}
    if has_perm(request.user, Perm.LEDGER_STATUS):
        from ajeya.ledger.selectors import ledger_status

        context["ledger"] = ledger_status()
    return render(request, "core/home.html", context)


def permission_denied(request, exception=None):
    message = (
        str(exception) if exception and str(exception) else "Your role may not open this page."
    )
    return render(
        request, "core/error.html", {"title": "Not allowed", "message": message}, status=403
    )


def page_not_found(request, exception=None):
    return render(
        request,
        "core/error.html",
        {"title": "Not found", "message": "There is nothing at this address."},
        status=404,
    )


def server_error(request):
    return render(
        request,
        "core/error.html",
        {
            "title": "Something went wrong",
            "message": "The error has been logged. Nothing you entered was half-saved; "
            "try again, and tell IT if it happens again.",
        },
        status=500,
    )
