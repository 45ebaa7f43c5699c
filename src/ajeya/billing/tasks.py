"""Scheduled billing work for `ajeya worker`: capture services as charges every minute
(registrations, visits, lab tests, and bed-days as each midnight passes)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from ajeya.billing import capture

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
@lock_task("billing-capture")  # a slow run is not overlapped by the next minute's
def billing_capture() -> int:
    result = capture.capture()
    if result.unpriced:
        log.warning("charges without a tariff price: %s", ", ".join(sorted(set(result.unpriced))))
    if result.posted or result.reversed:
        log.info("billing capture: %d posted, %d reversed", result.posted, result.reversed)
    return result.posted
