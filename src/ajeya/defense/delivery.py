"""Where a new alert goes besides the alerts page: pluggable backends named in
AJEYA_ALERT_BACKENDS (dotted paths). The default writes to the log (and so to the
worker's console and journal); a hospital adds one that pages its on-call (an SMS
gateway on its own network, say) without touching the rules."""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("ajeya.defense.alerts")


class LogBackend:
    """Every alert as one log line: CRITICAL, WARNING or INFO by its severity."""

    levels = {"critical": logging.CRITICAL, "warning": logging.WARNING, "info": logging.INFO}

    def deliver(self, alert) -> None:
        log.log(
            self.levels.get(alert.severity, logging.WARNING),
            "SECURITY ALERT %s [%s] %s (user %s, ip %s, patient %s) %s",
            alert.pk, alert.rule, alert.title, alert.actor_username or "-", alert.ip or "-",
            alert.patient_uhid or "-", alert.link,
        )  # fmt: skip


class MemoryBackend:
    """Keeps what it was given (tests, benchmarks)."""

    delivered: list = []

    def deliver(self, alert) -> None:
        type(self).delivered.append(alert)


@cache
def backends(paths: tuple[str, ...]) -> list:
    return [import_string(path)() for path in paths]


def deliver(alert) -> None:
    """Hand a new alert to every backend; one failing backend never stops the others."""
    for backend in backends(tuple(settings.AJEYA_ALERT_BACKENDS)):
        try:
            backend.deliver(alert)
        except Exception:
            log.exception("alert backend %r failed for alert %s", backend, alert.pk)
