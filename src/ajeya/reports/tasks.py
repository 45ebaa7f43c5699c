"""Reports for `ajeya worker`: each hour, run the schedules that are due; every five
minutes, keep the OPD's closed days counted (reports/rollup.py)."""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from ajeya.core import clock
from ajeya.reports import registry, rollup, services

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


@db_periodic_task(crontab(minute="*/5"))
@lock_task("reports-opd-rollup")
def reports_opd_rollup() -> int:
    """Keep the OPD's closed days counted (as far back as the longest period a report
    takes) and re-count those the ledger shows changed, so reports only read."""
    today = clock.today()
    longest = max(report.max_days for report in registry.REPORTS.values())
    return rollup.refresh(today - dt.timedelta(days=longest), today)
