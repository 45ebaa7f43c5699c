"""Lockdown's services: on (sessions end), off by two different people, the refusals, and
the ledger's write guard that holds for every service while a lockdown lasts."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.core import context
from ajeya.core.errors import Conflict, Locked, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.defense import lockdown, services
from ajeya.defense.models import Lockdown
from ajeya.ledger import services as ledger
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from ajeya.patients import services as patients
from ajeya.patients.models import Patient
from tests.conftest import enrolled_device
from tests.patients.factories import PatientFactory, valid_details

pytestmark = pytest.mark.django_db

REASON = "Ransom note on the OPD registration PCs"


def code_now(user) -> str:
    """The user's authenticator code now, as if its next 30-second step had come (a code
    is taken once) and no wrong code had slowed it down."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def defender(make_user, username: str, role: Role = Role.IT_SECURITY, **kwargs):
    """Someone who may switch lockdown, with an enrolled authenticator."""
    user = make_user(role, username=username, **kwargs)
    enrolled_device(user)
    return user


@pytest.fixture
def on(priya):
    return lockdown.lockdown_on(actor=priya, reason=REASON)


def test_on_ends_every_session_and_is_ledgered(priya, client, clerk):
    client.force_login(clerk)
    assert Session.objects.count() == 1
    made = lockdown.lockdown_on(actor=priya, reason=f"  {REASON}  ")
    assert made.sessions_ended == 1
    assert Session.objects.count() == 0
    assert lockdown.active() == made
    entry = LedgerEntry.objects.get(subject_type="defense.lockdown")
    assert (entry.action, entry.actor_username, entry.reason) == ("create", "priya", REASON)
    assert entry.after["current"] is True
    assert "LOCKDOWN since" in lockdown.banner(made)
    assert "by Priya Nair: read-only except emergency functions" in lockdown.banner(made)


def test_the_server_operator_may_switch_it_on(db):
    made = lockdown.lockdown_on(actor=None, reason=REASON)
    assert made.started_by is None
    assert "by the server operator" in lockdown.banner(made)
    assert LedgerEntry.objects.get(subject_type="defense.lockdown").actor_id is None


def test_on_refuses_no_reason_a_second_lockdown_and_roles_without_the_right(priya, make_user):
    doctor = make_user(Role.DOCTOR, username="dr-sen")
    lockdown.lockdown_on(actor=priya, reason=REASON)
    with pytest.raises(ValidationFailed, match="Say why"):
        lockdown.lockdown_on(actor=None, reason=" ")
    with pytest.raises(Conflict, match="already on"):
        lockdown.lockdown_on(actor=priya, reason=REASON)
    with pytest.raises(PermissionRefused):
        lockdown.lockdown_on(actor=doctor, reason=REASON)
    assert Lockdown.objects.count() == 1


def test_the_database_holds_one_lockdown_at_a_time(on):
    with pytest.raises(IntegrityError), transaction.atomic():
        Lockdown.objects.create(started_at=on.started_at, reason="a second one", current=True)


def test_off_takes_two_different_people(priya, arun, on):
    with pytest.raises(Conflict, match="Nobody has asked"):
        lockdown.lockdown_off_confirm(actor=arun, note="all machines cleaned")
    asked = lockdown.lockdown_off_request(actor=priya, note="all machines cleaned")
    assert (asked.off_requested_by, asked.end_note) == (priya, "all machines cleaned")
    with pytest.raises(Conflict, match="asked to switch it off"):
        lockdown.lockdown_off_request(actor=arun, note="me too, please")
    with pytest.raises(Conflict, match="a second person must confirm"):
        lockdown.lockdown_off_confirm(actor=priya, note="confirming my own")
    assert lockdown.active() is not None
    ended = lockdown.lockdown_off_confirm(actor=arun, note="checked the servers myself")
    assert (ended.current, ended.ended_by) == (None, arun)
    assert lockdown.active() is None
    entries = LedgerEntry.objects.filter(subject_type="defense.lockdown").order_by("seq")
    reasons = [(e.actor_username, e.reason) for e in entries]
    assert reasons == [
        ("priya", REASON),
        ("priya", "all machines cleaned"),
        ("arun", "checked the servers myself"),
    ]
    with pytest.raises(Conflict, match="no lockdown to switch off"):
        lockdown.lockdown_off_request(actor=priya, note="again")
    assert lockdown.lockdown_on(actor=arun, reason="second attack").pk != on.pk


def test_the_database_refuses_one_person_switching_off_alone(priya, on):
    lockdown.lockdown_off_request(actor=priya, note="all machines cleaned")
    with pytest.raises(IntegrityError), transaction.atomic():
        Lockdown.objects.filter(pk=on.pk).update(ended_by=priya, current=None)


def test_off_needs_the_right_and_a_reason(make_user, priya):
    clerk = make_user(Role.REGISTRATION_CLERK, username="clerk-x")
    lockdown.lockdown_on(actor=priya, reason=REASON)
    with pytest.raises(PermissionRefused):
        lockdown.lockdown_off_request(actor=clerk, note="it looks fine to me")
    with pytest.raises(PermissionRefused):
        lockdown.lockdown_off_request(actor=None, note="the server operator")
    with pytest.raises(ValidationFailed, match="safe"):
        lockdown.lockdown_off_request(actor=priya, note="ok")


def test_two_factor_check_takes_a_fresh_code_once(priya, make_user):
    code = code_now(priya)
    with pytest.raises(ValidationFailed, match="wrong or expired"):
        lockdown.two_factor_check(user=priya, token="000000" if code != "000000" else "111111")
    code = code_now(priya)
    lockdown.two_factor_check(user=priya, token=code)
    with pytest.raises(ValidationFailed, match="wrong or expired"):
        lockdown.two_factor_check(user=priya, token=code)  # used already
    nobody = make_user(Role.HOSPITAL_ADMIN, username="no-device")
    with pytest.raises(ValidationFailed, match="no two-factor authenticator"):
        lockdown.two_factor_check(user=nobody, token="123456")


# -- the write guard ---------------------------------------------------------------------


def test_every_service_write_is_refused_during_lockdown(clerk, on):
    before = (Patient.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(Locked, match=r"lockdown since .* by Priya Nair"):
        patients.patient_register(actor=clerk, **valid_details())
    assert (Patient.objects.count(), LedgerEntry.objects.count()) == before
    assert Locked.http_status == 423


def test_an_emergency_function_may_write(clerk, on):
    ctx = context.RequestContext(channel="web", emergency=True)
    with context.bind(ctx):
        patient = patients.patient_register(actor=clerk, **valid_details())
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_bulk_appends_are_refused_too(clerk, on):
    change = ledger.Change(action="create", subject_type="patients.patient", subject_id="1",
                           after={"x": 1})  # fmt: skip
    with pytest.raises(Locked), transaction.atomic():
        ledger.record_many([change, change])


def test_alerts_and_access_entries_are_still_written(clerk, priya):
    patient = PatientFactory(actor=clerk)
    on = lockdown.lockdown_on(actor=priya, reason=REASON)
    alert = services.alert_raise(
        rule="canary", severity="critical", key="canary:test", title="Canary touched",
        occurred_at=on.started_at,
    )  # fmt: skip
    assert LedgerEntry.objects.filter(subject_type="defense.alert", subject_id=str(alert.pk))
    written = ledger.patients_accessed(actor=clerk, uhids=[patient.uhid], what=AccessKind.VIEWED)
    assert written == 1
    assert AccessEntry.objects.filter(patient_uhid=patient.uhid).exists()


def test_the_guard_is_silent_once_lockdown_is_off(priya, arun, clerk, on):
    lockdown.lockdown_off_request(actor=priya, note="all machines cleaned")
    lockdown.lockdown_off_confirm(actor=arun, note="checked the servers myself")
    assert patients.patient_register(actor=clerk, **valid_details()).pk


def test_reading_the_state_costs_one_query_per_request(on, django_assert_num_queries,
                                                        monkeypatch):  # fmt: skip
    with lockdown.remembered(), django_assert_num_queries(1):
        assert lockdown.active() == on
        assert lockdown.active() == on
    with django_assert_num_queries(1):  # outside a request: at most once a second
        lockdown.active()
        lockdown.active()
    monkeypatch.setattr(lockdown, "OUTSIDE_TTL", 0.0)  # as if a second had passed each time
    lockdown._forget()
    with django_assert_num_queries(2):
        assert lockdown.active() == on
        assert lockdown.active() == on
