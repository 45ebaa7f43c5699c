"""Notices shown at the top of every page for the signed-in person ("3 critical lab
results to acknowledge"). Apps register a provider in their AppConfig.ready();
core knows none of them, so the dependency still points from the apps to core."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache

Notice = tuple[str, str]  # (text, link)
Provider = Callable[[object], list[Notice]]

_providers: list[Provider] = []
log = logging.getLogger(__name__)


def register(provider: Provider) -> None:
    """Add a provider: provider(user) -> [(text, url), …]; registering twice is a no-op."""
    if provider not in _providers:
        _providers.append(provider)


def notices_for(user) -> list[Notice]:
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    found: list[Notice] = []
    for provider in _providers:
        try:
            found.extend(provider(user))
        except Exception:
            # A notice is a courtesy: a failing provider must not take every page down.
            log.exception("notice provider %r failed", provider)
    return found


def context_processor(request) -> dict:
    """`notices` for base.html, worked out only if the page draws it (an htmx fragment
    or a polling board never pays for the query)."""
    user = getattr(request, "user", None)
    return {"notices": cache(lambda: notices_for(user))}
