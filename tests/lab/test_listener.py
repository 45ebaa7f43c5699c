"""The HL7 listener over a real socket: a listener runs in a thread inside each test,
and the test plays the analyzer. What is stored, what is answered, and that nothing
an analyzer sends is lost or stops the listener."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ajeya.lab import listener as listener_module
from ajeya.lab import services
from ajeya.lab.listener import SPOOLED_TEXT, Listener
from ajeya.lab.models import InboundMessage, MessageStatus, RejectionReason, ResultSource
from ajeya.lab.services import Outcome
from ajeya.lab.spool import Spool
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.registry import for_model
from tests.conftest import run_ajeya
from tests.lab import factories as lab
from tests.lab import hl7_samples as s
from tests.lab.hl7_samples import Client

transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spool(tmp_path):
    return Spool(tmp_path / "spool")


@pytest.fixture
def serve(spool):
    """Start a listener on a free loopback port (stopped after the test)."""
    started: list[Listener] = []

    def start(**options) -> Listener:
        listener = Listener("127.0.0.1", 0, spool=options.pop("spool", spool), **options)
        listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def cbc_sample():
    lab.load_catalogue()
    (sample,) = lab.received(lab.walk_in(["CBC"]))
    return sample


def accept_all(messages):
    """A store that takes every message (the listener without a database)."""
    return [Outcome(ack="AA", text="stored") for _ in messages]


def kept(spool: Spool) -> list[tuple[bytes, str]]:
    """What rejected/ holds: each frame's bytes and the note beside it."""
    return [
        (path.read_bytes(), path.with_name(path.name + ".txt").read_text())
        for path in spool.rejected()
    ]


# -- stored and acknowledged -----------------------------------------------------------


@transactional
def test_results_are_stored_and_acknowledged(serve, cbc_sample):
    listener = serve()
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(cbc_sample.accession, control_id="R1"))
    assert ack["MSA"] == ["MSA", "AA", "R1", "3 result(s) stored."]
    assert "ERR" not in ack
    assert ack["MSH"][3:7] == ["AJEYA", "HOSPITAL", "XN-1000", "LAB"]
    results = lab.results_of(cbc_sample)
    assert [results[code].value for code in ("HB", "TLC", "PLT")] == ["13.2", "7.40", "250"]
    assert {results[code].source for code in ("HB", "TLC", "PLT")} == {ResultSource.ANALYZER}
    message = InboundMessage.objects.get()
    assert (message.control_id, message.status, message.sample_id) == (
        "R1",
        MessageStatus.APPLIED,
        cbc_sample.pk,
    )
    assert message.spooled is False
    entry = LedgerEntry.objects.get(
        subject_type=for_model(InboundMessage).subject_type, subject_id=str(message.pk)
    )
    assert (entry.ip, entry.channel, entry.user_agent) == ("127.0.0.1", "hl7", "HL7 XN-1000")
    assert entry.request_id


@transactional
def test_a_resent_message_gets_the_same_answer_and_is_stored_once(serve, cbc_sample):
    listener = serve()
    text = s.oru(cbc_sample.accession, control_id="DUP-1")
    with Client(listener.address) as client:
        first = client.exchange(text)
        entries = LedgerEntry.objects.count()
        again = client.exchange(text)
    with Client(listener.address) as other:
        third = other.exchange(text)
    assert (
        first["MSA"]
        == again["MSA"]
        == third["MSA"]
        == ["MSA", "AA", "DUP-1", "3 result(s) stored."]
    )
    assert first["MSH"][10] != again["MSH"][10]  # every acknowledgement has its own id
    assert InboundMessage.objects.count() == 1
    assert LedgerEntry.objects.count() == entries
    assert lab.results_of(cbc_sample)["HB"].version == 2  # pending → entered, once


@transactional
def test_an_unknown_accession_is_accepted_and_kept_to_be_matched(serve, cbc_sample):
    listener = serve()
    with Client(listener.address) as client:
        ack = client.exchange(s.oru("2699999999", control_id="U1"))
    assert ack["MSA"][:3] == ["MSA", "AA", "U1"]
    assert "kept to be matched" in ack["MSA"][3]
    message = InboundMessage.objects.get()
    assert (message.status, message.accession, message.sample_id) == (
        MessageStatus.UNMATCHED,
        "2699999999",
        None,
    )
    # The relabelled tube found: the technician matches it, and the stored raw text is
    # read again by the same parser.
    outcome = services.message_match(
        actor=lab.technician(), message=message, accession=cbc_sample.accession
    )
    assert (outcome.ack, outcome.results) == ("AA", 3)
    assert lab.results_of(cbc_sample)["HB"].value == "13.2"


@transactional
def test_an_unknown_test_code_is_an_error_and_stores_nothing(serve, cbc_sample):
    listener = serve()
    results = [("HGB", "NM", "13.2", "g/dL"), ("FERRITIN", "NM", "80", "ng/mL")]
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(cbc_sample.accession, results, control_id="E1"))
    assert ack["MSA"][:3] == ["MSA", "AE", "E1"]
    assert ack["ERR"][3:5] == ["103^Table value not found^HL70357", "E"]
    assert "Unknown test code 'FERRITIN'" in ack["ERR"][8]
    assert lab.results_of(cbc_sample)["HB"].value == ""  # all or nothing
    assert InboundMessage.objects.get().status == MessageStatus.ERROR


@transactional
def test_a_word_for_a_numeric_test_is_a_data_type_error(serve, cbc_sample):
    listener = serve()
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(cbc_sample.accession, [("HGB", "NM", "high", "g/dL")]))
    assert ack["MSA"][1] == "AE"
    assert ack["ERR"][3] == "102^Data type error^HL70357"
    assert "'high' is not a number" in ack["ERR"][8]
    assert lab.results_of(cbc_sample)["HB"].value == ""


@transactional
def test_results_for_a_rejected_sample_are_refused(serve, cbc_sample):
    services.sample_reject(
        actor=lab.technician(), sample=cbc_sample, reason=RejectionReason.HAEMOLYSED
    )
    listener = serve()
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(cbc_sample.accession, control_id="REJ"))
    assert ack["MSA"][:3] == ["MSA", "AE", "REJ"]
    assert ack["ERR"][3] == "207^Application internal error^HL70357"
    assert "was rejected (haemolysed)" in ack["ERR"][8]
    assert InboundMessage.objects.get().status == MessageStatus.ERROR


# -- refused, and kept -----------------------------------------------------------------


@transactional
def test_a_message_that_is_not_oru_is_rejected_and_kept(serve, spool):
    listener = serve()
    text = s.oru(message_type="ADT^A01^ADT_A01", control_id="ADT1")
    with Client(listener.address) as client:
        ack = client.exchange(text)
    assert ack["MSA"][:3] == ["MSA", "AR", "ADT1"]
    assert ack["ERR"][3] == "200^Unsupported message type^HL70357"
    assert InboundMessage.objects.count() == 0
    ((data, note),) = kept(spool)
    assert data == text.encode()
    assert "reason: AR 200: Message type 'ADT'" in note
    assert "peer: 127.0.0.1" in note


@transactional
def test_bad_encoding_characters_are_rejected_with_the_control_id(serve, spool):
    listener = serve()
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(encoding="|^~&\\", control_id="ENC1"))
    assert ack["MSA"][:3] == ["MSA", "AR", "ENC1"]
    assert ack["ERR"][3] == "102^Data type error^HL70357"
    assert InboundMessage.objects.count() == 0
    assert len(kept(spool)) == 1


@transactional
def test_non_utf8_bytes_are_rejected_with_the_control_id(serve, spool):
    listener = serve()
    data = s.oru(control_id="L1").replace("g/dL", "\xb5g/dL").encode("latin-1")
    with Client(listener.address) as client:
        ack = client.exchange(data)
    assert ack["MSA"][:3] == ["MSA", "AR", "L1"]
    assert "not UTF-8" in ack["ERR"][8]
    assert kept(spool)[0][0] == data


@transactional
def test_a_frame_cut_off_is_kept_and_the_next_connection_is_served(serve, spool, cbc_sample):
    listener = serve()
    text = s.oru(cbc_sample.accession, control_id="CUT")
    with Client(listener.address) as cut:
        cut.send(s.START + text[:60].encode(), framed=False)
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(cbc_sample.accession, control_id="WHOLE"))
    assert ack["MSA"][:3] == ["MSA", "AA", "WHOLE"]
    assert listener.wait_disconnected(timeout=30)
    ((data, note),) = kept(spool)
    assert data == text[:60].encode()
    assert "closed in the middle of a message" in note
    assert list(InboundMessage.objects.values_list("control_id", flat=True)) == ["WHOLE"]


@transactional
def test_a_10_mb_message_is_rejected_and_the_listener_goes_on(serve, spool, cbc_sample):
    listener = serve()
    huge = s.oru(cbc_sample.accession, control_id="HUGE") + "NTE|1||" + "x" * 10_000_000 + "\r"
    with Client(listener.address) as client:
        ack = client.exchange(huge)
        after = client.exchange(s.oru(cbc_sample.accession, control_id="SMALL"))
    assert ack["MSA"][:3] == ["MSA", "AR", "HUGE"]
    assert ack["ERR"][3] == "207^Application internal error^HL70357"
    assert f"is {len(huge.encode())} bytes" in ack["ERR"][8]
    assert after["MSA"][:3] == ["MSA", "AA", "SMALL"]
    ((data, note),) = kept(spool)
    assert data == huge.encode()[:1024]
    assert "AJEYA_HL7_MAX_BYTES" in note
    with Client(listener.address) as client:
        assert client.exchange(s.oru("2699999999", control_id="NEXT"))["MSA"][1] == "AA"


@transactional
def test_bytes_outside_frames_are_skipped(serve, cbc_sample):
    listener = serve()
    first = s.oru(cbc_sample.accession, control_id="G1")
    second = s.oru("2699999999", control_id="G2")
    stream = b"\r\nnoise\x1c\r\x00" + s.frame(first) + b"\n\x1cmore noise" + s.frame(second)
    with Client(listener.address) as client:
        client.send(stream, framed=False)
        acks = [client.ack(), client.ack()]
    assert [a["MSA"][1:3] for a in acks] == [["AA", "G1"], ["AA", "G2"]]
    assert InboundMessage.objects.count() == 2


@transactional
def test_a_failure_that_is_not_the_database_is_an_error_and_the_message_is_kept(serve, spool):
    def broken(message):
        raise RuntimeError("a bug")

    listener = serve(store=broken)
    with Client(listener.address) as client:
        ack = client.exchange(s.oru(control_id="BUG"))
        again = client.exchange(s.oru(control_id="BUG2"))
    assert ack["MSA"][:3] == ["MSA", "AE", "BUG"]
    assert ack["ERR"][3] == "207^Application internal error^HL70357"
    assert again["MSA"][1:3] == ["AE", "BUG2"]
    notes = [note for _, note in kept(spool)]
    assert len(notes) == 2
    assert "could not be stored: RuntimeError: a bug" in notes[0]


def test_a_frame_that_stalls_is_cut_off_and_kept(serve, spool):
    listener = serve(frame_timeout=0.2, store=accept_all)
    with Client(listener.address) as client:
        client.send(s.START + b"MSH|^~\\&|XN", framed=False)
        assert client.frame() is None  # the listener gave up on it and closed
    assert listener.wait_disconnected(timeout=30)
    ((data, note),) = kept(spool)
    assert data == b"MSH|^~\\&|XN"
    assert "nothing arrived for 0.2 s" in note


def test_only_allowed_analyzers_may_connect(serve, tmp_path):
    listener = serve(allowed_peers=["10.20.0.0/16"], store=accept_all)
    with Client(listener.address) as client:
        with contextlib.suppress(OSError):  # it may already be closed
            client.send(s.oru())
        assert client.frame() is None
    other = Spool(tmp_path / "other")
    allowed = serve(allowed_peers=["127.0.0.0/8"], store=accept_all, spool=other)
    with Client(allowed.address) as client:
        assert client.exchange(s.oru())["MSA"][1] == "AA"


class AnnouncedGuard(threading.Condition):
    """The listener's guard, saying when the accept thread comes to take it."""

    def __init__(self) -> None:
        super().__init__()
        self.accepting = threading.Event()

    def __enter__(self):
        if threading.current_thread().name == "hl7-accept":
            self.accepting.set()
        return super().__enter__()


def test_a_connection_accepted_as_the_listener_stops_is_closed_not_served(serve):
    listener = serve(store=accept_all)
    listener._guard = guard = AnnouncedGuard()
    with guard:
        client = socket.create_connection(listener.address, timeout=30)
        # The accept thread has taken the connection and waits here for the guard.
        assert guard.accepting.wait(30)
        listener._stopping.set()  # as stop() does before it lists the connections
    try:
        assert client.recv(1) == b""  # closed: no thread was started to serve it
        assert not listener._clients
    finally:
        client.close()


def test_a_second_listener_on_the_same_spool_is_refused(serve, spool):
    from ajeya.lab.spool import SpoolBusy

    serve(store=accept_all)
    with pytest.raises(SpoolBusy, match="another listener"):
        Listener("127.0.0.1", 0, spool=Spool(spool.directory)).start()


# -- fuzz: any frame is answered well, or the connection closes ----------------------------

SENTINEL = s.oru("2699999999", control_id="SENTINEL")


def test_the_listener_answers_anything_with_a_well_formed_ack(serve):
    listener = serve(store=accept_all, max_bytes=4096)

    @hsettings(max_examples=40, deadline=None)
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.text(alphabet="MSH|^~\\&\rPIDOBXR0129\x0b\x1c\x00é", max_size=200).map(str.encode),
            st.integers(min_value=0, max_value=len(SENTINEL)).map(
                lambda n: (SENTINEL[:n] + "|\x1c" + SENTINEL[n:]).encode()
            ),
            st.just(b"x" * 5000),
        )
    )
    def check(payload):
        with Client(listener.address) as client:
            client.send(payload)
            client.send(SENTINEL)
            while True:
                data = client.frame()
                assert data is not None, "closed before answering the sentinel"
                ack = s.parse_ack(data.decode("utf-8"))
                assert list(ack)[:2] == ["MSH", "MSA"]
                assert ack["MSH"][9] == "ACK^R01^ACK"
                assert ack["MSA"][1] in ("AA", "AE", "AR")
                assert ("ERR" in ack) == (ack["MSA"][1] != "AA")
                if ack["MSA"][2] == "SENTINEL" and ack["MSA"][1] == "AA":
                    break

    check()


# -- the command ----------------------------------------------------------------------


def test_the_command_refuses_a_port_in_use_in_one_line(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_ajeya(
            "lab", "listen", "--host", "127.0.0.1", "--port", str(port),
            AJEYA_VAR_DIR=str(tmp_path), AJEYA_HL7_SPOOL_DIR=str(tmp_path / "spool"),
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == f"ajeya: error: port {port} on 127.0.0.1 is already in use"


def test_the_command_listens_says_where_and_stops_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "AJEYA_VAR_DIR": str(tmp_path),
        "AJEYA_HL7_SPOOL_DIR": str(tmp_path / "sp"),
        # A database never migrated, on either CI run: the store finds no tables.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ajeya", "lab", "listen", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("Listening for HL7 (MLLP) on 127.0.0.1:"), first
        port = int(first.split("127.0.0.1:")[1].split()[0])
        assert process.stdout.readline().strip() == f"Spool {tmp_path / 'sp'}: empty"
        with Client(("127.0.0.1", port)) as client:
            assert client.exchange(s.oru(version="3.0"))["MSA"][1:3] == ["AR", "MSG0001"]
            # A readable message reaches the store process, which finds no tables here
            # (never migrated): an unavailable database, so it is spooled.
            assert client.exchange(s.oru(control_id="MSG0002"))["MSA"][1:4] == [
                "AA",
                "MSG0002",
                SPOOLED_TEXT,
            ]
        (store,) = children(process.pid)  # the store process (ADR 0014), started first
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped; spool" in out
    assert not os.path.exists(f"/proc/{store}"), "the store process outlived the listener"


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


# -- two store threads (ADR 0015) ---------------------------------------------------------


class Recorded:
    """What the listener's two store threads did, in order: frames read, batches
    stored, acknowledgements sent (by control id)."""

    def __init__(self, listener: Listener, monkeypatch, hold: str = "") -> None:
        self.events: list[tuple[str, object]] = []
        self.changed = threading.Condition()
        self.release = threading.Event()
        self.hold = hold  # the control id whose batch stays in the store until released
        read, send = listener._prepare, listener_module._send

        def reading(frame, peer):
            message = read(frame, peer)
            self.add("read", message.control_id)
            return message

        def sending(sock, peer, data):  # noted first: the analyzer may read it at once
            self.add("ack", s.parse_ack(data[1:-2].decode())["MSA"][2])
            send(sock, peer, data)

        monkeypatch.setattr(listener, "_prepare", reading)
        monkeypatch.setattr(listener_module, "_send", sending)

    def add(self, kind: str, what: object) -> None:
        with self.changed:
            self.events.append((kind, what))
            self.changed.notify_all()

    def wait(self, kind: str, what: object) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: (kind, what) in self.events, 30)

    def store(self, messages):
        ids = [m.control_id for m in messages]
        self.add("store", ids)
        if self.hold in ids:
            assert self.release.wait(30)
        return accept_all(messages)

    def of(self, kind: str) -> list:
        return [what for k, what in self.events if k == kind]


def test_the_next_batch_is_read_while_one_is_stored_and_stored_as_soon_as_it_is_free(
    serve, monkeypatch
):
    """While a batch is in the store (the store process), the frames that arrive are
    read and gathered by the other store thread, and go in as one batch the moment the
    store is free: the store process is not left idle while the next batch is read."""
    listener = serve(store=lambda messages: recorded.store(messages))
    recorded = Recorded(listener, monkeypatch, hold="A1")
    with (
        Client(listener.address) as a,
        Client(listener.address) as b,
        Client(listener.address) as c,
    ):
        a.send(s.oru(control_id="A1"))
        recorded.wait("store", ["A1"])
        b.send(s.oru(control_id="B1"))
        c.send(s.oru(control_id="C1"))
        recorded.wait("read", "B1")
        recorded.wait("read", "C1")
        assert recorded.of("store") == [["A1"]]  # read, and waiting for the store
        recorded.release.set()
        assert [x.ack()["MSA"][1:3] for x in (a, b, c)] == [
            ["AA", "A1"],
            ["AA", "B1"],
            ["AA", "C1"],
        ]
    first, second = recorded.of("store")
    assert first == ["A1"]
    assert sorted(second) == ["B1", "C1"]  # one batch
    assert recorded.of("ack")[0] == "A1"


def test_acknowledgements_go_out_in_the_order_of_their_batches(serve, monkeypatch):
    """The second batch can be stored before the first batch's acknowledgements are
    sent (the store is free once the first is stored); its own wait for them."""
    listener = serve(store=lambda messages: recorded.store(messages))
    recorded = Recorded(listener, monkeypatch)
    acks = listener._acks
    second_stored = threading.Event()

    def slow_acks(prepared, outcomes):
        if prepared[0].control_id == "A1":  # the first batch, between store and send
            assert second_stored.wait(30)
        return acks(prepared, outcomes)

    def store(messages):
        out = recorded.store(messages)
        if messages[0].control_id == "B1":
            second_stored.set()
        return out

    monkeypatch.setattr(listener, "_acks", slow_acks)
    listener.store = store
    with Client(listener.address) as a, Client(listener.address) as b:
        a.send(s.oru(control_id="A1"))
        recorded.wait("store", ["A1"])
        b.send(s.oru(control_id="B1"))
        assert b.ack()["MSA"][1:3] == ["AA", "B1"]
        assert a.ack()["MSA"][1:3] == ["AA", "A1"]
    assert recorded.of("store") == [["A1"], ["B1"]]
    assert recorded.of("ack") == ["A1", "B1"]


def test_an_acknowledgement_that_fails_costs_no_other_its_own(serve, monkeypatch, caplog):
    """A bug in sending one acknowledgement: the others of its batch are sent, its
    turn is marked done (the batches after it wait for it), and the store threads
    carry on."""
    listener = serve(store=lambda messages: recorded.store(messages))
    recorded = Recorded(listener, monkeypatch, hold="X1")
    send = listener_module._send

    def failing(sock, peer, data):
        if b"|A1|" in data:
            raise RuntimeError("a bug while answering")
        send(sock, peer, data)

    monkeypatch.setattr(listener_module, "_send", failing)
    with (
        Client(listener.address) as x,
        Client(listener.address) as a,
        Client(listener.address) as b,
    ):
        x.send(s.oru(control_id="X1"))
        recorded.wait("store", ["X1"])  # held: A1 and B1 gather into one batch
        a.send(s.oru(control_id="A1"))
        b.send(s.oru(control_id="B1"))
        recorded.wait("read", "A1")
        recorded.wait("read", "B1")
        recorded.release.set()
        assert x.ack()["MSA"][1:3] == ["AA", "X1"]
        assert b.ack()["MSA"][1:3] == ["AA", "B1"]  # A1's failed in the same batch
        assert b.exchange(s.oru(control_id="B2"))["MSA"][1:3] == ["AA", "B2"]
        assert a.exchange(s.oru(control_id="A2"))["MSA"][1:3] == ["AA", "A2"]
    assert sorted(recorded.of("store")[1]) == ["A1", "B1"]
    assert "could not acknowledge 127.0.0.1" in caplog.text


def test_a_frame_that_cannot_be_read_for_a_bug_is_answered_ae_and_costs_no_other(
    serve, monkeypatch, caplog
):
    """A bug while reading one frame of a batch (not a malformed message: those are
    refused as HL7 says): that frame is answered AE 207 with its control id, the others
    of its batch are stored, and the listener goes on."""
    stored: list[str] = []

    def store(messages):
        stored.extend(m.control_id for m in messages)
        return accept_all(messages)

    listener = serve(store=store)
    read = listener._prepare

    def buggy(frame, peer):
        if b"|R2|" in frame.data:
            raise RuntimeError("a bug while reading")
        return read(frame, peer)

    monkeypatch.setattr(listener, "_prepare", buggy)
    with Client(listener.address) as client:
        assert client.exchange(s.oru(control_id="R1"))["MSA"][1:3] == ["AA", "R1"]
        refused = client.exchange(s.oru(control_id="R2"))
        assert refused["MSA"][1:3] == ["AE", "R2"]
        assert refused["ERR"][3].startswith("207")
        assert client.exchange(s.oru(control_id="R3"))["MSA"][1:3] == ["AA", "R3"]
    assert stored == ["R1", "R3"]
    assert "a frame from 127.0.0.1 could not be read" in caplog.text
