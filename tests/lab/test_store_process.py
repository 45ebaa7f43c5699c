"""The listener's store in a process of its own (ADR 0014): what it stores is what the
in-process store stores, each message keeps its connection's context, and a child
that dies, hangs, fails or cannot reach its database costs no message."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import threading
import time

import pytest
from django.db import connection

from ajeya.lab.listener import SPOOLED_TEXT, Listener
from ajeya.lab.models import InboundMessage, MessageStatus, ResultStatus
from ajeya.lab.spool import Spool, database_unavailable
from ajeya.lab.store_process import StoreFailed, StoreProcess, StoreUnavailable
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.verification import verify
from tests.lab import factories as lab
from tests.lab import hl7_samples as s
from tests.lab import store_targets
from tests.lab.hl7_samples import Client

pytestmark = pytest.mark.django_db(transaction=True)
TARGETS = "tests.lab.store_targets"


class Shared:
    """The test's database where a child process can open it: PostgreSQL's test
    database as it is; SQLite's (in memory, this process's only) copied to a file, and
    copied back by `sync` once the child has written."""

    def __init__(self, tmp_path) -> None:
        connection.ensure_connection()
        if connection.vendor == "postgresql":
            self.name, self.path = str(connection.settings_dict["NAME"]), None
            return
        self.path = tmp_path / "shared.sqlite3"
        self.name = str(self.path)
        with contextlib.closing(sqlite3.connect(self.path)) as target:
            connection.connection.backup(target)

    def sync(self) -> None:
        if self.path is not None:
            with contextlib.closing(sqlite3.connect(self.path)) as source:
                source.backup(connection.connection)


@pytest.fixture
def world(tmp_path):
    """Two received CBC samples, then the database shared (order matters: the copy)."""
    lab.load_catalogue()
    samples = [lab.received(lab.walk_in(["CBC"]))[0] for _ in range(2)]
    return samples, Shared(tmp_path)


@pytest.fixture
def listen(tmp_path):
    started: list[tuple[Listener, StoreProcess]] = []

    def start(store: StoreProcess, **options) -> Listener:
        listener = Listener("127.0.0.1", 0, spool=Spool(tmp_path / "spool"), store=store, **options)
        listener.start()
        started.append((listener, store))
        return listener

    yield start
    for listener, store in started:
        listener.stop()
        store.stop()


def hgb(accession: str, value: str, control_id: str) -> str:
    return s.oru(accession, [("HGB", "NM", value, "g/dL")], control_id=control_id)


def answer(client: Client, message: str) -> list[str]:
    """MSA-1 to MSA-3 of the acknowledgement: code, control id, text."""
    return client.exchange(message)["MSA"][1:4]


def drained(listener: Listener, store: StoreProcess, shared: Shared) -> None:
    """Wait for the spool to empty, stop both, and read back what the children wrote."""
    assert listener.wait_idle(timeout=120), "the spool never drained"
    listener.stop()
    store.stop()
    shared.sync()


def test_the_listener_stores_through_its_store_process(world, listen):
    (first, second), shared = world
    store = StoreProcess(shared.name)
    listener = listen(store)
    with Client(listener.address) as one, Client(listener.address) as two:
        assert one.exchange(s.oru(first.accession, control_id="P1"))["MSA"][1:4] == [
            "AA",
            "P1",
            "3 result(s) stored.",
        ]
        assert two.exchange(hgb(second.accession, "12.5", "P2"))["MSA"][1:3] == ["AA", "P2"]
        # A resend is answered as before, by the same child.
        assert one.exchange(s.oru(first.accession, control_id="P1"))["MSA"][1:3] == ["AA", "P1"]
    child = store.pid
    listener.stop()
    store.stop()
    assert child is not None
    assert store.started == 1
    shared.sync()

    results = lab.results_of(first)
    assert results["HB"].value == "13.2"
    assert results["HB"].status == ResultStatus.ENTERED
    assert lab.results_of(second)["HB"].value == "12.5"
    assert list(InboundMessage.objects.order_by("pk").values_list("control_id", "status")) == [
        ("P1", MessageStatus.APPLIED),
        ("P2", MessageStatus.APPLIED),
    ]
    written = LedgerEntry.objects.filter(subject_type="lab.result", action="update")
    assert written.count() == 4  # 3 + 1: nothing twice for the resend
    assert {(e.ip, e.channel) for e in written} == {("127.0.0.1", "hl7")}  # the connection's
    report = verify()
    assert report.ok, report.findings


def test_a_child_that_dies_after_its_commit_loses_nothing_and_stores_nothing_twice(
    world, listen, tmp_path, monkeypatch
):
    (sample, _), shared = world
    monkeypatch.setenv(store_targets.MARK, str(tmp_path / "died"))
    store = StoreProcess(shared.name, target=f"{TARGETS}:stores_then_dies")
    listener = listen(store, retry_seconds=0.01)
    with Client(listener.address) as client:
        # Its answer never came: the message went to the spool, and was acknowledged.
        assert answer(client, s.oru(sample.accession, control_id="D1")) == [
            "AA",
            "D1",
            SPOOLED_TEXT,
        ]
    drained(listener, store, shared)
    assert store.started == 2  # the next call started a new child

    (message,) = InboundMessage.objects.all()
    assert (message.control_id, message.status, message.spooled) == ("D1", "applied", False)
    assert LedgerEntry.objects.filter(subject_type="lab.result", action="update").count() == 3
    assert lab.results_of(sample)["HB"].value == "13.2"


def test_a_child_that_hangs_is_stopped_and_its_batch_spooled(world, listen, tmp_path, monkeypatch):
    (sample, _), shared = world
    monkeypatch.setenv(store_targets.MARK, str(tmp_path / "hung"))
    # The new child's first batch (a cold start) must be answered within the limit too.
    store = StoreProcess(shared.name, target=f"{TARGETS}:hangs", answer_seconds=2)
    listener = listen(store, retry_seconds=0.01)
    with Client(listener.address) as client:
        assert answer(client, hgb(sample.accession, "11.0", "H1")) == ["AA", "H1", SPOOLED_TEXT]
    drained(listener, store, shared)
    assert store.started >= 2
    (message,) = InboundMessage.objects.all()
    assert (message.control_id, message.status, message.spooled) == ("H1", "applied", True)
    assert lab.results_of(sample)["HB"].value == "11.0"


def test_a_message_that_kills_the_child_every_time_is_set_aside_not_retried_forever(world, listen):
    (sample, _), shared = world
    store = StoreProcess(shared.name, target=f"{TARGETS}:dies_on_poison")
    listener = listen(store, retry_seconds=0.01)
    with Client(listener.address) as client:
        assert answer(client, hgb(sample.accession, "10.1", "GOOD1"))[:2] == ["AA", "GOOD1"]
        # The child dies on it: spooled; and the next one waits behind it in the spool.
        for value, control_id in (("10.2", "KILL1"), ("10.3", "GOOD2")):
            assert answer(client, hgb(sample.accession, value, control_id)) == [
                "AA",
                control_id,
                SPOOLED_TEXT,
            ]
    drained(listener, store, shared)
    assert list(InboundMessage.objects.order_by("pk").values_list("control_id", flat=True)) == [
        "GOOD1",
        "GOOD2",
    ]
    assert lab.results_of(sample)["HB"].value == "10.3"
    (kept,) = Spool(listener.spool.directory).rejected()
    assert b"KILL1" in kept.read_bytes()
    assert "the store process died 3 times storing it" in (
        kept.with_name(kept.name + ".txt").read_text()
    )
    assert store.started == 5  # died on it live; died on it three times in replay; GOOD2


def test_a_failure_in_the_child_costs_only_its_message(world, tmp_path):
    (sample, _), shared = world
    store = StoreProcess(shared.name, target=f"{TARGETS}:refuses_poison")
    listener = Listener("127.0.0.1", 0, spool=Spool(tmp_path / "spool"), store=store)
    try:
        with pytest.raises(StoreFailed, match="ValueError: a bug met a poisoned message"):
            store([lab.oru(sample.accession, [("HGB", "9.0")], control_id="POISON0")])
        acks = listener.process_many(
            [
                s.oru(sample.accession, control_id="POISON1").encode(),
                hgb(sample.accession, "12.0", "GOOD1").encode(),
            ],
            "10.0.0.7",
        )
    finally:
        store.stop()
    assert [s.parse_ack(a)["MSA"][1:3] for a in acks] == [["AE", "POISON1"], ["AA", "GOOD1"]]
    assert "could not store this message (internal error)" in acks[0]
    shared.sync()
    assert list(InboundMessage.objects.values_list("control_id", flat=True)) == ["GOOD1"]
    (kept,) = Spool(tmp_path / "spool").rejected()
    assert b"POISON1" in kept.read_bytes()
    assert "StoreFailed: ValueError: a bug met a poisoned message" in (
        kept.with_name(kept.name + ".txt").read_text()
    )


def test_a_database_the_child_cannot_reach_is_an_unavailable_database(tmp_path):
    if connection.vendor == "postgresql":
        unreachable = "ajeya_no_such_database"
    else:
        unreachable = str(tmp_path / "no" / "such" / "dir" / "db.sqlite3")
    store = StoreProcess(unreachable)
    try:
        with pytest.raises(StoreUnavailable, match="OperationalError") as raised:
            store([lab.oru("2600000018", [("HGB", "9.0")], control_id="U1")])
    finally:
        store.stop()
    assert database_unavailable(raised.value)  # so the listener spools


def test_a_child_that_cannot_start_is_unavailable_in_one_line():
    store = StoreProcess(target="tests.lab.no_such_module:store")
    try:
        with pytest.raises(StoreUnavailable, match=r"did not start \(exit code 2\)"):
            store([lab.oru("2600000018", [("HGB", "9.0")], control_id="U2")])
    finally:
        store.stop()


def test_the_child_ignores_the_signals_that_reach_a_process_group(world):
    (sample, _), shared = world
    store = StoreProcess(shared.name)
    try:
        store.start()
        for signal_number in (signal.SIGTERM, signal.SIGINT):  # Ctrl+C, systemd's stop
            os.kill(store.pid, signal_number)
        (outcome,) = store([lab.oru(sample.accession, [("HGB", "10.5")], control_id="S1")])
    finally:
        store.stop()
    assert (outcome.ack, outcome.results) == ("AA", 1)
    assert store.started == 1  # the same child stored it


def test_stopping_cuts_off_a_stuck_batch_and_starts_no_other_child(world, tmp_path, monkeypatch):
    (sample, _), shared = world
    monkeypatch.setenv(store_targets.MARK, str(tmp_path / "stuck"))
    store = StoreProcess(shared.name, target=f"{TARGETS}:hangs", stop_seconds=0.2)
    raised: list[BaseException] = []

    def send() -> None:
        try:
            store([lab.oru(sample.accession, [("HGB", "10.5")], control_id="K1")])
        except BaseException as exc:
            raised.append(exc)

    store.start()
    child = store.pid
    sender = threading.Thread(target=send)
    sender.start()
    assert _wait_for(lambda: (tmp_path / "stuck").exists()), "the batch never reached the child"
    store.stop()  # the batch is still in the child: killed, not waited for
    sender.join(30)
    assert not sender.is_alive()
    (error,) = raised
    assert isinstance(error, StoreUnavailable)  # so the listener spools it
    assert not os.path.exists(f"/proc/{child}")
    with pytest.raises(StoreUnavailable, match="stopping"):
        store([lab.oru(sample.accession, [("HGB", "10.5")], control_id="K2")])
    assert store.started == 1
    shared.sync()
    assert not InboundMessage.objects.exists()  # its transaction never committed


def _wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.postgres
def test_on_postgresql_the_childs_lock_and_statement_timeouts_come_before_its_limit():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite gives up on a lock by itself (busy_timeout, 20 s)")
    store = StoreProcess(target=f"{TARGETS}:says_its_timeouts")
    try:
        (outcome,) = store([lab.oru("2600000018", [("HGB", "9.0")], control_id="T1")])
    finally:
        store.stop()
    assert outcome.text == "1min 90s"  # both below the listener's 120 s


def test_a_child_that_cannot_be_given_a_socket_is_unavailable_not_the_batchs_fault(
    monkeypatch,
):
    def out_of_descriptors():
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(socket, "socketpair", out_of_descriptors)
    store = StoreProcess()
    with pytest.raises(StoreUnavailable, match=r"could not start: .*Too many open files") as raised:
        store([lab.oru("2600000018", [("HGB", "9.0")], control_id="F1")])
    assert database_unavailable(raised.value)  # spooled, not answered AE and kept
    assert store.started == 0
    assert store.pid is None
