"""The recovery pieces in-process: keys, sealing, targets, shipping, retention, the
drill's expected counts and the dashboard's lines."""

from __future__ import annotations

import datetime as dt
import os
import stat

import orjson
import pytest
from django.db import connection
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pyrage import x25519

from ajeya.core import clock
from ajeya.ledger import checkpoints
from ajeya.resilience import (
    drill,
    keys,
    retention,
    sealing,
    selectors,
    shipping,
    signing,
    snapshot,
    targets,
)
from ajeya.resilience.models import BackupRun, DrillRun, ShipState
from tests.patients.factories import PatientFactory


@pytest.fixture
def server(tmp_path, settings):
    """A server with a ledger signing key and a backup key (private half in tmp)."""
    settings.AJEYA_LEDGER_SIGNING_KEY = tmp_path / "var" / "keys" / "ledger.key"
    settings.AJEYA_LEDGER_PUBLIC_KEY = tmp_path / "var" / "keys" / "ledger.pub"
    settings.AJEYA_CHECKPOINT_DIR = tmp_path / "var" / "checkpoints"
    settings.AJEYA_BACKUP_PUBLIC_KEY = tmp_path / "var" / "keys" / "backup.pub"
    settings.AJEYA_REPORTS_ARCHIVE_DIR = tmp_path / "var" / "reports-archive"
    settings.AJEYA_STAGING_DIR = tmp_path / "var" / "staging"
    (tmp_path / "offline").mkdir()
    (tmp_path / "usb").mkdir()
    settings.AJEYA_BACKUP_TARGETS = {"usb": {"name": "usb", "where": str(tmp_path / "usb")}}
    made = keys.init(tmp_path / "offline")
    shipping.DOCUMENTS.known.clear()
    return made


# -- keys ------------------------------------------------------------------------------


def test_keys_init_keeps_only_the_public_half_on_the_server(server, tmp_path, settings):
    text = server.private_path.read_text()
    assert "AGE-SECRET-KEY-" in text
    assert stat.S_IMODE(os.stat(server.private_path).st_mode) == 0o600
    assert settings.AJEYA_BACKUP_PUBLIC_KEY.read_text().strip() == server.recipient
    restore_key = keys.load_restore_key(server.private_path)
    assert restore_key.recipient == server.recipient
    signer = checkpoints.load_private_key().public_key()
    assert checkpoints.key_id(restore_key.signer) == checkpoints.key_id(signer)
    with pytest.raises(keys.BackupKeyError, match="already has a backup key"):
        keys.init(tmp_path / "offline")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# only comments\n", "holds no private backup key"),
        ("AGE-SECRET-KEY-1XYZ\n# ajeya-signer: AAAA\n", "private key line is damaged"),
        ("# ajeya-signer: !!notbase64\n", "signer line is damaged"),
    ],
)
def test_damaged_key_files_are_named(tmp_path, content, message):
    path = tmp_path / "key.txt"
    path.write_text(content)
    with pytest.raises(keys.BackupKeyError, match=message):
        keys.load_restore_key(path)


def test_a_key_file_without_a_signer_is_refused(tmp_path):
    path = tmp_path / "key.txt"
    path.write_text(f"{x25519.Identity.generate()}\n")
    with pytest.raises(keys.BackupKeyError, match="names no signer"):
        keys.load_restore_key(path)


def test_no_public_key_on_the_server_says_what_to_run(settings, tmp_path):
    settings.AJEYA_BACKUP_PUBLIC_KEY = tmp_path / "none.pub"
    with pytest.raises(keys.BackupKeyError, match="ajeya keys init"):
        keys.recipient()


# -- sealing ---------------------------------------------------------------------------


@hsettings(max_examples=25, deadline=None)
@given(st.binary(max_size=200_000))
def test_sealed_bytes_open_to_the_same_bytes_and_hashes(data):
    identity = x25519.Identity.generate()
    blob, sealed = sealing.seal_bytes(data, identity.to_public())
    assert sealing.open_bytes(blob, identity, name="x") == data
    assert sealed.plain_size == len(data)
    assert sealed.size == len(blob)
    assert data not in blob or len(data) < 8  # never stored in the clear


def test_a_flipped_bit_or_another_key_does_not_open(tmp_path):
    identity = x25519.Identity.generate()
    blob, _ = sealing.seal_bytes(b"patient record " * 1000, identity.to_public())
    damaged = bytearray(blob)
    damaged[-40] ^= 1
    with pytest.raises(sealing.SealError, match="obj: damaged"):
        sealing.open_bytes(bytes(damaged), identity, name="obj")
    with pytest.raises(sealing.SealError, match="does not open this backup"):
        sealing.open_bytes(blob, x25519.Identity.generate(), name="obj")


# -- targets ---------------------------------------------------------------------------


def test_a_directory_target_never_overwrites_and_refuses_odd_names(tmp_path):
    target = targets.DirectoryTarget("usb", tmp_path).open()
    target.put_bytes("a/b.age", b"one")
    with pytest.raises(targets.TargetError, match="already exists"):
        target.put_bytes("a/b.age", b"two")
    assert target.get_bytes("a/b.age") == b"one"
    assert not os.access(tmp_path / "a" / "b.age", os.W_OK) or os.geteuid() == 0
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b.age").st_mode) == 0o444
    for bad in ("../escape", "/abs", "", "a/../b"):
        with pytest.raises(targets.TargetError, match="not a valid object name"):
            target.put_bytes(bad, b"x")
    with pytest.raises(targets.MissingObject, match=r"object a/c\.age is missing"):
        target.get_bytes("a/c.age")
    assert target.list("a/") == ["a/b.age"]
    target.put_bytes("a/c1.age", b"x")
    assert target.list("a/", start_after="a/b.age") == ["a/c1.age"]
    assert target.list("a/", start_after="a/c") == ["a/c1.age"]  # a prefix sorts first
    with pytest.raises(targets.TargetError, match="is not a directory"):
        targets.DirectoryTarget("nas", tmp_path / "nowhere").open()


def test_no_targets_configured_is_a_clear_error(settings):
    settings.AJEYA_BACKUP_TARGETS = {}
    with pytest.raises(targets.TargetError, match="set AJEYA_BACKUP_TARGETS"):
        targets.configured()


# -- shipping --------------------------------------------------------------------------


def _segments(tmp_path, signer):
    found = []
    for path in sorted((tmp_path / "usb" / "ledger").glob("*.json")):
        found.append(signing.load(path.read_bytes(), signer, name=path.name, kind="segment"))
    return found


@pytest.mark.django_db(transaction=True)
def test_shipping_sends_each_entry_once_with_the_counters(server, tmp_path, make_user):
    restore_key = keys.load_restore_key(server.private_path)
    clerk = make_user(role="registration_clerk")
    PatientFactory.create_batch(3, actor=clerk)
    target = targets.configured()[0].open()
    state = shipping.ship_to(target)
    first = _segments(tmp_path, restore_key.signer)
    assert len(first) == 1
    assert first[0]["consistent"] is True
    assert first[0]["changes"]["last"] == state.changes_seq > 0
    shipping.ship_to(target)  # nothing new: nothing written
    assert len(_segments(tmp_path, restore_key.signer)) == 1
    PatientFactory(actor=clerk)
    shipping.ship_to(target)
    second = _segments(tmp_path, restore_key.signer)[-1]
    assert second["changes"]["after"] == first[0]["changes"]["last"]
    blob = (tmp_path / "usb" / second["object"]["key"]).read_bytes()
    payload = orjson.loads(sealing.open_bytes(blob, restore_key.identity, name="seg"))
    assert [row[0] for row in payload["changes"]] == list(
        range(second["changes"]["first"], second["changes"]["last"] + 1)
    )
    assert payload["sequences"]["uhid"] >= 5
    assert ShipState.objects.get(target="usb").last_error == ""


@pytest.mark.django_db(transaction=True)
def test_a_backlog_ships_in_pieces_and_only_the_last_is_a_restore_point(
    server, tmp_path, make_user, monkeypatch
):
    restore_key = keys.load_restore_key(server.private_path)
    clerk = make_user(role="registration_clerk")
    PatientFactory.create_batch(3, actor=clerk)
    monkeypatch.setattr(shipping, "MAX_ENTRIES", 2)
    shipping.ship_to(targets.configured()[0].open())
    segments = _segments(tmp_path, restore_key.signer)
    assert len(segments) >= 2
    assert [s["consistent"] for s in segments] == [False] * (len(segments) - 1) + [True]


@pytest.mark.django_db(transaction=True)
def test_password_hashes_ship_as_row_images_never_in_the_ledger(server, tmp_path, make_user):
    restore_key = keys.load_restore_key(server.private_path)
    user = make_user(role="registration_clerk")
    shipping.ship_to(targets.configured()[0].open())
    meta = _segments(tmp_path, restore_key.signer)[-1]
    blob = (tmp_path / "usb" / meta["object"]["key"]).read_bytes()
    payload = orjson.loads(sealing.open_bytes(blob, restore_key.identity, name="seg"))
    users = payload["images"]["accounts.user"]
    assert any(row["password"] == user.password for row in users)
    columns = payload["columns"]["changes"]
    assert all(user.password not in row[columns.index("payload")] for row in payload["changes"])


def test_an_unreachable_target_is_recorded_and_named(server, settings, db):
    settings.AJEYA_BACKUP_TARGETS = {"nas": {"name": "nas", "where": "/nonexistent/nas"}}
    outcome = shipping.ship_all()
    assert "is not a directory" in outcome["nas"]
    assert "is not a directory" in ShipState.objects.get(target="nas").last_error


# -- retention -------------------------------------------------------------------------


def _ids(*moments: str) -> list[str]:
    return [
        dt.datetime.fromisoformat(m).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        for m in moments
    ]


def test_retention_keeps_the_newest_per_day_in_ist():
    ids = _ids(
        "2026-11-25T09:00+05:30",
        "2026-11-25T21:00+05:30",
        "2026-11-26T00:30+05:30",  # still the 25th in UTC: a new day in IST
        "2026-11-26T18:00+05:30",
        "2026-11-27T08:00+05:30",
    )
    kept = retention.select(ids, retention.Policy(daily=2))
    assert sorted(kept) == sorted([ids[4], ids[3]])
    kept = retention.select(ids, retention.Policy(last=1, daily=3))
    assert sorted(kept) == sorted([ids[4], ids[3], ids[1]])
    assert kept[ids[4]] == ["last", "daily"]
    with pytest.raises(retention.PruneError, match="nothing would be kept"):
        retention.select(ids, retention.Policy())


MOMENTS = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=dt.datetime(2027, 1, 1),  # noqa: DTZ001
)
SMALL = st.integers(0, 5)


@given(
    st.lists(MOMENTS, min_size=1, max_size=40, unique=True),
    SMALL,
    SMALL,
    SMALL,
    SMALL,
    st.integers(1, 5),
)
def test_retention_always_keeps_the_newest_and_never_more_than_asked(
    moments, last, daily, weekly, monthly, hourly
):
    ids = [m.replace(tzinfo=dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") for m in moments]
    policy = retention.Policy(last, hourly, daily, weekly, monthly)
    kept = retention.select(ids, policy)
    assert max(ids) in kept
    assert set(kept) <= set(ids)
    assert len(kept) <= last + hourly + daily + weekly + monthly


# -- the drill's arithmetic and the dashboard ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_expected_counts_take_back_what_the_ledger_added_later(make_user):
    from ajeya.ledger.models import LedgerEntry

    clerk = make_user(role="registration_clerk")
    PatientFactory.create_batch(2, actor=clerk)
    head = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    with connection.cursor() as cursor:
        then = snapshot.table_counts(cursor)
    PatientFactory.create_batch(3, actor=clerk)
    expected = drill.expected_counts({"changes": head, "accesses": 0})
    assert expected["patients_patient"] == then["patients_patient"]
    assert expected["ledger_ledgerentry"] == head


@pytest.mark.django_db
def test_dashboard_lines_go_red_when_stale_or_failed(settings):
    assert selectors.restore_line() == ("never drilled (run `ajeya drill --key FILE`)", False)
    now = clock.now()
    DrillRun.objects.create(target="usb", started_at=now - dt.timedelta(hours=1),
                            finished_at=now, ok=True, seconds=42.0,
                            data_age_seconds=3.0)  # fmt: skip
    text, ok = selectors.restore_line()
    assert ok
    assert "restored and verified in 42 s, data 3 s old" in text
    DrillRun.objects.create(target="usb", started_at=now, finished_at=now, ok=False,
                            message="object x is missing")  # fmt: skip
    text, ok = selectors.restore_line()
    assert not ok
    assert "the latest drill FAILED: object x is missing" in text
    DrillRun.objects.all().update(started_at=now - dt.timedelta(hours=48))
    DrillRun.objects.filter(ok=False).delete()
    assert selectors.restore_line()[1] is False  # older than AJEYA_DRILL_STALE_HOURS

    text, ok = selectors.backup_line()
    assert not ok
    assert "never backed up" in text
    BackupRun.objects.create(target="usb", started_at=now, finished_at=now, ok=True,
                             stored_bytes=5_000_000)  # fmt: skip
    text, ok = selectors.backup_line()
    assert ok
    assert "to usb, 5.0 MB" in text
    ShipState.objects.create(target="usb", shipped_at=now, last_error="usb: disk full")
    text, ok = selectors.backup_line()
    assert not ok
    assert "SHIPPING FAILING" in text


@pytest.mark.django_db
def test_a_backup_from_a_newer_version_is_refused_by_name():
    from django.db.migrations.recorder import MigrationRecorder

    from ajeya.resilience import restore

    restore.check_schema_version()  # this version's own schema: fine
    MigrationRecorder.Migration.objects.create(app="patients", name="0099_from_the_future")
    with pytest.raises(restore.RestoreError, match=r"patients\.0099_from_the_future"):
        restore.check_schema_version()
