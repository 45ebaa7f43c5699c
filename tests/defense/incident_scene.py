"""A night at the hospital for the investigation tests, made through the real services:
a clerk registers and views a patient from a ward PC, someone from an outside address
guesses passwords and opens the same patient, the rules' alert; and one view two days
earlier, outside the window investigated."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from axes.models import AccessFailureLog, AccessLog

from ajeya.core import context
from ajeya.core.roles import Role
from ajeya.defense import services
from ajeya.defense.models import Rule, Severity
from ajeya.ledger import checkpoints
from ajeya.ledger.models import AccessKind
from ajeya.ledger.services import patients_accessed
from tests.accounts.factories import UserFactory
from tests.patients.factories import PatientFactory

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
T0 = dt.datetime(2026, 11, 30, 2, 0, tzinfo=IST)  # 02:00 IST
WARD_PC, OUTSIDE = "10.0.4.17", "223.5.5.5"
FILE_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def use_keys(settings, tmp_path) -> None:
    """A signing key pair and checkpoint directory of the test's own (never ./var)."""
    settings.AJEYA_LEDGER_SIGNING_KEY = tmp_path / "keys" / "ledger.key"
    settings.AJEYA_LEDGER_PUBLIC_KEY = tmp_path / "keys" / "ledger.pub"
    settings.AJEYA_CHECKPOINT_DIR = tmp_path / "checkpoints"
    checkpoints.generate_keys(settings.AJEYA_LEDGER_SIGNING_KEY, settings.AJEYA_LEDGER_PUBLIC_KEY)


def _axes(model, *, username: str, ip: str, at: dt.datetime, **extra):
    row = model.objects.create(
        username=username,
        ip_address=ip,
        user_agent="test",
        http_accept="*/*",
        path_info="/accounts/login/",
        **extra,
    )
    model.objects.filter(pk=row.pk).update(attempt_time=at)
    return row


def at(clock_at, moment: dt.datetime) -> dt.datetime:
    local = moment.astimezone(IST)
    return clock_at(local.year, local.month, local.day, local.hour, local.minute)


def night(clock_at) -> SimpleNamespace:
    """Build the night; the clock is left at 03:00 IST."""
    alice = UserFactory(role=Role.REGISTRATION_CLERK, username="alice", full_name="Alice Clerk")
    mallory = UserFactory(role=Role.DOCTOR, username="mallory", full_name="Mallory Doctor")
    at(clock_at, T0 - dt.timedelta(days=2))
    with context.bind(context.RequestContext(ip=WARD_PC, channel="web")):
        earlier = PatientFactory(actor=alice, name="Earlier Patient")
    at(clock_at, T0 + dt.timedelta(minutes=5))
    with context.bind(context.RequestContext(ip=WARD_PC, channel="web")):
        patient = PatientFactory(actor=alice, name="Ramesh Kumar")
        patients_accessed(actor=alice, uhids=[patient.uhid], what=AccessKind.VIEWED)
    login = _axes(AccessLog, username="alice", ip=WARD_PC, at=T0)
    AccessLog.objects.filter(pk=login.pk).update(logout_time=T0 + dt.timedelta(minutes=50))
    failure = _axes(
        AccessFailureLog,
        username="admin",
        ip=OUTSIDE,
        at=T0 + dt.timedelta(minutes=20),
        locked_out=True,
    )
    at(clock_at, T0 + dt.timedelta(minutes=30))
    with context.bind(context.RequestContext(ip=OUTSIDE, channel="web")):
        patients_accessed(actor=mallory, uhids=[patient.uhid], what=AccessKind.VIEWED)
    alert = services.alert_raise(
        rule=Rule.BRUTE_FORCE,
        severity=Severity.CRITICAL,
        key=f"brute:{OUTSIDE}",
        title=f"Password guessing from {OUTSIDE}",
        occurred_at=T0 + dt.timedelta(minutes=20),
        ip=OUTSIDE,
        actor_username="admin",
        evidence={
            "accounts": ["admin"],
            "files": [{"path": "/docs/ab/scan.pdf", "sha256": FILE_SHA}],
        },
    )
    at(clock_at, T0 + dt.timedelta(hours=1))
    return SimpleNamespace(
        alice=alice,
        mallory=mallory,
        patient=patient,
        earlier=earlier,
        login=login,
        failure=failure,
        alert=alert,
    )
