"""The outage spool: while the database is unavailable the listener keeps every message
durably and acknowledges it; when the database answers again they are stored in their
order of arrival, none lost and none twice."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading

import psycopg
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError, connection

from ajeya.lab import services
from ajeya.lab import spool as spool_module
from ajeya.lab.listener import SPOOLED_TEXT, Listener
from ajeya.lab.models import InboundMessage, MessageStatus
from ajeya.lab.spool import Spool, SpoolBusy, database_unavailable, replay
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.registry import for_model
from ajeya.ledger.verification import verify
from tests.lab import factories as lab
from tests.lab import hl7_samples as s
from tests.lab.hl7_samples import Client

transactional = pytest.mark.django_db(transaction=True)
UNKNOWN = "2699999999"  # no such sample: stored as UNMATCHED, quickly


@pytest.fixture
def spool(tmp_path):
    return Spool(tmp_path / "spool")


@pytest.fixture
def cbc_sample():
    lab.load_catalogue()
    (sample,) = lab.received(lab.walk_in(["CBC"]))
    return sample


# -- the spool directory ------------------------------------------------------------------


def test_messages_are_kept_in_arrival_order_and_numbering_survives_a_restart(spool):
    first = spool.put("MSH|one", peer="10.20.0.5", request_id="r1")
    spool.put("MSH|two")
    assert [p.name for p in spool.pending()] == ["000000000001.json", "000000000002.json"]
    assert len(spool) == 2
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    item = spool.read(first)
    assert (item.raw, item.peer, item.request_id) == ("MSH|one", "10.20.0.5", "r1")
    spool.done(first)
    again = Spool(spool.directory)  # the listener restarted
    assert len(again) == 1
    assert again.put("MSH|three").name == "000000000003.json"
    assert [again.read(p).raw for p in again.pending()] == ["MSH|two", "MSH|three"]


def test_a_spool_write_is_fsynced_before_and_after_its_rename(spool, monkeypatch):
    events: list[str] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(f"fsync {kind}")
        real_fsync(fd)

    def rename(source, target):
        events.append("rename")
        real_rename(source, target)

    monkeypatch.setattr(spool_module.os, "fsync", fsync)
    monkeypatch.setattr(spool_module.os, "rename", rename)
    spool.put("MSH|durable")
    assert events == ["fsync file", "rename", "fsync directory"]
    assert not list(spool.directory.glob(".tmp-*"))


def test_a_write_interrupted_by_a_crash_is_kept_among_the_rejected(spool):
    (spool.directory / ".tmp-000000000007.json").write_text('{"raw": "MSH|half')
    again = Spool(spool.directory)
    assert again.empty()
    (kept,) = again.rejected()
    assert kept.read_text() == '{"raw": "MSH|half'
    assert "interrupted" in kept.name


def test_one_listener_per_spool(spool):
    spool.acquire()
    with pytest.raises(SpoolBusy, match="another listener"):
        Spool(spool.directory).acquire()
    spool.release()
    other = Spool(spool.directory)
    other.acquire()
    other.release()


def test_a_rejected_frame_is_kept_with_its_reason(spool):
    path = spool.reject(b"\x00garbage", reason="AR 100: no MSH", peer="10.20.0.9")
    assert path.read_bytes() == b"\x00garbage"
    note = path.with_name(path.name + ".txt").read_text()
    assert "reason: AR 100: no MSH" in note
    assert "peer: 10.20.0.9" in note
    assert "bytes: 8" in note
    assert spool.rejected() == [path]


def test_wait_empty_reports_whether_the_spool_drained(spool):
    assert spool.wait_empty(timeout=0)
    path = spool.put("MSH|x")
    assert not spool.wait_empty(timeout=0)
    threading.Thread(target=spool.done, args=(path,)).start()
    assert spool.wait_empty(timeout=30)


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (OperationalError("server closed the connection unexpectedly"), True),
        (InterfaceError("connection already closed"), True),
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (IntegrityError("duplicate key"), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(error, unavailable):
    assert database_unavailable(error) is unavailable


# -- replay -------------------------------------------------------------------------------


@transactional
def test_replay_stores_in_order_marks_spooled_and_keeps_the_analyzers_ip(spool, cbc_sample):
    spool.put(s.oru(cbc_sample.accession, control_id="S1"), peer="10.20.0.5", request_id="q1")
    spool.put(s.oru(UNKNOWN, control_id="S2"), peer="10.20.0.5")
    report = replay(spool, services.analyzer_message_store)
    assert (report.stored, report.set_aside, report.unavailable) == (2, 0, False)
    assert spool.empty()
    assert spool.pending() == []
    rows = list(
        InboundMessage.objects.order_by("pk").values_list("control_id", "spooled", "status")
    )
    assert rows == [("S1", True, MessageStatus.APPLIED), ("S2", True, MessageStatus.UNMATCHED)]
    assert lab.results_of(cbc_sample)["HB"].value == "13.2"
    entry = LedgerEntry.objects.get(
        subject_type=for_model(InboundMessage).subject_type,
        subject_id=str(InboundMessage.objects.get(control_id="S1").pk),
    )
    assert (entry.ip, entry.channel, entry.request_id) == ("10.20.0.5", "hl7", "q1")


@transactional
def test_replay_stops_at_an_unavailable_database_and_resumes_in_order(spool):
    for n in range(3):
        spool.put(s.oru(UNKNOWN, control_id=f"Q{n}"))
    calls: list[str] = []

    def store(message):
        calls.append(message.control_id)
        if calls == ["Q0", "Q1"]:
            raise InterfaceError("connection already closed")
        return services.analyzer_message_store(message)

    first = replay(spool, store)
    assert (first.stored, first.unavailable) == (1, True)
    assert [p.name for p in spool.pending()] == ["000000000002.json", "000000000003.json"]
    second = replay(spool, store)
    assert (second.stored, second.unavailable) == (2, False)
    assert calls == ["Q0", "Q1", "Q1", "Q2"]
    assert list(InboundMessage.objects.order_by("pk").values_list("control_id", flat=True)) == [
        "Q0",
        "Q1",
        "Q2",
    ]


@transactional
def test_a_crash_between_commit_and_delete_replays_harmlessly(spool, cbc_sample):
    spool.put(s.oru(cbc_sample.accession, control_id="CRASH"), peer="10.20.0.5")

    def commit_then_crash(message):
        services.analyzer_message_store(message)
        raise KeyboardInterrupt  # the power went after the commit, before the delete

    with pytest.raises(KeyboardInterrupt):
        replay(spool, commit_then_crash)
    assert len(spool.pending()) == 1
    entries = LedgerEntry.objects.count()
    results = {code: (r.value, r.version) for code, r in lab.results_of(cbc_sample).items()}

    restarted = Spool(spool.directory)
    report = replay(restarted, services.analyzer_message_store)
    assert (report.stored, report.set_aside) == (1, 0)
    assert restarted.empty()
    assert InboundMessage.objects.count() == 1
    assert LedgerEntry.objects.count() == entries
    assert {c: (r.value, r.version) for c, r in lab.results_of(cbc_sample).items()} == results


@transactional
def test_replay_sets_aside_what_it_cannot_store_and_goes_on(spool):
    spool.put(s.oru(UNKNOWN, control_id="OK1"))
    spool.put(s.oru(UNKNOWN, control_id="OLD", processing="T"))  # read when T was taken
    broken = spool.put(s.oru(UNKNOWN, control_id="X"))
    broken.write_text("{not json")
    spool.put(s.oru(UNKNOWN, control_id="OK2"))
    report = replay(spool, services.analyzer_message_store)
    assert (report.stored, report.set_aside, report.unavailable) == (2, 2, False)
    assert spool.empty()
    assert list(InboundMessage.objects.order_by("pk").values_list("control_id", flat=True)) == [
        "OK1",
        "OK2",
    ]
    notes = sorted(p.with_name(p.name + ".txt").read_text() for p in spool.rejected())
    assert any("AR 202" in note for note in notes)
    assert any("unreadable spool file" in note for note in notes)


# -- the listener through an outage -------------------------------------------------------


class Outage:
    """The database as the listener reaches it: `down` makes every call fail the way a
    lost connection does (the documented `store` hook of Listener)."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0

    def __call__(self, messages):
        if self.down:
            self.refused += 1
            raise OperationalError("server closed the connection unexpectedly (test)")
        return services.analyzer_messages_store(messages)


def send_through_outage(listener: Listener, accession: str, start, end) -> list[list[str]]:
    """200 messages; every 20th carries a new haemoglobin for the sample, the rest are
    for an unknown accession. start() / end() take the database away and bring it back
    before messages 50 and 150."""
    acks = []
    with Client(listener.address) as client:
        for n in range(200):
            if n == 50:
                start()
            if n == 150:
                end()
            if n % 20 == 0:
                text = s.oru(
                    accession,
                    [("HGB", "NM", f"{10 + n // 20}.0", "g/dL")],
                    control_id=f"OUT{n:03d}",
                )
            else:
                text = s.oru(UNKNOWN, control_id=f"OUT{n:03d}")
            acks.append(client.exchange(text)["MSA"][1:])
    assert listener.wait_idle(timeout=120), "the spool never drained"
    return acks


def check_nothing_lost(acks: list[list[str]], sample) -> None:
    sent = [f"OUT{n:03d}" for n in range(200)]
    assert [a[:2] for a in acks] == [["AA", c] for c in sent]
    assert all(a[2] == SPOOLED_TEXT for a in acks[50:150])
    rows = list(InboundMessage.objects.order_by("pk").values_list("control_id", "spooled"))
    assert [c for c, _ in rows] == sent  # exactly 200, in the order sent
    spooled = [c for c, was in rows if was]
    assert set(sent[50:150]) <= set(spooled)
    assert spooled == sent[50 : 50 + len(spooled)]  # one unbroken run from the outage on
    assert lab.results_of(sample)["HB"].value == "19.0"  # the last value sent wins
    report = verify()
    assert report.ok, report.findings


@transactional
def test_an_outage_mid_stream_loses_nothing_and_keeps_the_order(tmp_path, cbc_sample):
    outage = Outage()
    listener = Listener(
        "127.0.0.1", 0, spool=Spool(tmp_path / "spool"), store=outage, retry_seconds=0.01
    )
    with listener:

        def start():
            outage.down = True

        def end():
            outage.down = False

        acks = send_through_outage(listener, cbc_sample.accession, start, end)
    assert outage.refused >= 1
    check_nothing_lost(acks, cbc_sample)


@transactional
def test_when_the_spool_cannot_be_written_the_message_is_refused(spool, monkeypatch):
    outage = Outage()
    outage.down = True

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_module, "write_durably", disk_full)
    with (
        Listener("127.0.0.1", 0, spool=spool, store=outage) as listener,
        Client(listener.address) as client,
    ):
        ack = client.exchange(s.oru(UNKNOWN, control_id="FULL"))
    assert ack["MSA"][1:3] == ["AE", "FULL"]
    assert ack["ERR"][3] == "207^Application internal error^HL70357"
    assert "spool cannot be written" in ack["ERR"][8]


# -- PostgreSQL: the database connection really goes away ------------------------------------


class Proxy:
    """A TCP forwarder between the listener and PostgreSQL that can be cut and restored:
    cutting closes every open connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = True
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                if not self.up:
                    client.close()
                    continue
                upstream = socket.create_connection(self.target)
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            self.up = False
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open = []

    def restore(self) -> None:
        with self.lock:
            self.up = True

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()


@pytest.mark.postgres
@transactional
def test_postgres_going_away_mid_stream_loses_nothing(tmp_path, cbc_sample):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the listener's connection goes through a TCP proxy")
    shared = connection.settings_dict  # every thread's connection is made from this dict
    saved = (shared["HOST"], shared["PORT"])
    proxy = Proxy((shared["HOST"] or "127.0.0.1", int(shared["PORT"] or 5432)))
    shared["HOST"], shared["PORT"] = "127.0.0.1", str(proxy.port)
    try:
        listener = Listener("127.0.0.1", 0, spool=Spool(tmp_path / "spool"), retry_seconds=0.05)
        with listener:
            acks = send_through_outage(listener, cbc_sample.accession, proxy.cut, proxy.restore)
    finally:
        shared["HOST"], shared["PORT"] = saved
        proxy.close()
    check_nothing_lost(acks, cbc_sample)


@pytest.mark.django_db
def test_a_replayed_message_keeps_the_time_it_reached_the_listener(spool, cbc_sample, clock_at):
    arrived = clock_at(2026, 11, 30, 9, 0)
    spool.put(s.oru(cbc_sample.accession, control_id="T1"), peer="10.20.0.5")
    clock_at(2026, 11, 30, 9, 40)  # the database came back 40 minutes later
    replay(spool, services.analyzer_message_store)
    message = InboundMessage.objects.get(control_id="T1")
    assert message.received_at == arrived
    assert message.spooled
