"""What happened in a time window, from every record the system keeps, in one list: ledger
changes, patient-record accesses, logins and logouts, failed logins, and alerts. Each
event names who, from where (with the address's country, or LAN) and which patient, and
points back at its source row (a chain and sequence number, or a table and id).

Each source is filtered in the database (window, user, address, patient) and capped, so
a window of a busy month costs a bounded read, not the whole history."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from axes.models import AccessFailureLog, AccessLog
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from ajeya.core.errors import ValidationFailed
from ajeya.core.identifiers import is_valid_uhid, normalise_uhid
from ajeya.defense import network
from ajeya.defense.models import Alert
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry

MICROSECOND = dt.timedelta(microseconds=1)
PAGE_LIMIT = 500  # what a page shows
EXPORT_LIMIT = 200_000  # what an evidence bundle holds

CHANGE, ACCESS, LOGIN, LOGOUT, FAILED, ALERT = (
    "change",
    "access",
    "login",
    "logout",
    "login_failed",
    "alert",
)
# Timesketch's `timestamp_desc`: what the time of each kind of event is the time of.
TIMESTAMP_DESC = {
    CHANGE: "Record changed",
    ACCESS: "Patient record accessed",
    LOGIN: "Login",
    LOGOUT: "Logout",
    FAILED: "Failed login",
    ALERT: "Alert: event seen",
}
SOURCES = {
    CHANGE: "ledger.changes",
    ACCESS: "ledger.accesses",
    LOGIN: "axes.accesslog",
    LOGOUT: "axes.accesslog",
    FAILED: "axes.accessfailurelog",
    ALERT: "defense.alert",
}
_ACCESS_VERB = {
    AccessKind.VIEWED: "viewed patient",
    AccessKind.LISTED: "saw in a search result patient",
    AccessKind.EDIT_FORM: "opened the correction form of patient",
    AccessKind.PRINTED: "printed a document of patient",
    AccessKind.EXPORTED: "exported patient",
    AccessKind.HISTORY: "viewed the history of patient",
}


@dataclass(frozen=True)
class Event:
    time: dt.datetime  # aware, UTC
    kind: str
    actor: str
    ip: str
    place: network.Place
    patient: str
    message: str
    source: str  # ledger.changes, ledger.accesses, axes.accesslog, …
    ref: int  # the chain's sequence number, or the row's id

    @property
    def timestamp_desc(self) -> str:
        return TIMESTAMP_DESC[self.kind]

    def as_json(self) -> dict:
        """One Timesketch line: message, datetime, timestamp_desc, and the rest."""
        return {
            "message": self.message,
            "datetime": self.time.isoformat(),
            "timestamp": int(self.time.timestamp() * 1_000_000),
            "timestamp_desc": self.timestamp_desc,
            "kind": self.kind,
            "actor": self.actor,
            "ip": self.ip,
            "country": self.place.country,
            "internal": self.place.internal,
            "patient": self.patient,
            "source": self.source,
            "seq" if self.source.startswith("ledger.") else "id": self.ref,
        }


class Events(list):
    """The events, oldest first; `truncated` when a source had more than the limit (the
    list then stops where the first capped source stopped: nothing in between is lost)."""

    truncated: bool = False


@dataclass(frozen=True)
class Filters:
    user: str = ""
    ip: str = ""
    patient: str = ""

    @classmethod
    def clean(cls, *, user: str = "", ip: str = "", patient: str = "") -> Filters:
        errors: dict[str, list[str]] = {}
        ip, patient = (ip or "").strip(), normalise_uhid((patient or "").strip())
        if ip:
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                errors["ip"] = [f"{ip} is not an IP address."]
        if patient and not is_valid_uhid(patient):
            errors["patient"] = [f"{patient} is not a UHID."]
        if errors:
            raise ValidationFailed(errors)
        return cls((user or "").strip(), ip, patient)


def _window(qs: QuerySet, field: str, start: dt.datetime, end: dt.datetime) -> QuerySet:
    """`start` to `end`, both included. "Before end + 1 µs", not "at most end": SQLite
    compares times as text, and the ledger writes six fractional digits where Django's
    parameter for a whole second has none ("…:00.000000" > "…:00")."""
    return qs.filter(**{f"{field}__gte": start, f"{field}__lt": end + MICROSECOND}).order_by(
        field, "pk"
    )


def _sources(start: dt.datetime, end: dt.datetime, f: Filters) -> dict[str, tuple]:
    """kind → (queryset in the window with the filters, its time field); None when the
    filters rule the source out (logins have no patient)."""
    changes, accesses = LedgerEntry.objects.all(), AccessEntry.objects.all()
    alerts = Alert.objects.all()
    logins, failures = AccessLog.objects.all(), AccessFailureLog.objects.all()
    if f.user:
        changes, accesses = (
            changes.filter(actor_username=f.user),
            accesses.filter(actor_username=f.user),
        )
        alerts = alerts.filter(actor_username=f.user)
        logins, failures = logins.filter(username=f.user), failures.filter(username=f.user)
    if f.ip:
        changes, accesses, alerts = (q.filter(ip=f.ip) for q in (changes, accesses, alerts))
        logins, failures = logins.filter(ip_address=f.ip), failures.filter(ip_address=f.ip)
    if f.patient:
        changes = changes.filter(subject_type="patients.patient", subject_id=f.patient)
        accesses = accesses.filter(patient_uhid=f.patient)
        alerts = alerts.filter(patient_uhid=f.patient)
        logins = failures = None
    return {
        CHANGE: (changes, "recorded_at"),
        ACCESS: (accesses, "recorded_at"),
        LOGIN: (logins, "attempt_time"),
        LOGOUT: (logins, "logout_time"),
        FAILED: (failures, "attempt_time"),
        ALERT: (alerts, "occurred_at"),
    }


def _change(e: LedgerEntry) -> Event:
    who = e.actor_username or "the system"
    reason = e.reason
    message = f"{who} {e.get_action_display().lower()} {e.subject_type} {e.subject_id}"
    patient = e.subject_id if e.subject_type == "patients.patient" else ""
    return _event(
        e.recorded_at,
        CHANGE,
        e.actor_username,
        e.ip,
        patient,
        message + (f" (reason: {reason})" if reason else ""),
        e.seq,
    )


def _access(e: AccessEntry) -> Event:
    verb = _ACCESS_VERB.get(e.what, f"{e.what} patient")
    message = f"{e.actor_username or 'the system'} {verb} {e.patient_uhid}"
    return _event(e.recorded_at, ACCESS, e.actor_username, e.ip, e.patient_uhid, message, e.seq)


def _login(row: AccessLog) -> Event:
    return _event(
        row.attempt_time,
        LOGIN,
        row.username or "",
        row.ip_address,
        "",
        f"{row.username} logged in",
        row.pk,
    )


def _logout(row: AccessLog) -> Event:
    return _event(
        row.logout_time,
        LOGOUT,
        row.username or "",
        row.ip_address,
        "",
        f"{row.username} logged out",
        row.pk,
    )


def _failure(row: AccessFailureLog) -> Event:
    locked = " (locked out)" if row.locked_out else ""
    return _event(
        row.attempt_time,
        FAILED,
        row.username or "",
        row.ip_address,
        "",
        f"failed login as {row.username or '(no name)'}{locked}",
        row.pk,
    )


def _alert(a: Alert) -> Event:
    repeats = f" (seen {a.count} times)" if a.count > 1 else ""
    message = f"ALERT {a.get_severity_display().lower()} #{a.pk}: {a.title}{repeats}"
    return _event(a.occurred_at, ALERT, a.actor_username, a.ip, a.patient_uhid, message, a.pk)


def _event(time, kind, actor, ip, patient, message, ref) -> Event:
    ip = ip or ""
    return Event(
        time.astimezone(dt.UTC),
        kind,
        actor or "",
        ip,
        network.place(ip),
        patient or "",
        message,
        SOURCES[kind],
        ref,
    )


_MAKE = {
    CHANGE: _change,
    ACCESS: _access,
    LOGIN: _login,
    LOGOUT: _logout,
    FAILED: _failure,
    ALERT: _alert,
}
_ONLY = {
    CHANGE: (
        "seq",
        "recorded_at",
        "actor_username",
        "ip",
        "action",
        "subject_type",
        "subject_id",
        "payload",
    ),
    ACCESS: ("seq", "recorded_at", "actor_username", "ip", "patient_uhid", "what"),
}


def timeline(
    start: dt.datetime,
    end: dt.datetime,
    *,
    user: str = "",
    ip: str = "",
    patient: str = "",
    limit: int = PAGE_LIMIT,
) -> Events:
    """The events from `start` to `end` (both included), oldest first, at most `limit`."""
    if end < start:
        raise ValidationFailed({"window_end": ["The window ends before it starts."]})
    filters = Filters.clean(user=user, ip=ip, patient=patient)
    merged, cutoff = [], None
    for kind, (qs, field) in _sources(start, end, filters).items():
        if qs is None:
            continue
        qs = _window(qs, field, start, end)
        if kind in _ONLY:
            qs = qs.only(*_ONLY[kind])
        rows = [_MAKE[kind](row) for row in qs[: limit + 1]]
        if len(rows) > limit:
            rows = rows[:limit]
            cutoff = min(cutoff or rows[-1].time, rows[-1].time)
        merged.extend(rows)
    order = list(SOURCES)
    merged.sort(key=lambda e: (e.time, order.index(e.kind), e.ref))
    events = Events(e for e in merged if cutoff is None or e.time <= cutoff)
    events.truncated = cutoff is not None or len(events) > limit
    del events[limit:]
    return events


@dataclass(frozen=True)
class Bucket:
    start: dt.datetime  # in IST
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def per_hour(
    start: dt.datetime, end: dt.datetime, *, user: str = "", ip: str = "", patient: str = ""
) -> tuple[str, list[Bucket]]:
    """Events counted per hour (IST) of the window, per day when it is over four days:
    counted in the database, so the chart is whole even when the list is capped.
    Returns ("hour" or "day", buckets with a count per kind; logouts are not counted)."""
    filters = Filters.clean(user=user, ip=ip, patient=patient)
    zone = timezone.get_current_timezone()
    unit = "hour" if end - start <= dt.timedelta(days=4) else "day"
    trunc = TruncHour if unit == "hour" else TruncDay
    counts: dict[dt.datetime, dict[str, int]] = {}
    for kind, (qs, field) in _sources(start, end, filters).items():
        if qs is None or kind == LOGOUT:
            continue
        rows = (
            _window(qs, field, start, end)
            .order_by()
            .annotate(bucket=trunc(field, tzinfo=zone))
            .values("bucket")
            .annotate(n=Count("pk"))
            .values_list("bucket", "n")
        )
        for bucket, n in rows:
            counts.setdefault(bucket, {})[kind] = n
    return unit, [Bucket(b, counts.get(b, {})) for b in _steps(start, end, unit, zone)]


def _steps(start: dt.datetime, end: dt.datetime, unit: str, zone) -> list[dt.datetime]:
    """Every hour (or day) of the window, empty ones too: a gap is a finding."""
    first = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        first = first.replace(hour=0)
    step = dt.timedelta(hours=1) if unit == "hour" else dt.timedelta(days=1)
    steps, moment = [], first
    while moment <= end:
        # Arithmetic in UTC, shown in IST (no daylight saving there, but be exact).
        steps.append(moment.astimezone(zone))
        moment = (moment.astimezone(dt.UTC) + step).astimezone(zone)
    return steps
