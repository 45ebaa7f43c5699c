"""A report's period and department, checked one way everywhere: dates typed as
DD-MM-YYYY or YYYY-MM-DD, the end not before the start, not longer than the report
allows, a department that exists. Each refusal names the field and the problem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from ajeya.core import clock
from ajeya.core.errors import ValidationFailed
from ajeya.core.models import Department

EARLIEST = dt.date(2000, 1, 1)
DEFAULT_MAX_DAYS = 92


@dataclass(frozen=True)
class Period:
    """IST days `start` to `end`, both included."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range(self.days)]

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period as a UTC half-open interval [first midnight IST, last midnight IST)."""
        first = timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))
        last = timezone.make_aware(dt.datetime.combine(self.end, dt.time.min))
        return first, last + dt.timedelta(days=1)

    def check(self, *, max_days: int = DEFAULT_MAX_DAYS) -> Period:
        latest = clock.today() + dt.timedelta(days=366)
        far = {
            name: [f"Choose a day between {EARLIEST:%d-%m-%Y} and {latest:%d-%m-%Y}."]
            for name, day in (("start", self.start), ("end", self.end))
            if not EARLIEST <= day <= latest
        }
        if far:
            raise ValidationFailed(far)
        if self.end < self.start:
            raise ValidationFailed(
                {
                    "end": [
                        f"The last day ({self.end:%d-%m-%Y}) is before the first "
                        f"({self.start:%d-%m-%Y})."
                    ]
                }
            )
        if self.days > max_days:
            raise ValidationFailed(
                {
                    "start": [
                        f"Choose at most {max_days} days; {self.start:%d-%m-%Y} to "
                        f"{self.end:%d-%m-%Y} is {self.days} days."
                    ]
                }
            )
        return self

    def __str__(self) -> str:
        if self.start == self.end:
            return f"{self.start:%d-%m-%Y}"
        return f"{self.start:%d-%m-%Y} to {self.end:%d-%m-%Y}"


def parse_date(text: str | None, *, field: str, default: dt.date) -> dt.date:
    raw = (text or "").strip()
    if not raw:
        return default
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    raise ValidationFailed({field: [f"{raw!r} is not a date (DD-MM-YYYY)."]})


def parse_period(
    start: str | None, end: str | None, *, max_days: int = DEFAULT_MAX_DAYS, default_days: int = 1
) -> Period:
    """The period a form or query string asks for; by default the last `default_days`
    days to today."""
    today = clock.today()
    errors: dict[str, list[str]] = {}
    first = last = today
    try:
        last = parse_date(end, field="end", default=today)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        first = parse_date(start, field="start", default=last - dt.timedelta(days=default_days - 1))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return Period(first, last).check(max_days=max_days)


def department(code: str | None) -> Department | None:
    """The department a filter names by code, or None for all; an unknown one is refused."""
    if not code or not code.strip():
        return None
    found = Department.objects.filter(code=code.strip().upper()).first()
    if found is None:
        raise ValidationFailed({"department": [f"There is no department {code.strip()!r}."]})
    return found
