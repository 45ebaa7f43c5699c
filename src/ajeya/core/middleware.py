"""Request context for the ledger, and the one place application errors become pages."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from ajeya.core import context
from ajeya.core.errors import ApplicationError


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A NUL character is in no identifier, and PostgreSQL refuses it in any query
        # (a 500 where every other unknown identifier is "not found").
        if "\x00" in request.path or any("\x00" in v for v in request.GET.values()):
            raise Http404("No such page.")
        # Always our own id: one supplied by the client could pass an intruder's entries
        # off as part of someone else's request.
        ctx = context.RequestContext(
            ip=context.client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=context.new_request_id(),
            channel="web",
        )
        request.request_id = ctx.request_id
        with context.bind(ctx):
            response = self.get_response(request)
        response["X-Request-ID"] = ctx.request_id
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, ApplicationError):
            return render(
                request,
                "core/error.html",
                {"title": "That could not be done", "message": exception.message},
                status=exception.http_status,
            )
        return None


POLL_HEADER = "X-Ajeya-Poll"


class ActivityMiddleware:
    """Renew the session (and so its idle timeout) on each request a person makes. The
    self-refreshing screens send POLL_HEADER, so a bed board or hall display left open
    does not keep a logged-in session alive past its idle timeout."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not request.headers.get(POLL_HEADER) and not session.is_empty():
            session.modified = True
        return response
