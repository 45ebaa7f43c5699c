"""Time in one place: stored in UTC, shown and reasoned about in IST."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def today() -> dt.date:
    """Today's date in the hospital's time zone (IST), not the server's UTC date."""
    return timezone.localdate(now())


def local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value)
