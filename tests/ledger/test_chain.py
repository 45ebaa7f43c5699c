import pytest
from django.db import transaction

from ajeya.core import context
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerAction, LedgerEntry

pytestmark = pytest.mark.django_db


def change(n: int, **kwargs) -> ledger.Change:
    return ledger.Change(
        action=LedgerAction.CREATE,
        subject_type="test.thing",
        subject_id=str(n),
        after={"n": n, "label": f"thing {n}"},
        **kwargs,
    )


def test_entries_link_into_one_chain():
    with transaction.atomic():
        for n in range(3):
            ledger.record(change(n))
        ledger.record_many(change(n) for n in range(3, 8))
    entries = list(LedgerEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, 9))
    prev = ledger.GENESIS_HASH
    for entry in entries:
        assert entry.prev_hash == prev
        assert entry.hash == ledger.entry_digest(ledger.CHANGES, entry)
        prev = entry.hash


def test_every_write_guard_is_asked_before_the_append_starts(monkeypatch):
    """A guard may read the database (the lockdown's does); on PostgreSQL the append is
    a COPY holding the connection, and a guard asked in the middle of it waited for it
    forever (a batch of analyzer messages hung that way)."""
    from django.db import connection

    asked: list[str] = []

    def reading_guard(change: ledger.Change) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        asked.append(change.subject_type)

    kinds = ["test.first", "test.second", "test.third"]
    insert = ledger._insert

    def checked_insert(chain, rows):
        assert asked == kinds  # all asked, before the first row is made
        return insert(chain, rows)

    monkeypatch.setattr(ledger, "_write_guards", [reading_guard])
    monkeypatch.setattr(ledger, "_insert", checked_insert)
    with transaction.atomic():
        ledger.record_many(
            ledger.Change(
                action=LedgerAction.CREATE, subject_type=kind, subject_id=str(n), after={"n": n}
            )
            for n, kind in enumerate([*kinds, *kinds])
        )
    assert LedgerEntry.objects.count() == 6


def test_a_changed_entry_no_longer_matches_its_hash():
    with transaction.atomic():
        ledger.record(change(1))
    entry = LedgerEntry.objects.get()
    assert ledger.entry_digest(ledger.CHANGES, entry) == entry.hash
    entry.payload = entry.payload.replace("thing 1", "thing 2")
    assert ledger.entry_digest(ledger.CHANGES, entry) != entry.hash
    entry.refresh_from_db()
    entry.actor_username = "someone else"
    assert ledger.entry_digest(ledger.CHANGES, entry) != entry.hash


def test_entries_carry_the_request_context():
    ctx = context.RequestContext(
        ip="10.1.2.3", user_agent="ua", request_id="abc12345", channel="web"
    )
    with context.bind(ctx), transaction.atomic():
        seq = ledger.record(change(1, reason="because"))
    stored = LedgerEntry.objects.get(pk=seq)
    assert (stored.ip, stored.request_id, stored.channel, stored.reason) == (
        "10.1.2.3",
        "abc12345",
        "web",
        "because",
    )


@pytest.mark.django_db(transaction=True)
def test_recording_outside_the_changes_transaction_is_refused():
    with pytest.raises(RuntimeError, match="transaction"):
        ledger.record(change(1))
    with pytest.raises(RuntimeError, match="transaction"):
        ledger.record_many([change(1)])
    assert not LedgerEntry.objects.exists()


def test_a_rolled_back_change_leaves_no_entry():

    def failing_change():
        with transaction.atomic():
            ledger.record(change(1))
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing_change()
    assert not LedgerEntry.objects.exists()


def test_reading_ahead_hands_on_every_page_in_order_and_the_readers_failure():
    from ajeya.ledger.verification import _read_ahead

    assert list(_read_ahead(iter([[1], [2, 3], [4]]))) == [[1], [2, 3], [4]]

    def broken():
        yield [1]
        raise ConnectionError("server closed the connection")

    pages = _read_ahead(broken())
    assert next(pages) == [1]
    with pytest.raises(ConnectionError, match="server closed"):
        next(pages)


def test_a_verification_stopped_early_leaves_no_reader_behind():
    import threading

    from ajeya.ledger.verification import _read_ahead

    pages = _read_ahead(iter([[n] for n in range(100)]))
    assert next(pages) == [0]
    pages.close()
    assert not any(t.name == "ledger-verify-reader" for t in threading.enumerate())


@pytest.mark.django_db(transaction=True)
def test_a_file_database_is_read_through_apsw_and_its_tampering_found(tmp_path, monkeypatch):
    """Verification reads SQLite files through apsw (tests run in memory: here a file
    copy of the test database stands for one)."""
    import sqlite3

    from django.db import connection

    from ajeya.ledger import verification

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's reader")
    with transaction.atomic():
        ledger.record_many(change(n) for n in range(5))
    copy = tmp_path / "hospital.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(copy)])
    monkeypatch.setattr(verification, "_can_fork", lambda: True)
    monkeypatch.setattr(verification, "_database_file", lambda: str(copy))
    opened = []
    real = verification._apsw_pages
    monkeypatch.setattr(verification, "_apsw_pages", lambda sql: opened.append(sql) or real(sql))

    clean = verification.Report()
    verification.check_chain(ledger.CHANGES, clean)
    assert opened
    assert (clean.entries_checked, clean.findings) == (5, [])

    with sqlite3.connect(copy) as raw:
        raw.execute("DROP TRIGGER ledger_ledgerentry_no_update")
        raw.execute("UPDATE ledger_ledgerentry SET actor_username = 'intruder' WHERE seq = 3")
    tampered = verification.Report()
    verification.check_chain(ledger.CHANGES, tampered)
    assert [f.ident for f in tampered.findings] == ["#3"]
    assert "changed after it was written" in tampered.findings[0].problem


@pytest.mark.django_db(transaction=True)
def test_a_file_apsw_cannot_open_is_read_through_djangos_connection(tmp_path, monkeypatch):
    from ajeya.ledger import verification

    with transaction.atomic():
        ledger.record_many(change(n) for n in range(3))
    monkeypatch.setattr(verification, "_can_fork", lambda: True)
    monkeypatch.setattr(verification, "_database_file", lambda: str(tmp_path / "gone" / "x"))
    assert verification._apsw_pages("SELECT 1") is None
    report = verification.Report()
    verification.check_chain(ledger.CHANGES, report)
    assert (report.entries_checked, report.findings) == (3, [])
