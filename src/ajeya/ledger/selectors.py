"""Reads of the ledger for people: a patient's history, the auditor's search, the status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from ajeya.core import clock
from ajeya.core.errors import ValidationFailed
from ajeya.ledger import checkpoints
from ajeya.ledger.models import AccessEntry, LedgerEntry, VerificationRun

MAX_AUDIT_DAYS = 366


def patient_changes(
    uhid: str, related: dict[str, list[str]] | None = None
) -> QuerySet[LedgerEntry]:
    """The record's own entries and those of the records about it that its app names
    (`related`: subject type -> ids, e.g. the patient's allergies and merges)."""
    where = Q(subject_type="patients.patient", subject_id=uhid)
    for subject_type, ids in (related or {}).items():
        where |= Q(subject_type=subject_type, subject_id__in=[str(i) for i in ids])
    return LedgerEntry.objects.filter(where).order_by("-seq")


def patient_accesses(uhid: str) -> QuerySet[AccessEntry]:
    return AccessEntry.objects.filter(patient_uhid=uhid).order_by("-seq")


def changed_fields(entry: LedgerEntry) -> list[tuple[str, object, object]]:
    """(field, before, after) for each field an update changed."""
    before, after = entry.before or {}, entry.after or {}
    skip = {"version", "updated_at", "name_key"}
    return [
        (name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if name not in skip and before.get(name) != after.get(name)
    ]


@dataclass(frozen=True)
class AuditQuery:
    kind: str  # "changes" or "accesses"
    username: str = ""
    uhid: str = ""
    ip: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight IST of `day`, as an aware datetime (the database compares in UTC)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=clock.local(clock.now()).tzinfo)


def audit_search(query: AuditQuery) -> QuerySet:
    if query.date_from and query.date_to and query.date_to < query.date_from:
        raise ValidationFailed({"date_to": ["The end date is before the start date."]})
    if (
        query.date_from
        and query.date_to
        and (query.date_to - query.date_from).days > MAX_AUDIT_DAYS
    ):
        raise ValidationFailed({"date_to": [f"Search at most {MAX_AUDIT_DAYS} days at a time."]})
    if query.kind == "accesses":
        qs = AccessEntry.objects.all()
        if query.uhid:
            qs = qs.filter(patient_uhid=query.uhid)
        if query.action:
            qs = qs.filter(what=query.action)
    else:
        qs = LedgerEntry.objects.all()
        if query.uhid:
            qs = qs.filter(subject_type="patients.patient", subject_id=query.uhid)
        if query.action:
            qs = qs.filter(action=query.action)
    if query.username:
        qs = qs.filter(actor_username=query.username)
    if query.ip:
        qs = qs.filter(ip=query.ip)
    if query.date_from:
        qs = qs.filter(recorded_at__gte=_day_start(query.date_from))
    if query.date_to:
        qs = qs.filter(recorded_at__lt=_day_start(query.date_to + dt.timedelta(days=1)))
    return qs.order_by("-seq")


@dataclass(frozen=True)
class LedgerStatus:
    last_run: VerificationRun | None
    stale: bool  # no verification for twice the scheduled interval: the worker is down
    checkpoint: dict | None
    checkpoint_problem: str
    signing_key_present: bool


def ledger_status() -> LedgerStatus:
    checkpoint, problem = None, ""
    try:
        newest = checkpoints.newest()
        checkpoint = newest.summary() if newest else None
        if checkpoint:
            signed = clock.local(dt.datetime.fromisoformat(checkpoint["created_at"]))
            checkpoint["created_at_local"] = signed.strftime("%d-%m-%Y %H:%M IST")
    except checkpoints.CheckpointError as exc:
        problem = exc.message
    last_run = VerificationRun.objects.order_by("-started_at").first()
    stale = last_run is None or clock.now() - last_run.finished_at > dt.timedelta(
        hours=2 * settings.AJEYA_VERIFY_HOURS
    )
    return LedgerStatus(
        last_run=last_run,
        stale=stale,
        checkpoint=checkpoint,
        checkpoint_problem=problem,
        signing_key_present=settings.AJEYA_LEDGER_SIGNING_KEY.exists(),
    )
