"""Time in one place: stored in UTC, shown and reasoned about in IST."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def today() -> dt.date:
    """Today's date in the hospital's time zone (IST), not the server's UTC date."""
    return timezone.localdate(now())


def local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value)


@contextlib.contextmanager
def travel(moment: dt.datetime) -> Iterator[None]:
    """Seeding only: services (and the ledger) read `moment` as now, so the demo
    hospital can have a past (a week of laboratory turnaround times). Not thread-safe
    and never used by a running hospital: its ledger times are real."""
    global now
    real = now
    now = lambda: moment  # noqa: E731
    try:
        yield
    finally:
        now = real


def every_minutes(n: int):
    """A periodic task's schedule: true at every n-th minute of the day (local time)."""
    return lambda moment: (moment.hour * 60 + moment.minute) % n == 0
