"""Scheduled reports for `ajeya worker`: each hour, run the schedules that are due."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from ajeya.reports import services

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="15"))
@lock_task("reports-scheduled")  # a slow round is not overlapped by the next
def reports_scheduled() -> int:
    runs = services.run_due()
    failed = [r for r in runs if r.status == "failed"]
    for run in failed:
        log.warning("scheduled report %s failed: %s", run.schedule.report, run.error)
    if runs:
        log.info("scheduled reports: %d made, %d failed", len(runs) - len(failed), len(failed))
    return len(runs)
