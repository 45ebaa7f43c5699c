"""Scheduled ledger work for `ajeya worker`: sign a checkpoint, re-verify everything."""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task

from ajeya.core import clock
from ajeya.ledger import checkpoints, verification

log = logging.getLogger(__name__)


def _every_hours(n: int):
    return lambda t: t.minute == 7 and t.hour % n == 0


@db_periodic_task(clock.every_minutes(settings.AJEYA_CHECKPOINT_MINUTES))
def ledger_checkpoint() -> str | None:
    try:
        checkpoint, path = checkpoints.create()
    except checkpoints.CheckpointError as exc:
        log.warning("ledger checkpoint not signed: %s", exc)
        return None
    log.info("ledger checkpoint %s", path)
    return checkpoint.name


@db_periodic_task(_every_hours(settings.AJEYA_VERIFY_HOURS))
def ledger_verify() -> bool:
    """Re-verify everything and keep the outcome; a verification that cannot finish is
    itself recorded as a failure, so the dashboard never goes on showing an old "clean"."""
    started = clock.now()
    try:
        report = verification.verify()
    except Exception as exc:
        log.exception("ledger verification could not finish")
        report = verification.Report()
        report.findings.append(
            verification.Finding("verify", "ledger", "run", f"could not finish: {exc}")
        )
    verification.save_run(report, trigger="scheduled", started_at=started)
    if not report.ok:
        log.error("ledger verification FAILED with %d findings", len(report.findings))
    return report.ok
