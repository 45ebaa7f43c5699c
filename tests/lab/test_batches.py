"""Analyzer messages stored as a batch (the listener's store thread): every message is
answered and stored exactly as storing them one at a time, in the same order, would
have answered and stored them; each keeps its own connection's context; one message's
fault does not cost the others theirs."""

from __future__ import annotations

import socket

import pytest
from django.db import IntegrityError, OperationalError, transaction

from ajeya.lab import listener as listener_module
from ajeya.lab import services
from ajeya.lab.listener import Listener
from ajeya.lab.models import InboundMessage, RejectionReason, Result, Sample
from ajeya.lab.services import Outcome
from ajeya.lab.spool import Spool, hl7_context
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.verification import verify
from tests.lab import factories as lab
from tests.plans import sqlite_plans, through_other_indexes, unnarrowed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalogue(monday_morning):
    lab.load_catalogue()
    lab.technician()


def cbc(*, received: bool = True) -> Sample:
    order = lab.walk_in(["CBC"])
    if received:
        (sample,) = lab.received(order)
        return sample
    (sample,) = order.samples.all()
    return sample


def written(since: int) -> dict:
    """What the messages wrote: the messages, every result and sample, and the ledger's
    entries since the world was made (without their hashes, times and ids: PostgreSQL's
    sequences do not roll back, so the second run's messages have other ids; the seals,
    which hash them, are checked by `verify`)."""
    return {
        "messages": list(
            InboundMessage.objects.order_by("pk").values_list(
                "control_id", "status", "ack_code", "error_code", "detail", "sample_id"
            )
        ),
        "results": list(
            Result.objects.order_by("pk").values_list(
                "pk", "status", "value", "flag", "version", "message__control_id"
            )
        ),
        "samples": list(Sample.objects.order_by("pk").values_list("pk", "status", "version")),
        "ledger": [
            (e.action, e.subject_type, e.reason, _without_ids(e.after))
            for e in LedgerEntry.objects.filter(seq__gt=since).order_by("seq")
        ],
    }


def _without_ids(state: dict | None) -> dict | None:
    if state is None:
        return None
    return {k: v for k, v in state.items() if k not in ("id", "message_id", "received_at")}


def mixed_messages() -> list[services.AnalyzerMessage]:
    """One of everything the store decides, and the cases a batch must split on."""
    first, second, awaiting = cbc(), cbc(), cbc(received=False)
    rejected = cbc()
    services.sample_reject(
        actor=lab.technician(), sample=rejected, reason=RejectionReason.HAEMOLYSED
    )
    return [
        lab.oru(first.accession, [("HGB", "13.2"), ("WBC", "7.5")], control_id="B1"),
        lab.oru("2699999999", [("HGB", "9.1")], control_id="B2"),  # to be matched
        lab.oru(second.accession, [("HGB", "4.1")], control_id="B3"),  # critical
        lab.oru(awaiting.accession, [("PLT", "250")], control_id="B4"),  # received on it
        lab.oru(rejected.accession, [("HGB", "12")], control_id="B5"),  # AE: rejected
        lab.oru(second.accession, [("XYZ", "1")], control_id="B6"),  # AE: unknown code
        lab.oru(first.accession, [("HGB", "13.9")], control_id="B7"),  # same sample: rerun
        lab.oru(first.accession, [("HGB", "13.2"), ("WBC", "7.5")], control_id="B1"),  # again
        lab.oru(second.accession, [("WBC", "many")], control_id="B8"),  # AE: not a number
        lab.oru(second.accession, [("HGB", "4.1")], control_id="B9", app="NOPE"),  # AE 204
    ]


def test_a_batch_answers_and_stores_exactly_as_one_message_at_a_time():
    messages = mixed_messages()
    since = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    with transaction.atomic():
        one_by_one = [services.analyzer_message_store(m) for m in messages]
        expected = written(since)
        transaction.set_rollback(True)
    assert written(since)["messages"] == []  # the world as it was before

    batched = services.analyzer_messages_store(messages)

    assert batched == one_by_one
    assert [o.ack for o in batched] == ["AA", "AA", "AA", "AA", "AE", "AE", "AA", "AA", "AE", "AE"]
    assert batched[7].duplicate  # B1 again, in the same batch: answered as the first
    got = written(since)
    for key in ("messages", "results", "samples"):
        assert got[key] == expected[key], key
    assert got["ledger"] == expected["ledger"]
    assert verify(use_checkpoint_dir=False).findings == []


def test_each_message_in_a_batch_keeps_its_own_connections_context():
    a, b = cbc(), cbc()
    first = lab.oru(a.accession, [("HGB", "13.2")], control_id="C1")
    second = lab.oru(b.accession, [("HGB", "12.0")], control_id="C2")
    first.context = hl7_context("10.20.0.5", "req-a", "XN-1000")
    second.context = hl7_context("10.20.0.6", "req-b", "XN-1000")

    services.analyzer_messages_store([first, second])

    for message, ip, request in ((first, "10.20.0.5", "req-a"), (second, "10.20.0.6", "req-b")):
        inbound = InboundMessage.objects.get(control_id=message.control_id)
        hb = Result.objects.get(message=inbound)
        for subject in (("lab.inboundmessage", inbound.pk), ("lab.result", hb.pk)):
            entry = LedgerEntry.objects.filter(subject_id=str(subject[1])).latest("seq")
            assert (entry.ip, entry.request_id, entry.channel) == (ip, request, "hl7")


def test_a_batch_meeting_a_control_id_stored_meanwhile_is_stored_one_at_a_time(monkeypatch):
    """Another listener (PostgreSQL) stored one of the control IDs while this batch was
    being stored: the batch rolls back and each message is stored on its own."""
    a, b = cbc(), cbc()
    messages = [
        lab.oru(a.accession, [("HGB", "13.2")], control_id="R1"),
        lab.oru(b.accession, [("HGB", "12.0")], control_id="R2"),
    ]
    sizes: list[int] = []
    store = services._store_batch

    def racing(batch):
        sizes.append(len(batch))
        if len(batch) > 1:
            raise IntegrityError("duplicate key value (another listener's insert)")
        return store(batch)

    monkeypatch.setattr(services, "_store_batch", racing)
    outcomes = services.analyzer_messages_store(messages)

    assert [(o.ack, o.results) for o in outcomes] == [("AA", 1), ("AA", 1)]
    assert sizes == [2, 1, 1]
    assert sorted(InboundMessage.objects.values_list("control_id", flat=True)) == ["R1", "R2"]
    assert verify(use_checkpoint_dir=False).findings == []


# -- the listener's store thread ---------------------------------------------------------


def test_one_bad_message_in_a_batch_does_not_fail_the_others(tmp_path):
    batches: list[list[str]] = []

    def store(messages):
        batches.append([m.control_id for m in messages])
        if any(m.control_id == "BAD" for m in messages):
            raise RuntimeError("a bug in one message's path")
        return [Outcome(ack="AA", text="stored") for _ in messages]

    spool = Spool(tmp_path / "spool")
    listener = Listener("127.0.0.1", 0, spool=spool, store=store)
    names = ["M1", "BAD", "M2"]
    outcomes = listener._deliver([lab.oru("2600000018", [], control_id=n) for n in names])

    assert [o.ack for o in outcomes] == ["AA", "AE", "AA"]
    assert batches == [names, ["M1"], ["BAD"], ["M2"]]  # the batch, then each alone
    (kept,) = spool.rejected()  # only the culprit, with why
    assert "could not be stored: RuntimeError" in kept.with_name(kept.name + ".txt").read_text()


def test_a_batch_meeting_an_unavailable_database_is_spooled_in_order(tmp_path):
    def store(messages):
        raise OperationalError("database is locked")

    spool = Spool(tmp_path / "spool")
    listener = Listener("127.0.0.1", 0, spool=spool, store=store)
    names = ["S1", "S2", "S3"]
    outcomes = listener._deliver([lab.oru("2600000018", [], control_id=n) for n in names])

    assert [o.ack for o in outcomes] == ["AA", "AA", "AA"]
    assert [spool.read(p).raw.split("|")[9] for p in spool.pending()] == names


def test_an_analyzer_that_never_reads_its_acknowledgements_is_disconnected(caplog):
    """The store thread sends without waiting: a full receive buffer on the analyzer's
    side costs that analyzer its connection, not every other analyzer their answers."""
    ours, analyzer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    with ours, analyzer:
        for _ in range(10_000):  # the analyzer reads none of them
            listener_module._send(ours, "10.20.0.9", b"x" * 1000)
            if "does not read" in caplog.text:
                break
        assert "10.20.0.9 does not read its acknowledgements: disconnected" in caplog.text
        with pytest.raises(BrokenPipeError):  # shut down for writing
            ours.send(b"more")


def test_every_read_of_a_batch_goes_by_an_index_that_narrows_it_to_the_batch():
    """The batch's reads must cost the same in a laboratory's tenth year as on its
    first day: none may read a whole table, and results are read only through their
    items (nearly every result in the hospital shares one status once authorised).
    SQLite's plans here are the plans of a big database: Django never runs ANALYZE,
    so SQLite plans without statistics whatever the tables hold."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics; a tiny test table is scanned")
    earlier = cbc()
    patient = earlier.order.patient
    services.analyzer_message_store(lab.oru(earlier.accession, [("HGB", "13.0")], control_id="H1"))
    services.results_verify(actor=lab.technician(), sample=earlier.accession)
    services.results_authorise(actor=lab.pathologist(), sample=earlier.accession)
    (now,) = lab.received(lab.walk_in(["CBC"], patient=patient))
    messages = [lab.oru(now.accession, [("HGB", "13.4")], control_id="N1"), *mixed_messages()]
    outcomes, plans = sqlite_plans(lambda: services.analyzer_messages_store(messages))
    assert outcomes[0].ack == "AA"
    assert Result.objects.get(message__control_id="N1").previous_value == "13.0"
    assert any("lab_result" in sql and "authorised" in sql for sql in plans)  # delta check
    assert unnarrowed(plans) == []
    # Every read of results goes through their items (the sample's, the patient's).
    assert through_other_indexes(plans, "lab_result", "item_id") == []


def test_the_same_control_id_from_another_analyzer_or_facility_is_another_message():
    """HL7's control ids are unique per sender: the duplicate check reads by the whole
    key (application, facility, control id)."""
    first, second, third = cbc(), cbc(), cbc()
    stored = services.analyzer_messages_store(
        [
            lab.oru(first.accession, [("HGB", "13.2")], control_id="C1"),
            lab.oru(second.accession, [("HGB", "12.2")], control_id="C1", facility="LAB2"),
        ]
    )
    assert [o.duplicate for o in stored] == [False, False]
    again = services.analyzer_messages_store(
        [
            lab.oru(third.accession, [("HGB", "11.2")], control_id="C1", app="AU480"),
            lab.oru(first.accession, [("HGB", "13.2")], control_id="C1"),
            lab.oru(third.accession, [("HGB", "11.2")], control_id="C2", facility="LAB2"),
        ]
    )
    assert [o.duplicate for o in again] == [False, True, False]
    assert InboundMessage.objects.filter(control_id="C1").count() == 3
