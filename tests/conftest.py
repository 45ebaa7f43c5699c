"""Fixtures every test may use: staff of any role, logged-in clients, fast hashing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from django.db import connection
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.accounts import services
from ajeya.core.roles import Role
from tests.accounts.factories import UserFactory

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _flush_around_ledger_guards():
    """The test database is flushed after each transactional test, and the ledger's
    triggers rightly refuse that: lift them for the flush only, then put them back."""
    from django.core.management.commands import flush
    from django.db import connections

    from ajeya.ledger import guards

    original = flush.Command.handle

    def handle(self, **options):
        connection = connections[options.get("database", "default")]
        guards.drop(connection)
        try:
            return original(self, **options)
        finally:
            guards.install(connection)

    flush.Command.handle = handle


_flush_around_ledger_guards()


@pytest.fixture(autouse=True)
def _department_hooks_restored():
    """Tests may swap the departments' hooks (OPD orders, discharge investigations);
    every test starts with the ones the apps registered."""
    from ajeya.ipd import hooks
    from ajeya.lab import cache
    from ajeya.opd import orders

    cache.invalidate()  # each test has its own catalogue rows
    saved = (dict(orders._HANDLERS), dict(orders._CHECKS), list(hooks._PROVIDERS))
    yield
    orders._HANDLERS.clear()
    orders._HANDLERS.update(saved[0])
    orders._CHECKS.clear()
    orders._CHECKS.update(saved[1])
    hooks._PROVIDERS[:] = saved[2]


@pytest.fixture(autouse=True)
def _no_lockdown_remembered():
    """A lockdown switched on in one test (and rolled back with it) is not remembered
    by the next one in the same process."""
    from ajeya.defense import lockdown

    lockdown._forget()
    yield
    lockdown._forget()


@pytest.fixture(autouse=True)
def _reports_archive_in_tmp(settings, tmp_path_factory):
    """Scheduled reports and downtime snapshots write files: never into the developer's
    ./var."""
    settings.AJEYA_REPORTS_ARCHIVE_DIR = tmp_path_factory.mktemp("reports-archive")
    settings.AJEYA_DOWNTIME_DIR = tmp_path_factory.mktemp("downtime")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings, request):
    """Argon2 is deliberately slow; tests that are about hashing opt out with a marker."""
    if "real_hashing" not in request.keywords:
        settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def make_user(db):
    def make(role: Role | str = Role.REGISTRATION_CLERK, **kwargs):
        return UserFactory(role=role, **kwargs)

    return make


def enrolled_device(user) -> TOTPDevice:
    """An authenticator enrolled the way a person enrols one (so it is on the ledger)."""
    device = services.totp_device_start(user=user)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    services.totp_device_confirm(user=user, device=device, token=f"{code:06d}")
    return device


def verified_client(client, user):
    """Log `user` in; for two-factor roles, as if they had also given a TOTP code."""
    client.force_login(user)
    if user.mfa_required:
        device = enrolled_device(user)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def client_as(client, make_user):
    def login(role: Role | str, **kwargs):
        user = make_user(role, **kwargs)
        verified_client(client, user)
        client.user = user
        return client

    return login


@pytest.fixture
def clerk(make_user):
    return make_user(Role.REGISTRATION_CLERK, username="clerk1", full_name="Sunita Verma")


@pytest.fixture
def clerk_client(client, clerk):
    return verified_client(client, clerk)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def run_ajeya(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `python -m ajeya ARGS` in a fresh process with extra environment variables
    (a value of "" removes the variable)."""
    full_env = {**os.environ, **env}
    for key in [k for k, v in env.items() if v == ""]:
        full_env.pop(key)
    return subprocess.run(
        [sys.executable, "-m", "ajeya", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_concurrently(work, threads: int) -> list[BaseException]:
    """Run work(n) for n in range(threads), all released at the same moment, each on its
    own database connection; return what they raised (an empty list when all went well)."""
    import threading

    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return errors


IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.fixture
def clock_at(monkeypatch):
    """Set the hospital's clock: `clock_at(2026, 11, 30, 8, 0)` is 08:00 IST that day.
    Services read time through ajeya.core.clock, so every one of them sees it."""
    from ajeya.core import clock

    def set_time(*args: int) -> dt.datetime:
        moment = dt.datetime(*args, tzinfo=IST).astimezone(dt.UTC)
        monkeypatch.setattr(clock, "now", lambda: moment)
        return moment

    return set_time


# -- the outpatient department: shared by appointments, OPD and the wards' tests --------


@pytest.fixture
def monday_morning(clock_at):
    """08:00 IST on Monday 30 November 2026, before the clinics open."""
    return clock_at(2026, 11, 30, 8, 0)


@pytest.fixture
def clinic(db):
    from tests.appointments import factories

    return factories.clinic("MED-1", room="12")


@pytest.fixture
def surgery(db):
    from tests.appointments import factories

    return factories.clinic("SURG-1", room="7", dept="SURG")


@pytest.fixture
def doctor(make_user):
    return make_user(Role.DOCTOR, username="dr-asha", full_name="Dr. Asha Rao")
