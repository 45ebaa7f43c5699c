"""Every write of an incident: opening one (from alerts or by hand), updating what it
says as the investigation goes on, and linking alerts to it. Incidents and the alerts'
links are ledgered like any record: the story told to CERT-In must be tamper-evident."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from ajeya.core import clock
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.identifiers import allocate
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.defense.certin import IncidentKind
from ajeya.defense.models import Alert, Incident, IncidentStatus
from ajeya.ledger import services as ledger
from ajeya.ledger.registry import state_of

DEFAULT_LOOKBACK = dt.timedelta(hours=24)  # before the earliest alert
MAX_WINDOW = dt.timedelta(days=366)
UPDATABLE = frozenset(
    {
        "title",
        "summary",
        "systems_affected",
        "actions_taken",
        "status",
        "reported_at",
        "window_start",
        "window_end",
    }
)


def default_window(alerts: Iterable[Alert]) -> tuple[dt.datetime, dt.datetime]:
    """From 24 hours before the earliest alert to now (or the last day, without alerts)."""
    now = clock.now()
    earliest = min((a.occurred_at for a in alerts), default=now)
    return min(earliest, now) - DEFAULT_LOOKBACK, now


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    if end < start:
        raise ValidationFailed({"window_end": ["The window ends before it starts."]})
    if end - start > MAX_WINDOW:
        raise ValidationFailed({"window_end": ["Investigate at most 366 days at a time."]})


def _not_future(field: str, value: dt.datetime | None, what: str) -> None:
    if value is not None and value > clock.now():
        raise ValidationFailed({field: [f"The time of {what} is in the future."]})


def _locked_alerts(alerts: Iterable[Alert | int], incident: Incident | None) -> list[Alert]:
    ids = sorted({a.pk if isinstance(a, Alert) else int(a) for a in alerts})
    found = list(locked(Alert.objects).filter(pk__in=ids).order_by("pk"))
    missing = sorted(set(ids) - {a.pk for a in found})
    if missing:
        raise ValidationFailed({"alerts": [f"No alert {', '.join(map(str, missing))}."]})
    for alert in found:
        if alert.incident_id is not None and (incident is None or alert.incident_id != incident.pk):
            raise Conflict(f"Alert {alert.pk} is already part of incident {alert.incident}.")
    return found


def _link(actor, incident: Incident, alerts: list[Alert]) -> list[Alert]:
    linked = []
    for alert in alerts:
        if alert.incident_id == incident.pk:
            continue
        before = state_of(alert)
        alert.incident = incident
        ledger.save_sealed(
            alert, actor=actor, before=before, reason=f"part of incident {incident.number}"
        )
        linked.append(alert)
    return linked


def incident_open(
    *,
    actor,
    title: str,
    kind: str,
    detected_at: dt.datetime,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    alerts: Iterable[Alert | int] = (),
    summary: str = "",
) -> Incident:
    """Open an incident, numbered INC-<year>-NNNN, and link the alerts that made it.
    Without a window: 24 hours before the earliest alert to now."""
    require_perm(actor, Perm.DEFENSE_INCIDENTS)
    title = " ".join((title or "").split())
    errors = {}
    if not title:
        errors["title"] = ["Give the incident a title."]
    if kind not in IncidentKind.values:
        errors["kind"] = ["Choose one of CERT-In's incident types."]
    if errors:
        raise ValidationFailed(errors)
    _not_future("detected_at", detected_at, "detection")
    with transaction.atomic():
        found = _locked_alerts(alerts, None)
        if window_start is None or window_end is None:
            start, end = default_window(found)
            window_start, window_end = window_start or start, window_end or end
        _check_window(window_start, window_end)
        now = clock.now()
        year = clock.local(now).year
        number = f"INC-{year}-{allocate(f'incident:{year}'):04d}"
        incident = Incident(
            number=number,
            title=title[:200],
            kind=kind,
            detected_at=detected_at,
            opened_at=now,
            opened_by=actor,
            window_start=window_start,
            window_end=window_end,
            summary=(summary or "").strip(),
        )
        ledger.create_sealed(incident, actor=actor, reason="incident opened")
        _link(actor, incident, found)
    return incident


def incident_update(*, actor, incident: Incident, reason: str, **fields) -> Incident:
    """Change what the incident says (summary, affected systems, actions taken, status,
    when it was reported to CERT-In, its title or window), with the reason why."""
    require_perm(actor, Perm.DEFENSE_INCIDENTS)
    unknown = sorted(set(fields) - UPDATABLE)
    if unknown:
        raise ValidationFailed(f"These cannot be changed: {', '.join(unknown)}.")
    reason = require_reason(reason, why="Say what changed and why")
    if "status" in fields and fields["status"] not in IncidentStatus.values:
        raise ValidationFailed({"status": ["Choose open, contained or closed."]})
    if "title" in fields:
        fields["title"] = " ".join((fields["title"] or "").split())[:200]
        if not fields["title"]:
            raise ValidationFailed({"title": ["Give the incident a title."]})
    for name in ("summary", "systems_affected", "actions_taken"):
        if name in fields:
            fields[name] = (fields[name] or "").strip()
    _not_future("reported_at", fields.get("reported_at"), "reporting")
    with transaction.atomic():
        current = locked(Incident.objects).get(pk=incident.pk)
        before = state_of(current)
        for name, value in fields.items():
            setattr(current, name, value)
        if current.reported_at is not None and current.reported_at < current.detected_at:
            raise ValidationFailed(
                {"reported_at": ["The time of reporting is before the time of detection."]}
            )
        _check_window(current.window_start, current.window_end)
        if state_of(current) == before:
            raise Conflict("Nothing changed.")
        ledger.save_sealed(current, actor=actor, before=before, reason=reason)
    return current


def incident_link_alerts(
    *, actor, incident: Incident, alerts: Iterable[Alert | int]
) -> list[Alert]:
    """Make more alerts part of the incident; returns those newly linked."""
    require_perm(actor, Perm.DEFENSE_INCIDENTS)
    with transaction.atomic():
        current = locked(Incident.objects).get(pk=incident.pk)
        found = _locked_alerts(alerts, current)
        if not found:
            raise ValidationFailed({"alerts": ["Choose at least one alert."]})
        return _link(actor, current, found)
