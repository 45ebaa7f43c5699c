"""Scheduled recovery work for `ajeya worker`: backups and restore drills. (Ledger
shipping runs every few seconds in the worker's own thread: `shipping.Shipper`.)"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.resilience import backup, drill

log = logging.getLogger(__name__)


@db_periodic_task(clock.every_minutes(settings.AJEYA_BACKUP_MINUTES))
@lock_task("resilience-backup")
def resilience_backup() -> bool:
    if not settings.AJEYA_BACKUP_TARGETS:
        return False
    try:
        results = backup.backup(trigger="scheduled")
    except ApplicationError as exc:  # no key yet, no snapshot: recorded as a failure
        from ajeya.resilience.models import BackupRun

        now = clock.now()
        BackupRun.objects.create(target="*", started_at=now, finished_at=now, ok=False,
                                 message=exc.message, trigger="scheduled")  # fmt: skip
        log.error("scheduled backup failed: %s", exc.message)
        return False
    for result in results:
        if not result.ok:
            log.error("scheduled backup to %s failed: %s", result.target, result.message)
    return all(r.ok for r in results)


_DRILL_HOURS = "2" if settings.AJEYA_DRILL_HOURS >= 24 else f"*/{settings.AJEYA_DRILL_HOURS}"


@db_periodic_task(crontab(minute="30", hour=_DRILL_HOURS))  # daily: 02:30
@lock_task("resilience-drill")
def resilience_drill() -> bool | None:
    """Daily by default, when this machine holds the private key (AJEYA_DRILL_KEY)."""
    if not settings.AJEYA_DRILL_KEY or not settings.AJEYA_BACKUP_TARGETS:
        return None
    run = drill.drill(Path(settings.AJEYA_DRILL_KEY), trigger="scheduled")
    if not run.ok:
        log.error("restore drill FAILED: %s", run.message)
    return run.ok
