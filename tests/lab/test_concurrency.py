"""The laboratory's desks and analyzers at the same moment on PostgreSQL: accession
numbers stay unique and gapless, a sample is verified once, an analyzer's resent
message is stored once, and the receipt desk never deadlocks a cancellation."""

from __future__ import annotations

import pytest
from django.db import connection

from ajeya.core.errors import Conflict
from ajeya.lab import services
from ajeya.lab.models import (
    InboundMessage,
    ItemStatus,
    LabOrder,
    MessageStatus,
    OrderItem,
    Result,
    ResultStatus,
    Sample,
    SampleStatus,
)
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.verification import verify
from tests.conftest import run_concurrently
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time by design")


@pytest.fixture(autouse=True)
def _catalogue(monday_morning):
    lab.load_catalogue()


def _race(work, threads: int) -> tuple[list, list[BaseException]]:
    results: list = []
    errors = run_concurrently(lambda n: results.append(work(n)), threads)
    return results, errors


def _reasons() -> list[str]:
    return [e.reason for e in LedgerEntry.objects.filter(subject_type="lab.result")]


def clean() -> None:
    assert verify(use_checkpoint_dir=False).findings == []


def test_orders_placed_at_once_get_distinct_gapless_accession_numbers():
    desks = [lab.technician(f"tech-{n}") for n in range(8)]
    patients = [PatientFactory() for _ in range(8)]

    orders, errors = _race(
        lambda n: lab.walk_in(["CBC", "KFT"], patient=patients[n], actor=desks[n]), 8
    )

    assert errors == []
    assert len(orders) == 8
    accessions = list(Sample.objects.values_list("accession", flat=True))
    assert len(accessions) == len(set(accessions)) == 16
    assert sorted(int(a[2:9]) for a in accessions) == list(range(1, 17))
    numbers = sorted(int(n[3:]) for n in LabOrder.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 9))
    for order in orders:  # each order's two samples hold its own tests
        assert {s.container for s in order.samples.all()} == {"edta", "sst"}
        assert OrderItem.objects.filter(order=order).count() == 2
    clean()


def test_two_technicians_verifying_one_sample_at_once_verify_it_once():
    techs = [lab.technician(f"tech-{n}") for n in range(2)]
    [sample] = lab.received(lab.walk_in(["CBC"], actor=techs[0]))
    lab.enter(sample, {"HB": "13.5", "TLC": "8"}, actor=techs[0])

    verified, refused = _race(lambda n: services.results_verify(actor=techs[n], sample=sample), 2)

    assert len(verified) == 1
    [error] = refused
    assert isinstance(error, Conflict), error
    assert error.message == f"Sample {sample.accession} has no entered results to verify."
    winner = verified[0][0].verified_by
    rows = Result.objects.filter(item__sample=sample, status=ResultStatus.VERIFIED)
    assert {(r.test.code, r.verified_by_id) for r in rows} == {
        ("HB", winner.pk),
        ("TLC", winner.pk),
    }
    assert _reasons().count("verified by technician") == 2
    clean()


@pytest.mark.parametrize("known", [True, False], ids=["for-a-sample", "unmatched"])
def test_one_message_resent_from_four_connections_is_stored_once(known):
    [sample] = lab.received(lab.walk_in(["CBC"]))
    accession = sample.accession if known else services.make_accession(777, 2026)
    message = lab.oru(accession, [("HGB", "12.7"), ("WBC", "6.1")], control_id="XN-42")

    outcomes, errors = _race(lambda n: services.analyzer_message_store(message), 4)

    assert errors == []
    assert len({(o.ack, o.text, o.status) for o in outcomes}) == 1, outcomes
    assert [o.duplicate for o in outcomes].count(False) == 1
    [inbound] = InboundMessage.objects.all()
    assert inbound.status == (MessageStatus.APPLIED if known else MessageStatus.UNMATCHED)
    stored = _reasons().count("result from XN1000 message XN-42")
    assert stored == (2 if known else 0)
    if known:
        assert lab.results_of(sample)["HB"].value == "12.7"
    clean()


def test_a_cancellation_and_the_receipt_of_its_sample_at_once_never_deadlock():
    """Both lock the sample first: one waits for the other, and the loser hears why."""
    nurse_desk = lab.technician("tech-counter")
    reception = lab.technician("tech-reception")
    order = lab.walk_in(["FBS"], actor=nurse_desk)
    [item] = order.items.all()
    sample = order.samples.get()
    services.sample_collect(actor=nurse_desk, sample=sample)
    work = [
        lambda: services.item_cancel(actor=nurse_desk, item=item, reason="patient had eaten"),
        lambda: services.sample_receive(actor=reception, accession=sample.accession),
    ]

    done, refused = _race(lambda n: work[n](), 2)

    assert len(done) == 1
    [error] = refused
    assert isinstance(error, Conflict), error
    sample.refresh_from_db()
    item.refresh_from_db()
    if sample.status == SampleStatus.RECEIVED:
        assert item.status == ItemStatus.ORDERED
        assert "is already in the lab" in error.message
    else:
        assert (sample.status, item.status) == (SampleStatus.CANCELLED, ItemStatus.CANCELLED)
        assert error.message == f"Sample {sample.accession} was cancelled."
    clean()
