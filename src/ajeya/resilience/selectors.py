"""How recovery stands, for the admin dashboard and the operator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from ajeya.core import clock
from ajeya.resilience.models import BackupRun, DrillRun, ShipState


@dataclass(frozen=True)
class Status:
    last_backup: BackupRun | None
    backup_stale: bool
    last_drill: DrillRun | None  # the newest drill, passed or not
    last_good_drill: DrillRun | None
    drill_stale: bool
    shipping: list[ShipState]
    shipping_lag_seconds: float | None  # the worst target's


def status() -> Status:
    now = clock.now()
    last_backup = BackupRun.objects.filter(ok=True).order_by("-started_at").first()
    backup_stale = last_backup is None or now - last_backup.started_at > dt.timedelta(
        minutes=2 * settings.AJEYA_BACKUP_MINUTES
    )
    last_drill = DrillRun.objects.order_by("-started_at").first()
    last_good = DrillRun.objects.filter(ok=True).order_by("-started_at").first()
    drill_stale = (
        last_good is None
        or not last_drill.ok
        or now - last_good.started_at > dt.timedelta(hours=settings.AJEYA_DRILL_STALE_HOURS)
    )
    shipping = list(ShipState.objects.order_by("target"))
    lags = [
        (now - s.shipped_at).total_seconds() if s.shipped_at else None
        for s in shipping
        if s.target in settings.AJEYA_BACKUP_TARGETS
    ]
    lag = None if not lags or None in lags else max(lags)
    return Status(last_backup, backup_stale, last_drill, last_good, drill_stale, shipping, lag)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def backup_line() -> tuple[str, bool]:
    s = status()
    if s.last_backup is None:
        failed = BackupRun.objects.order_by("-started_at").first()
        if failed:
            return f"never succeeded; last attempt failed: {failed.message}", False
        return "never backed up (run `ajeya backup`; the worker does it on schedule)", False
    run = s.last_backup
    when = clock.local(run.started_at).strftime("%d-%m-%Y %H:%M IST")
    text = (
        f"{when} to {run.target}, {run.stored_bytes / 1e6:,.1f} MB"
        f" ({_ago((clock.now() - run.started_at).total_seconds())} ago)"
    )
    if s.shipping_lag_seconds is not None:
        text += f"; ledger shipped {_ago(s.shipping_lag_seconds)} ago"
    errors = [f"{x.target}: {x.last_error}" for x in s.shipping if x.last_error]
    if errors:
        return text + "; SHIPPING FAILING (" + "; ".join(errors)[:200] + ")", False
    if s.backup_stale:
        return text + ": older than the schedule allows", False
    return text, True


def restore_line() -> tuple[str, bool]:
    s = status()
    good, last = s.last_good_drill, s.last_drill
    if good is None:
        if last is not None:
            return f"no drill has passed; the last one failed: {last.message}", False
        return "never drilled (run `ajeya drill --key FILE`)", False
    when = clock.local(good.started_at).strftime("%d-%m-%Y %H:%M IST")
    age = f", data {_ago(good.data_age_seconds)} old" if good.data_age_seconds is not None else ""
    text = f"{when}: restored and verified in {good.seconds:,.0f} s{age}"
    if not last.ok:
        return text + f"; the latest drill FAILED: {last.message}", False
    if s.drill_stale:
        return text + ": older than the schedule allows", False
    return text, True
