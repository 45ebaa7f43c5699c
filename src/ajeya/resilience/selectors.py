"""How recovery stands, for the admin dashboard and the operator."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from ajeya.core import clock
from ajeya.resilience.models import BackupRun, DrillRun, ShipState


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def backup_line() -> tuple[str, bool]:
    """The dashboard's "Last backup": the newest good one, shipping lag, and whether
    either is failing or older than the schedule allows."""
    now = clock.now()
    run = BackupRun.objects.filter(ok=True).order_by("-started_at").first()
    if run is None:
        failed = BackupRun.objects.order_by("-started_at").first()
        if failed:
            return f"never succeeded; last attempt failed: {failed.message}", False
        return "never backed up (run `ajeya backup`; the worker does it on schedule)", False
    when = clock.local(run.started_at).strftime("%d-%m-%Y %H:%M IST")
    text = (
        f"{when} to {run.target}, {run.stored_bytes / 1e6:,.1f} MB"
        f" ({_ago((now - run.started_at).total_seconds())} ago)"
    )
    shipping = list(ShipState.objects.order_by("target"))
    lags = [
        (now - s.shipped_at).total_seconds() if s.shipped_at else None
        for s in shipping
        if s.target in settings.AJEYA_BACKUP_TARGETS
    ]
    if lags and None not in lags:
        text += f"; ledger shipped {_ago(max(lags))} ago"
    errors = [f"{x.target}: {x.last_error}" for x in shipping if x.last_error]
    if errors:
        return text + "; SHIPPING FAILING (" + "; ".join(errors)[:200] + ")", False
    if now - run.started_at > dt.timedelta(minutes=2 * settings.AJEYA_BACKUP_MINUTES):
        return text + ": older than the schedule allows", False
    return text, True


def restore_line() -> tuple[str, bool]:
    """The dashboard's "Last verified restore": the newest passed drill, red when the
    latest drill failed or none passed within AJEYA_DRILL_STALE_HOURS."""
    last = DrillRun.objects.order_by("-started_at").first()
    good = (
        last
        if last is None or last.ok
        else (DrillRun.objects.filter(ok=True).order_by("-started_at").first())
    )
    if good is None:
        if last is not None:
            return f"no drill has passed; the last one failed: {last.message}", False
        return "never drilled (run `ajeya drill --key FILE`)", False
    when = clock.local(good.started_at).strftime("%d-%m-%Y %H:%M IST")
    age = f", data {_ago(good.data_age_seconds)} old" if good.data_age_seconds is not None else ""
    text = f"{when}: restored and verified in {good.seconds:,.0f} s{age}"
    if not last.ok:
        return text + f"; the latest drill FAILED: {last.message}", False
    stale = dt.timedelta(hours=settings.AJEYA_DRILL_STALE_HOURS)
    if clock.now() - good.started_at > stale:
        return text + ": older than the schedule allows", False
    return text, True
