"""The merged timeline: ledger changes, record views, logins, failed logins and alerts of
a window, oldest first, filtered by user, address or patient in the database; each
address with its country or "LAN"."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.core.errors import ValidationFailed
from ajeya.defense import network, timeline
from ajeya.ledger.models import LedgerEntry
from tests.defense.incident_scene import OUTSIDE, T0, WARD_PC, night

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
MICRO = dt.timedelta(microseconds=1)


@pytest.fixture
def scene(clock_at):
    return night(clock_at)


def _kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_the_window_merges_every_source_in_order(scene):
    events = timeline.timeline(T0 - HOUR, T0 + HOUR)
    assert _kinds(events) == [
        "login",
        "change",
        "access",
        "login_failed",
        "alert",
        "change",
        "access",
        "logout",
    ]
    times = [e.time for e in events]
    assert times == sorted(times)
    assert all(e.time.tzinfo == dt.UTC for e in events)
    login, change, view, failed, alert, raised, outside_view, logout = events
    assert login.message == "alice logged in"
    assert change.message == f"alice created patients.patient {scene.patient.uhid}"
    assert (change.source, change.patient, change.ip) == (
        "ledger.changes",
        scene.patient.uhid,
        WARD_PC,
    )
    assert change.ref == LedgerEntry.objects.get(subject_id=scene.patient.uhid).seq
    assert view.message == f"alice viewed patient {scene.patient.uhid}"
    assert failed.message == "failed login as admin (locked out)"
    assert (failed.source, failed.ref) == ("axes.accessfailurelog", scene.failure.pk)
    assert alert.message.startswith(f"ALERT critical #{scene.alert.pk}: Password guessing")
    assert raised.message == (
        f"the system created defense.alert {scene.alert.pk} (reason: rule brute_force)"
    )
    assert (outside_view.actor, outside_view.ip) == ("mallory", OUTSIDE)
    assert logout.message == "alice logged out"


def test_the_window_bounds_are_kept(scene):
    earlier = timeline.timeline(T0 - dt.timedelta(days=3), T0 - dt.timedelta(days=1))
    patients = {e.patient for e in earlier}
    assert scene.earlier.uhid in patients
    assert scene.patient.uhid not in patients
    # Both ends are included: an event exactly at the start or end is in.
    assert _kinds(timeline.timeline(T0, T0)) == ["login"]
    registered = T0 + dt.timedelta(minutes=5)  # a ledger entry at a whole second
    assert "change" in _kinds(timeline.timeline(T0 - HOUR, registered))
    assert "change" not in _kinds(timeline.timeline(T0 - HOUR, registered - MICRO))
    just_after = T0 + MICRO
    assert "login" not in _kinds(timeline.timeline(just_after, T0 + HOUR))
    with pytest.raises(ValidationFailed, match="ends before it starts"):
        timeline.timeline(T0, T0 - HOUR)


def test_filters_by_user_ip_and_patient(scene):
    window = (T0 - HOUR, T0 + HOUR)
    by_alice = timeline.timeline(*window, user="alice")
    assert _kinds(by_alice) == ["login", "change", "access", "logout"]
    from_outside = timeline.timeline(*window, ip=OUTSIDE)
    assert _kinds(from_outside) == ["login_failed", "alert", "access"]  # the alert's own
    # ledger entry was written by the worker, with no address
    assert {e.place.label for e in from_outside} == {"CN"}
    about = timeline.timeline(*window, patient=scene.patient.uhid_display)
    assert _kinds(about) == ["change", "access", "access"]  # logins name no patient
    assert timeline.timeline(*window, user="alice", ip=OUTSIDE) == []
    with pytest.raises(ValidationFailed) as refused:
        timeline.timeline(*window, ip="10.0.4", patient="12345")
    assert set(refused.value.errors) == {"ip", "patient"}


def test_each_source_is_filtered_in_the_database_and_capped(scene, django_assert_num_queries):
    with django_assert_num_queries(6):  # one per source (logins twice: in, out)
        events = timeline.timeline(T0 - HOUR, T0 + HOUR, limit=2)
    # Capped at the first capped source's last event: nothing between is left out.
    assert _kinds(events) == ["login", "change"]
    assert events.truncated
    assert not timeline.timeline(T0 - HOUR, T0 + HOUR).truncated


def test_events_per_hour_are_counted_in_the_database(scene):
    unit, buckets = timeline.per_hour(T0 - HOUR, T0 + HOUR)
    assert unit == "hour"
    assert [b.start.hour for b in buckets] == [1, 2, 3]  # IST, the empty hours too
    assert buckets[1].counts == {
        "change": 2,
        "access": 2,
        "login": 1,
        "login_failed": 1,
        "alert": 1,
    }
    window = (T0 - dt.timedelta(days=5), T0 + HOUR)
    unit, days = timeline.per_hour(*window)
    assert unit == "day"
    listed = [e for e in timeline.timeline(*window) if e.kind != "logout"]
    assert sum(b.total for b in days) == len(listed)  # the earlier registration too


@pytest.mark.parametrize(
    ("ip", "label", "internal"),
    [
        ("10.0.4.17", "LAN", True),
        ("192.168.1.5", "LAN", True),
        ("8.8.8.8", "US", False),
        ("223.5.5.5", "CN", False),
        ("49.36.10.1", "IN", False),
    ],
)
def test_each_address_has_its_country_or_lan(ip, label, internal):
    place = network.place(ip)
    assert (place.label, place.internal) == (label, internal)


def test_an_event_says_where_its_address_is(scene):
    events = timeline.timeline(T0 - HOUR, T0 + HOUR)
    line = events[0].as_json()
    assert (line["ip"], line["country"], line["internal"]) == (WARD_PC, "", True)
    outside = next(e for e in events if e.ip == OUTSIDE).as_json()
    assert (outside["country"], outside["internal"]) == ("CN", False)
