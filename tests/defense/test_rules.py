"""Each detection rule raises its alert when it should, and stays quiet under normal use
(a registration clerk's busy day raises nothing)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from axes.models import AccessFailureLog, AccessLog

from ajeya.core import clock
from ajeya.core.roles import Role
from ajeya.defense import delivery, documents, services, watch
from ajeya.defense.models import Alert, Rule, Severity, WatchMark
from ajeya.ledger.models import AccessKind, VerificationRun
from ajeya.ledger.services import patients_accessed
from ajeya.patients import services as patients
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def _alerts(rule: str) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule).order_by("pk"))


@pytest.fixture
def canary(db):
    decoy = PatientFactory(name="Decoy Person")
    services.canary_add(actor=None, patient=decoy, note="registration desk decoy", system=True)
    watch.run_rules()
    assert _alerts(Rule.CANARY) == []  # its own registration is history, not an intrusion
    return decoy


def test_a_canary_opened_is_critical_within_one_round(canary, make_user):
    nosy = make_user(Role.DOCTOR, username="dr-nosy")
    patients_accessed(actor=nosy, uhids=[canary.uhid], what=AccessKind.LISTED)
    watch.run_rules()
    assert _alerts(Rule.CANARY) == []  # a search that lists it is not opening it
    patients_accessed(actor=nosy, uhids=[canary.uhid], what=AccessKind.VIEWED)
    patients_accessed(actor=nosy, uhids=[canary.uhid], what=AccessKind.EXPORTED)
    watch.run_rules()
    (alert,) = _alerts(Rule.CANARY)
    assert (alert.severity, alert.actor_username, alert.patient_uhid, alert.count) == (
        Severity.CRITICAL, "dr-nosy", canary.uhid, 2
    )  # fmt: skip


def test_a_canary_changed_is_critical(canary, clerk):
    patients.patient_update(actor=clerk, patient=canary, reason="address corrected", phone="")
    watch.run_rules()
    (alert,) = _alerts(Rule.CANARY)
    assert "updated canary record" in alert.title


def test_mass_access_over_the_limit_only(db, settings, make_user):
    settings.AJEYA_MASS_ACCESS_PATIENTS = 5
    reader = make_user(Role.DOCTOR, username="dr-reader")
    many = [PatientFactory() for _ in range(6)]
    patients_accessed(actor=reader, uhids=[p.uhid for p in many[:5]], what=AccessKind.VIEWED)
    watch.run_rules()
    assert _alerts(Rule.MASS_ACCESS) == []
    patients_accessed(actor=reader, uhids=[many[5].uhid], what=AccessKind.PRINTED)
    watch.run_rules()
    (alert,) = _alerts(Rule.MASS_ACCESS)
    assert alert.evidence["patients"] == 6
    assert alert.severity == Severity.CRITICAL


def test_mass_change_in_a_minute(db, settings, clerk):
    settings.AJEYA_MASS_CHANGE_PER_MINUTE = 3
    rows = [PatientFactory() for _ in range(4)]
    for patient in rows[:3]:
        patients.patient_update(actor=clerk, patient=patient, reason="bulk fix", phone="")
    watch.run_rules()
    assert _alerts(Rule.MASS_CHANGE) == []
    patients.patient_update(actor=clerk, patient=rows[3], reason="bulk fix", phone="")
    watch.run_rules()
    (alert,) = _alerts(Rule.MASS_CHANGE)
    assert (alert.evidence["actions"], alert.evidence["rows"]) == (4, 4)
    assert alert.evidence["by_type"] == {"patients.patient": 4}


def test_one_action_changing_many_rows_is_not_mass_change(db, settings, clerk):
    """A bill of thirty lines updates thirty charges in one request: one action."""
    from ajeya.core import context

    settings.AJEYA_MASS_CHANGE_PER_MINUTE = 3
    rows = [PatientFactory() for _ in range(5)]
    with context.bind(context.RequestContext(request_id="one-request")):
        for patient in rows:
            patients.patient_update(actor=clerk, patient=patient, reason="bulk fix", phone="")
    watch.run_rules()
    assert _alerts(Rule.MASS_CHANGE) == []


def test_a_clerks_busy_day_raises_nothing(db, clerk, clock_at):
    """300 registrations from 09:00 to 17:00, each patient's page opened after it,
    a few corrections: the defaults see nothing wrong."""
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=IST)
    for n in range(300):
        clock_at(*(start + dt.timedelta(seconds=96 * n)).timetuple()[:6])
        patient = PatientFactory(actor=clerk)
        patients_accessed(actor=clerk, uhids=[patient.uhid], what=AccessKind.VIEWED)
        if n % 25 == 0:
            patients.patient_update(actor=clerk, patient=patient, reason="spelling", phone="")
        if n % 30 == 29:
            watch.run_rules()
    watch.run_rules()
    assert list(Alert.objects.values_list("rule", "title")) == []


def _failure(ip: str, username: str = "admin", *, locked: bool = False) -> None:
    AccessFailureLog.objects.create(ip_address=ip, username=username, user_agent="curl",
                                    path_info="/accounts/login/", locked_out=locked)  # fmt: skip


def test_brute_force_from_one_address(db, settings):
    settings.AJEYA_BRUTE_FORCE_FAILURES = 10
    for n in range(9):
        _failure("223.5.5.5", f"user{n % 3}")
    watch.run_rules()
    assert _alerts(Rule.BRUTE_FORCE) == []
    _failure("223.5.5.5", "admin", locked=True)
    watch.run_rules()
    alerts = {a.severity: a for a in _alerts(Rule.BRUTE_FORCE)}
    assert alerts[Severity.CRITICAL].evidence["place"] == "CN"
    assert alerts[Severity.CRITICAL].evidence["accounts"] == ["admin", "user0", "user1", "user2"]
    assert "locked out" in alerts[Severity.WARNING].title


def _login(username: str, ip: str, when: dt.datetime) -> None:
    row = AccessLog.objects.create(username=username, ip_address=ip, user_agent="Firefox",
                                   path_info="/accounts/login/")  # fmt: skip
    AccessLog.objects.filter(pk=row.pk).update(attempt_time=when)


def test_a_login_from_a_new_country_or_network(db, make_user):
    make_user(Role.DOCTOR, username="dr-home")
    at = dt.datetime(2026, 11, 30, 10, 0, tzinfo=IST)
    _login("dr-home", "10.20.1.7", at)
    watch.run_rules()
    _login("dr-home", "10.20.9.9", at + dt.timedelta(hours=1))  # another ward PC: same LAN
    watch.run_rules()
    assert _alerts(Rule.NEW_COUNTRY) == []
    _login("dr-home", "223.5.5.5", at + dt.timedelta(hours=2))
    watch.run_rules()
    (alert,) = _alerts(Rule.NEW_COUNTRY)
    assert (alert.severity, alert.evidence["place"], alert.evidence["known"]) == (
        Severity.WARNING, "CN", ["LAN"]
    )  # fmt: skip


def test_administrators_at_unusual_hours(db, make_user):
    make_user(Role.HOSPITAL_ADMIN, username="admin-night")
    make_user(Role.NURSE, username="nurse-night")
    _login("nurse-night", "10.0.0.2", dt.datetime(2026, 11, 30, 2, 10, tzinfo=IST))
    _login("admin-night", "10.0.0.3", dt.datetime(2026, 11, 30, 10, 10, tzinfo=IST))
    watch.run_rules()
    assert _alerts(Rule.ODD_HOURS) == []
    _login("admin-night", "10.0.0.3", dt.datetime(2026, 11, 30, 2, 40, tzinfo=IST))
    watch.run_rules()
    (alert,) = _alerts(Rule.ODD_HOURS)
    assert (alert.evidence["hour"], alert.evidence["place"]) == (2, "LAN")


def test_a_failed_verification_is_critical(db):
    now = clock.now()
    VerificationRun.objects.create(started_at=now, finished_at=now, ok=True, entries_checked=1,
                                   rows_checked=1, trigger="cli")  # fmt: skip
    watch.run_rules()
    assert _alerts(Rule.LEDGER) == []
    VerificationRun.objects.create(started_at=now, finished_at=now, ok=False, entries_checked=1,
                                   rows_checked=1, trigger="scheduled",
                                   findings=[{"table": "patients_patient"}])  # fmt: skip
    watch.run_rules()
    (alert,) = _alerts(Rule.LEDGER)
    assert alert.severity == Severity.CRITICAL


def _stored(directory, data: bytes, ext: str = "pdf"):
    path = directory / f"{hashlib.sha256(data).hexdigest()}.{ext}"
    path.write_bytes(data)
    return path


def test_the_document_store_changed_missing_encrypted_or_foreign(settings, tmp_path):
    store = tmp_path / "archive"
    store.mkdir()
    settings.AJEYA_REPORTS_ARCHIVE_DIR = store
    good = _stored(store, b"%PDF-1.4 a report\n" * 50)
    kept = _stored(store, b"date,patients\n2026-11-30,41\n", "csv")
    gone = _stored(store, b"a,b\n1,2\n", "csv")
    scanner = documents.Scanner()
    expected = {"reports-archive": {p.name: p.name.split(".")[0] for p in (good, kept, gone)}}
    assert scanner.scan({"reports-archive": store}, expected) == []
    gone.unlink()
    kept.write_bytes(b"date,patients\n2026-11-30,14\n")  # altered
    good.write_bytes(os.urandom(4096))  # what ransomware leaves
    (store / "HOW_TO_DECRYPT.txt").write_text("pay")
    found = {p.name: p.problem for p in scanner.scan({"reports-archive": store}, expected)}
    assert found == {
        gone.name: "missing",
        kept.name: "changed: its bytes no longer match its name",
        good.name: "random-looking bytes: encrypted?",
        "HOW_TO_DECRYPT.txt": "a file the store never writes (ransom note?)",
    }
    assert scanner.scan({"reports-archive": store}, expected) == []  # reported once
    assert documents.raise_alerts(list(map(_problem, found.items()))) == 1
    (alert,) = _alerts(Rule.DOCUMENTS)
    assert alert.evidence["total"] == 4


def _problem(item):
    return documents.Problem("reports-archive", item[0], item[1])


def test_repeats_fold_into_one_alert_until_resolved(db, make_user):
    it = make_user(Role.IT_SECURITY, username="it-desk", full_name="IT Desk")
    first = services.alert_raise(rule=Rule.CANARY, severity=Severity.CRITICAL, key="k1",
                                 title="t", occurred_at=clock.now())  # fmt: skip
    again = services.alert_raise(rule=Rule.CANARY, severity=Severity.CRITICAL, key="k1",
                                 title="t", occurred_at=clock.now())  # fmt: skip
    assert (again.pk, again.count) == (first.pk, 2)
    with pytest.raises(Exception, match="at least"):
        services.alert_resolve(actor=it, alert=first, note="ok")
    services.alert_acknowledge(actor=it, alert=first, note="looking at the access log")
    services.alert_resolve(actor=it, alert=first, note="a doctor's mistake; talked to her")
    new = services.alert_raise(rule=Rule.CANARY, severity=Severity.CRITICAL, key="k1",
                               title="t", occurred_at=clock.now())  # fmt: skip
    assert new.pk != first.pk
    first.refresh_from_db()
    assert "looking at the access log" in first.notes


class Broken:
    def deliver(self, alert):
        raise RuntimeError("SMS gateway down")


def test_every_backend_gets_new_alerts_and_one_failing_stops_none(
    settings, db, django_capture_on_commit_callbacks
):
    settings.AJEYA_ALERT_BACKENDS = [
        "tests.defense.test_rules.Broken",
        "ajeya.defense.delivery.MemoryBackend",
    ]
    delivery.MemoryBackend.delivered = []
    with django_capture_on_commit_callbacks(execute=True):
        alert = services.alert_raise(rule=Rule.LEDGER, severity=Severity.CRITICAL, key="x",
                                     title="t", occurred_at=clock.now())  # fmt: skip
        services.alert_raise(rule=Rule.LEDGER, severity=Severity.CRITICAL, key="x",
                             title="t", occurred_at=clock.now())  # fmt: skip
    assert delivery.MemoryBackend.delivered == [alert]  # a repeat is not delivered again


def test_the_rules_read_each_row_once(db, canary, make_user):
    reader = make_user(Role.DOCTOR, username="dr-once")
    patients_accessed(actor=reader, uhids=[canary.uhid], what=AccessKind.VIEWED)
    watch.run_rules()
    watch.run_rules()
    (alert,) = _alerts(Rule.CANARY)
    assert alert.count == 1
    assert WatchMark.objects.get(name="accesses").value > 0
