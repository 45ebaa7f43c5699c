"""Who is acting, from where, in which request: set once per request (or CLI run).

Services read it when they write the ledger, so every entry carries IP and request id
without threading them through every call.
"""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    channel: str = "system"  # web, cli, worker, system
    # Set for a page in the lockdown's emergency set (defense.middleware): its writes go
    # through while the rest of the system is read-only.
    emergency: bool = False


_NONE = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("ajeya_request_context", default=None)


def current() -> RequestContext:
    return _current.get() or _NONE


@contextlib.contextmanager
def bind(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def _valid_ip(value: str) -> str:
    if "%" in value:  # an IPv6 zone id is not an address and must not reach the ledger
        return ""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or the address the trusted proxies saw.

    With AJEYA_TRUSTED_PROXY_COUNT=N, the N-th address from the right of
    X-Forwarded-For is taken; anything further left is client-supplied and untrusted.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    hops = settings.AJEYA_TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [p for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if len(forwarded) < hops:
        return remote
    return _valid_ip(forwarded[-hops]) or remote
