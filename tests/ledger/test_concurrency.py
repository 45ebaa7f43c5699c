"""Appends from many threads at once on PostgreSQL stay one strict, gapless chain."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from ajeya.ledger import services as ledger
from ajeya.ledger import verification
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerAction, LedgerEntry
from tests.conftest import run_concurrently

THREADS = 8
EACH = 25


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_form_one_gapless_chain(clerk):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time by design")

    def writer(n: int) -> None:
        for i in range(EACH):
            with transaction.atomic():
                ledger.record(
                    ledger.Change(
                        action=LedgerAction.CREATE,
                        subject_type="test.thread",
                        subject_id=f"{n}-{i}",
                        after={"n": n, "i": i},
                        actor=clerk,
                    )
                )
            ledger.patients_accessed(
                actor=clerk, uhids=[f"{n:02d}{i:010d}"], what=AccessKind.VIEWED
            )

    assert run_concurrently(writer, THREADS) == []
    total = THREADS * EACH
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, total + 2))
    assert AccessEntry.objects.count() == total
    report = verification.Report()
    for chain in ledger.CHAINS:
        verification.check_chain(chain, report)
    assert report.findings == []
