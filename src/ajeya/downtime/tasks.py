"""The worker writes every location's downtime snapshot every AJEYA_DOWNTIME_MINUTES."""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, lock_task

from ajeya.core import clock
from ajeya.downtime import snapshots

log = logging.getLogger(__name__)


@db_periodic_task(clock.every_minutes(settings.AJEYA_DOWNTIME_MINUTES))
@lock_task("downtime-snapshots")
def downtime_snapshots() -> int:
    """Returns how many locations got a fresh file; each failure is logged and shown on
    the dashboard (SnapshotState)."""
    written = snapshots.write()
    for w in written:
        if w.error:
            log.error("downtime snapshot of %s not written: %s", w.location.id, w.error)
    return sum(1 for w in written if not w.error)
