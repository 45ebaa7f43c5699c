"""Reads for the alerts pages, the administrators' banner and the dashboard."""

from __future__ import annotations

from django.db.models import QuerySet

from ajeya.core.errors import NotFound
from ajeya.defense.models import Alert, AlertStatus, Canary, Severity

UNRESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


def alerts(status: str = "") -> QuerySet[Alert]:
    found = Alert.objects.select_related("acknowledged_by", "resolved_by", "incident")
    if status == "unresolved" or not status:
        return found.filter(status__in=UNRESOLVED).order_by("-severity", "-last_seen_at")
    if status in AlertStatus.values:
        return found.filter(status=status).order_by("-last_seen_at")
    return found.order_by("-last_seen_at")


def alert_get(pk: int) -> Alert:
    alert = (
        Alert.objects.select_related("acknowledged_by", "resolved_by", "incident")
        .filter(pk=pk)
        .first()
    )
    if alert is None:
        raise NotFound(f"No alert {pk}.")
    return alert


def critical_unresolved() -> int:
    return Alert.objects.filter(status__in=UNRESOLVED, severity=Severity.CRITICAL).count()


def alert_counts() -> dict[str, int]:
    """Unresolved alerts by severity, for the dashboard."""
    counts = dict.fromkeys(Severity.values, 0)
    for severity in Alert.objects.filter(status__in=UNRESOLVED).values_list("severity", flat=True):
        counts[severity] += 1
    return counts


def canaries() -> QuerySet[Canary]:
    return Canary.objects.select_related("patient", "added_by").order_by("added_at")
