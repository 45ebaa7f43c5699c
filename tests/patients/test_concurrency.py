"""Many clerks registering at once on PostgreSQL: every UHID unique, none skipped."""

from __future__ import annotations

import pytest
from django.db import connection

from ajeya.core.identifiers import is_valid_uhid
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerEntry
from ajeya.patients import services
from ajeya.patients.models import Patient
from tests.conftest import run_concurrently
from tests.patients.factories import valid_details

THREADS = 8
EACH = 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_distinct_consecutive_uhids(clerk):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time by design")

    def clerk_at_a_counter(n: int) -> None:
        for i in range(EACH):
            services.patient_register(
                actor=clerk,
                **valid_details(name=f"Rush Patient {chr(65 + n)}{chr(65 + i)}", phone=""),
            )

    assert run_concurrently(clerk_at_a_counter, THREADS) == []
    uhids = list(Patient.objects.values_list("uhid", flat=True))
    assert len(uhids) == len(set(uhids)) == THREADS * EACH
    assert all(is_valid_uhid(u) for u in uhids)
    serials = sorted(int(u[3:11]) for u in uhids)
    assert serials == list(range(serials[0], serials[0] + THREADS * EACH))
    # The ledger took every registration in one strict order, chain unbroken.
    prev = ledger.GENESIS_HASH
    for entry in LedgerEntry.objects.order_by("seq"):
        assert entry.prev_hash == prev
        assert entry.hash == ledger.entry_digest(ledger.CHANGES, entry)
        prev = entry.hash
