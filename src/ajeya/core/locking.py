"""Row locks, taken one way everywhere.

Two rules keep concurrent writers on PostgreSQL free of deadlocks:
1. Lock with FOR NO KEY UPDATE OF the row itself (`locked()`): a plain FOR UPDATE, or
   one that spreads to select_related rows, conflicts with the FOR KEY SHARE lock
   PostgreSQL takes at commit to check a new row's deferred foreign keys (a new visit
   checks its clinic and patient), while NO KEY UPDATE does not.
2. Take every row lock (and every identifier from `core.identifiers.allocate`) before
   the transaction's first ledger entry: the ledger's append lock is held to commit,
   so it must be the last lock a transaction waits for.
"""

from __future__ import annotations

from django.db.models import QuerySet


def locked(queryset: QuerySet) -> QuerySet:
    return queryset.select_for_update(no_key=True, of=("self",))
