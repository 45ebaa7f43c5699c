"""The detection rules. Each reads only what is new since its mark (a ledger chain's
sequence, a login log's id), looks back over its window where it counts, and raises
alerts through `services.alert_raise` (which folds repeats into one open alert).

Thresholds are settings (docs/configuration.md); the defaults leave a registration
clerk's busy day (300 registrations, each patient opened once) well below them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable

from django.conf import settings
from django.db.models import Count

from ajeya.core import clock
from ajeya.core.roles import MFA_REQUIRED_ROLES
from ajeya.defense import network
from ajeya.defense.models import Canary, Rule, Severity, WatchMark
from ajeya.defense.services import alert_raise
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry

# Opening a record, printing it, exporting it: what counts as looking at a patient.
# (Being listed among search results does not: a name search lists many.)
LOOKED_AT = [k for k in AccessKind.values if k != AccessKind.LISTED]
CHANGES = ("update", "delete", "cancel")
BATCH = 5000  # rows a rule reads per round: a backlog is worked through over rounds


def _mark(name: str) -> WatchMark:
    return WatchMark.objects.get_or_create(name=name)[0]


def _advance(mark: WatchMark, value: int) -> None:
    if value > mark.value:
        mark.value, mark.moved_at = value, clock.now()
        mark.save(update_fields=["value", "moved_at"])


def _canaries() -> dict[str, dt.datetime]:
    """UHID -> when it became a canary: what happened to the record before is history."""
    return dict(Canary.objects.values_list("patient__uhid", "added_at"))


def _patient_link(uhid: str) -> str:
    return f"/audit/?patient={uhid}"


# -- the two ledger chains -------------------------------------------------------------------


def accesses(now: dt.datetime) -> int:
    """Canary records looked at, and accounts looking at too many patients."""
    mark = _mark("accesses")
    rows = list(
        AccessEntry.objects.filter(seq__gt=mark.value)
        .order_by("seq")
        .values("seq", "recorded_at", "actor_username", "ip", "patient_uhid", "what")[:BATCH]
    )
    if not rows:
        return 0
    canaries = _canaries()
    raised = 0
    for row in rows:
        since = canaries.get(row["patient_uhid"])
        if since and row["recorded_at"] > since and row["what"] in LOOKED_AT:
            _canary(row, f"{row['actor_username'] or 'someone'} {row['what']} canary record "
                    f"{row['patient_uhid']}", seq=row["seq"], chain="accesses")  # fmt: skip
            raised += 1
    raised += _mass_access({r["actor_username"] for r in rows if r["what"] in LOOKED_AT}, now)
    _advance(mark, rows[-1]["seq"])
    return raised


def _canary(row: dict, title: str, **where) -> None:
    actor = row["actor_username"] or "unknown"
    alert_raise(
        rule=Rule.CANARY, severity=Severity.CRITICAL,
        key=f"canary:{row['patient_uhid']}:{actor}", title=title,
        occurred_at=row["recorded_at"], evidence={"first": where},
        actor_username=row["actor_username"], ip=row["ip"], patient_uhid=row["patient_uhid"],
        link=_patient_link(row["patient_uhid"]),
    )  # fmt: skip


def _mass_access(actors: set[str], now: dt.datetime) -> int:
    since = now - dt.timedelta(minutes=settings.AJEYA_MASS_ACCESS_MINUTES)
    limit = settings.AJEYA_MASS_ACCESS_PATIENTS
    counts = (
        AccessEntry.objects.filter(
            actor_username__in=actors - {""}, recorded_at__gte=since, what__in=LOOKED_AT
        )
        .values("actor_username")
        .annotate(patients=Count("patient_uhid", distinct=True), last=Count("seq"))
    )
    raised = 0
    for row in counts:
        if row["patients"] > limit:
            latest = AccessEntry.objects.filter(actor_username=row["actor_username"]).order_by(
                "-seq"
            )[0]
            alert_raise(
                rule=Rule.MASS_ACCESS, severity=Severity.CRITICAL,
                key=f"mass_access:{row['actor_username']}",
                title=f"{row['actor_username']} looked at {row['patients']} patients in "
                f"{settings.AJEYA_MASS_ACCESS_MINUTES} min (limit {limit})",
                occurred_at=latest.recorded_at, actor_username=row["actor_username"],
                ip=latest.ip, evidence={"patients": row["patients"], "entries": row["last"]},
                link=f"/audit/?user={row['actor_username']}",
            )  # fmt: skip
            raised += 1
    return raised


def changes(now: dt.datetime) -> int:
    """Canary records changed, and accounts changing or cancelling too much too fast."""
    mark = _mark("changes")
    rows = list(
        LedgerEntry.objects.filter(seq__gt=mark.value)
        .order_by("seq")
        .values(
            "seq", "recorded_at", "actor_username", "ip", "action", "subject_type", "subject_id"
        )[:BATCH]
    )
    if not rows:
        return 0
    canaries = _canaries()
    raised = 0
    for row in rows:
        since = (
            canaries.get(row["subject_id"]) if row["subject_type"] == "patients.patient" else None
        )
        if since and row["recorded_at"] > since:
            _canary({**row, "patient_uhid": row["subject_id"]},
                    f"{row['actor_username'] or 'someone'} {row['action']}d canary record "
                    f"{row['subject_id']}", seq=row["seq"], chain="changes")  # fmt: skip
            raised += 1
    changed = Counter(
        (r["actor_username"], r["recorded_at"].replace(second=0, microsecond=0))
        for r in rows
        if r["action"] in CHANGES and r["actor_username"]
    )
    raised += _mass_change({actor for actor, _ in changed}, now)
    _advance(mark, rows[-1]["seq"])
    return raised


def _mass_change(actors: set[str], now: dt.datetime) -> int:
    """Counted in actions (requests or commands), not rows: a bill of thirty lines is
    one action that updates thirty charges; thirty edits a minute is not a person."""
    limit = settings.AJEYA_MASS_CHANGE_PER_MINUTE
    raised = 0
    for actor in actors:
        recent = list(
            LedgerEntry.objects.filter(
                actor_username=actor, action__in=CHANGES,
                recorded_at__gte=now - dt.timedelta(minutes=1),
            ).values_list("seq", "request_id", "subject_type", "recorded_at", "ip")
        )  # fmt: skip
        actions = {request_id or f"#{seq}" for seq, request_id, *_ in recent}
        if len(actions) > limit:
            latest = max(recent)
            alert_raise(
                rule=Rule.MASS_CHANGE, severity=Severity.CRITICAL, key=f"mass_change:{actor}",
                title=f"{actor} made {len(actions)} changes or cancellations in a minute "
                f"(limit {limit})",
                occurred_at=latest[3], actor_username=actor, ip=latest[4],
                evidence={"actions": len(actions), "rows": len(recent),
                          "by_type": dict(Counter(r[2] for r in recent))},
                link=f"/audit/?user={actor}",
            )  # fmt: skip
            raised += 1
    return raised


# -- logins ------------------------------------------------------------------------------------


def failures(now: dt.datetime) -> int:
    """Password guessing: many failed logins from one address (or one account locked)."""
    from axes.models import AccessFailureLog

    mark = _mark("login-failures")
    rows = list(AccessFailureLog.objects.filter(pk__gt=mark.value).order_by("pk")[:BATCH])
    if not rows:
        return 0
    since = now - dt.timedelta(minutes=settings.AJEYA_BRUTE_FORCE_MINUTES)
    raised = 0
    for ip in {r.ip_address for r in rows}:
        recent = AccessFailureLog.objects.filter(ip_address=ip, attempt_time__gte=since)
        count = recent.count()
        if count >= settings.AJEYA_BRUTE_FORCE_FAILURES:
            accounts = sorted(set(recent.values_list("username", flat=True)))
            place = network.place(ip or "")
            raised += _brute(ip, place, count, accounts, recent.order_by("-pk")[0].attempt_time)
    for row in rows:
        if row.locked_out:
            alert_raise(
                rule=Rule.BRUTE_FORCE, severity=Severity.WARNING,
                key=f"locked:{row.username}:{row.attempt_time:%Y%m%d}",
                title=f"Account {row.username} locked out after repeated failed logins",
                occurred_at=row.attempt_time, actor_username=row.username or "",
                ip=row.ip_address or "",
                evidence={"place": network.place(row.ip_address or "").label},
            )  # fmt: skip
            raised += 1
    _advance(mark, rows[-1].pk)
    return raised


def _brute(ip: str, place, count: int, accounts: list[str], last: dt.datetime) -> int:
    alert_raise(
        rule=Rule.BRUTE_FORCE, severity=Severity.CRITICAL, key=f"brute_force:{ip}",
        title=f"{count} failed logins from {ip} ({place.label}) in "
        f"{settings.AJEYA_BRUTE_FORCE_MINUTES} min, {len(accounts)} account(s)",
        occurred_at=last, ip=ip or "",
        evidence={"failures": count, "accounts": accounts[:50], "place": place.label},
    )  # fmt: skip
    return 1


def _admin_hours() -> tuple[int, int]:
    start, _, end = settings.AJEYA_ADMIN_HOURS.partition("-")
    return int(start), int(end)


def logins(now: dt.datetime) -> int:
    """Logins from a country or network this account has not used before, and
    administrators logging in at unusual hours."""
    from axes.models import AccessLog

    from ajeya.accounts.models import User

    mark = _mark("logins")
    rows = list(AccessLog.objects.filter(pk__gt=mark.value).order_by("pk")[:BATCH])
    if not rows:
        return 0
    roles = dict(User.objects.filter(username__in={r.username for r in rows})
                 .values_list("username", "role"))  # fmt: skip
    seen: dict[str, set[str]] = defaultdict(set)
    for username, ip in AccessLog.objects.filter(
        username__in=roles, pk__lte=mark.value
    ).values_list("username", "ip_address"):
        seen[username].add(network.place(ip or "").label)
    raised = 0
    start, end = _admin_hours()
    for row in rows:
        place = network.place(row.ip_address or "")
        known = seen[row.username]
        if known and place.label not in known:
            raised += _new_place(row, place, known, roles.get(row.username, ""))
        known.add(place.label)
        hour = clock.local(row.attempt_time).hour
        if roles.get(row.username) in MFA_REQUIRED_ROLES and not start <= hour < end:
            raised += _odd_hour(row, place, hour)
    _advance(mark, rows[-1].pk)
    return raised


def _new_place(row, place, known: set[str], role: str) -> int:
    severity = Severity.CRITICAL if role in MFA_REQUIRED_ROLES else Severity.WARNING
    alert_raise(
        rule=Rule.NEW_COUNTRY, severity=severity,
        key=f"new_place:{row.username}:{place.label}",
        title=f"{row.username} logged in from {place.label} ({row.ip_address}); before only "
        f"from {', '.join(sorted(known))}",
        occurred_at=row.attempt_time, actor_username=row.username, ip=row.ip_address or "",
        evidence={"place": place.label, "internal": place.internal, "known": sorted(known)},
    )  # fmt: skip
    return 1


def _odd_hour(row, place, hour: int) -> int:
    alert_raise(
        rule=Rule.ODD_HOURS, severity=Severity.WARNING,
        key=f"odd_hours:{row.username}:{clock.local(row.attempt_time):%Y%m%d}",
        title=f"Administrator {row.username} logged in at {hour:02d}:xx IST, outside "
        f"{settings.AJEYA_ADMIN_HOURS}",
        occurred_at=row.attempt_time, actor_username=row.username, ip=row.ip_address or "",
        evidence={"hour": hour, "place": place.label},
    )  # fmt: skip
    return 1


# -- the ledger's own verification ---------------------------------------------------------


def verification(now: dt.datetime) -> int:
    """A failed `ajeya verify` (scheduled or by hand) is critical."""
    from ajeya.ledger.models import VerificationRun

    mark = _mark("verify-runs")
    runs = list(VerificationRun.objects.filter(pk__gt=mark.value).order_by("pk"))
    raised = 0
    for run in runs:
        if not run.ok:
            findings = run.findings or []
            alert_raise(
                rule=Rule.LEDGER, severity=Severity.CRITICAL, key=f"ledger:{run.pk}",
                title=f"Ledger verification FAILED: {len(findings)} finding(s)",
                occurred_at=run.finished_at or now, evidence={"findings": findings[:20]},
                link="/reports/dashboard/",
            )  # fmt: skip
            raised += 1
    if runs:
        _advance(mark, runs[-1].pk)
    return raised


FAST_RULES: tuple[Callable[[dt.datetime], int], ...] = (
    accesses, changes, failures, logins, verification,
)  # fmt: skip
