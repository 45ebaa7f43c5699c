"""Every write of the defence app: alerts raised by the rules and handled by people,
canary records. Alerts are ledgered like any record (evidence must be tamper-evident);
the rules raise them as the system (no actor)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from ajeya.core import clock
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.defense import delivery
from ajeya.defense.models import Alert, AlertStatus, Canary
from ajeya.ledger import services as ledger
from ajeya.ledger.registry import state_of

MAX_OCCURRENCES = 20  # what an alert's evidence keeps of repeats: the first and the latest


def alert_raise(
    *, rule: str, severity: str, key: str, title: str, occurred_at: dt.datetime,
    evidence: dict | None = None, actor_username: str = "", ip: str = "", patient_uhid: str = "",
    link: str = "",
) -> Alert:  # fmt: skip
    """Raise an alert, or add to the unresolved one with the same key (a burst of the
    same thing is one alert that counts, not a hundred)."""
    evidence = evidence or {}
    with transaction.atomic():
        current = locked(Alert.objects).exclude(status=AlertStatus.RESOLVED).filter(key=key)
        existing = current.first()
        if existing is not None:
            return _repeat(existing, occurred_at, evidence)
        alert = Alert(
            rule=rule, severity=severity, key=key[:200], title=title[:200],
            evidence={**evidence, "occurrences": [_when(occurred_at)]}, link=link,
            actor_username=actor_username, ip=ip, patient_uhid=patient_uhid,
            raised_at=clock.now(), occurred_at=occurred_at, last_seen_at=occurred_at,
        )  # fmt: skip
        try:
            with transaction.atomic():
                ledger.create_sealed(alert, actor=None, reason=f"rule {rule}")
        except IntegrityError:  # another watcher raised it a moment ago
            return _repeat(current.get(), occurred_at, evidence)
    transaction.on_commit(lambda: delivery.deliver(alert))
    return alert


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _repeat(alert: Alert, occurred_at: dt.datetime, evidence: dict) -> Alert:
    before = state_of(alert)
    alert.count += 1
    alert.last_seen_at = max(alert.last_seen_at, occurred_at)
    seen = [*alert.evidence.get("occurrences", []), _when(occurred_at)]
    if len(seen) > MAX_OCCURRENCES:
        seen = seen[:1] + seen[-(MAX_OCCURRENCES - 1) :]
    alert.evidence = {**alert.evidence, **evidence, "occurrences": seen}
    ledger.save_sealed(alert, actor=None, before=before, reason="seen again")
    return alert


def _handle(*, actor, alert: Alert, note: str, status: str) -> Alert:
    require_perm(actor, Perm.DEFENSE_ALERTS)
    note = require_reason(note, why="Write what you found or did")
    with transaction.atomic():
        current = locked(Alert.objects).get(pk=alert.pk)
        if current.status == AlertStatus.RESOLVED:
            raise Conflict("This alert is already resolved.")
        if current.status == status:
            raise Conflict(f"This alert is already {current.get_status_display().lower()}.")
        before = state_of(current)
        now = clock.now()
        current.status = status
        if status == AlertStatus.ACKNOWLEDGED:
            current.acknowledged_at, current.acknowledged_by = now, actor
        else:
            current.resolved_at, current.resolved_by = now, actor
            if current.acknowledged_at is None:
                current.acknowledged_at, current.acknowledged_by = now, actor
        stamp = f"{clock.local(now):%d-%m-%Y %H:%M} {actor.full_name or actor.username}"
        current.notes = f"{current.notes}\n{stamp}: {note}".strip()
        ledger.save_sealed(current, actor=actor, before=before, reason=note)
    return current


def alert_acknowledge(*, actor, alert: Alert, note: str) -> Alert:
    """Someone is on it: the banner stays until it is resolved."""
    return _handle(actor=actor, alert=alert, note=note, status=AlertStatus.ACKNOWLEDGED)


def alert_resolve(*, actor, alert: Alert, note: str) -> Alert:
    """Done with, with what was found (a false alarm is resolved too, saying so)."""
    return _handle(actor=actor, alert=alert, note=note, status=AlertStatus.RESOLVED)


def canary_add(*, actor, patient, note: str = "", system: bool = False) -> Canary:
    """Make a (decoy) patient a canary: any look at it raises a critical alert."""
    if not system:
        require_perm(actor, Perm.DEFENSE_ALERTS)
    if Canary.objects.filter(patient=patient).exists():
        raise ValidationFailed({"patient": [f"{patient.uhid_display} is a canary already."]})
    canary = Canary(patient=patient, note=note.strip()[:200], added_at=clock.now(),
                    added_by=actor)  # fmt: skip
    with transaction.atomic():
        ledger.create_sealed(canary, actor=actor, reason="canary record")
    return canary
