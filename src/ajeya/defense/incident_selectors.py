"""Reads of incidents for the pages and the CLI (the timeline has its own module)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from ajeya.core.errors import NotFound
from ajeya.defense.models import Alert, Incident


def incident_get(number: str) -> Incident:
    found = Incident.objects.select_related("opened_by").filter(number=number.strip()).first()
    if found is None:
        raise NotFound(f"No incident {number}.")
    return found


def incident_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("opened_by").annotate(alert_count=Count("alerts"))


def incident_alerts(incident: Incident) -> QuerySet[Alert]:
    return incident.alerts.order_by("occurred_at", "pk")


def alerts_by_ids(text: str) -> list[Alert]:
    """The alerts named in `?alerts=1,2,3` (what is not a number is ignored)."""
    ids = [int(part) for part in text.split(",") if part.strip().isdigit()][:200]
    return list(Alert.objects.filter(pk__in=ids).order_by("occurred_at"))
