"""The worker's watcher: every AJEYA_WATCH_SECONDS it runs the detection rules over what
is new in the two ledger chains and the login logs, and every
AJEYA_DOCUMENT_SCAN_SECONDS it checks the document store (all of it once a day). A thread
in `ajeya worker`, like the ledger shipper, so an alert is seconds behind what it saw."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from ajeya.core import clock
from ajeya.defense import documents, rules

log = logging.getLogger(__name__)


def _stores():
    from ajeya.resilience.layout import document_stores

    return document_stores()


def _expected() -> dict[str, dict[str, str]]:
    from ajeya.reports.selectors import archive_expected

    return {"reports-archive": archive_expected()}


def run_rules(now: dt.datetime | None = None) -> int:
    """One round of every fast rule; a failing rule is logged and the others still run."""
    now = now or clock.now()
    raised = 0
    for rule in rules.FAST_RULES:
        try:
            raised += rule(now)
        except Exception:
            log.exception("detection rule %s failed", rule.__name__)
    return raised


def skip_history() -> None:
    """Move every rule's mark to what is already recorded: seeding and imports write in
    bulk, and their history is not an intrusion (nor is a restored hospital's)."""
    from axes.models import AccessFailureLog, AccessLog

    from ajeya.ledger.models import AccessEntry, LedgerEntry, VerificationRun

    heads = {
        "changes": LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first(),
        "accesses": AccessEntry.objects.order_by("-seq").values_list("seq", flat=True).first(),
        "login-failures": AccessFailureLog.objects.order_by("-pk").values_list("pk", flat=True)
        .first(),
        "logins": AccessLog.objects.order_by("-pk").values_list("pk", flat=True).first(),
        "verify-runs": VerificationRun.objects.order_by("-pk").values_list("pk", flat=True)
        .first(),
    }  # fmt: skip
    for name, value in heads.items():
        rules._advance(rules._mark(name), value or 0)


def scan_documents(scanner: documents.Scanner, *, full: bool = False) -> int:
    return documents.raise_alerts(scanner.scan(_stores(), _expected(), full=full))


class Watcher(threading.Thread):
    def __init__(self, interval: float | None = None, scan_every: float | None = None) -> None:
        super().__init__(name="ajeya-defense-watcher", daemon=True)
        self.interval = interval or settings.AJEYA_WATCH_SECONDS
        self.scan_every = scan_every or settings.AJEYA_DOCUMENT_SCAN_SECONDS
        self.stopping = threading.Event()
        self.scanner = documents.Scanner()

    def run(self) -> None:
        last_scan, full_day = 0.0, None
        while not self.stopping.is_set():
            started = time.monotonic()
            close_old_connections()
            run_rules()
            if started - last_scan >= self.scan_every:
                today = clock.today()
                try:
                    scan_documents(self.scanner, full=today != full_day)
                    full_day = today
                except Exception:
                    log.exception("document store scan failed")
                last_scan = started
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))
        close_old_connections()

    def stop(self) -> None:
        self.stopping.set()
