"""Appending to the ledger. Every service that writes calls `record` in its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from ajeya.core import clock, context
from ajeya.core.bulk import insert_rows
from ajeya.ledger.canonical import canonical_bytes, sha256_hex, state_hash
from ajeya.ledger.models import LedgerAction, LedgerEntry

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that orders appends.
_CHAIN_LOCK_KEY = 0x414A455941  # "AJEYA"


@dataclass
class Change:
    """What a service hands the ledger; who and where come from the request context."""

    action: LedgerAction
    subject_type: str
    subject_id: str
    after: dict | None
    before: dict | None = None
    reason: str = ""
    actor: Any = None


# The fields the hash covers, in this order of meaning (canonical form sorts them).
HASHED_FIELDS = (
    "seq",
    "recorded_at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "subject_type",
    "subject_id",
    "before",
    "after",
    "state_hash",
    "reason",
    "ip",
    "user_agent",
    "request_id",
    "channel",
)


def entry_payload(entry: LedgerEntry) -> dict:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def payload_hash(prev_hash: str, payload: dict) -> str:
    return sha256_hex(prev_hash.encode("ascii") + canonical_bytes(payload))


def chain_hash(prev_hash: str, entry: LedgerEntry) -> str:
    return payload_hash(prev_hash, entry_payload(entry))


def _lock_chain() -> tuple[int, str]:
    """Take the chain's write lock for this transaction; return the head (seq, hash)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: the IMMEDIATE transaction already holds the database's single write lock.
    head = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, GENESIS_HASH)


def _build(change: Change, seq: int, prev_hash: str, when) -> dict:
    """The entry as a row (column attname -> value), its hash computed."""
    ctx = context.current()
    actor = change.actor
    row = {
        "seq": seq,
        "recorded_at": when,
        "actor_id": getattr(actor, "pk", None),
        "actor_username": getattr(actor, "username", "") or "",
        "actor_role": getattr(actor, "role", "") or "",
        "action": str(change.action),
        "subject_type": change.subject_type,
        "subject_id": str(change.subject_id),
        "before": change.before,
        "after": change.after,
        "state_hash": state_hash(change.after) if change.after is not None else "",
        "reason": change.reason,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "channel": ctx.channel,
        "prev_hash": prev_hash,
    }
    row["hash"] = payload_hash(prev_hash, {name: row[name] for name in HASHED_FIELDS})
    return row


def record(change: Change) -> LedgerEntry:
    """Append one entry. Must run in the same transaction as the change it records."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.record() must run inside the change's transaction")
    seq, prev = _lock_chain()
    entry = LedgerEntry(**_build(change, seq + 1, prev, clock.now()))
    entry.save(force_insert=True)
    return entry


def record_many(changes: Iterable[Change], *, batch_size: int = 5000) -> int:
    """Append many entries in one go (seeding, back-entry): the same chain, bulk inserts."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.record_many() must run inside the changes' transaction")
    seq, prev = _lock_chain()
    when = clock.now()

    def rows():
        nonlocal seq, prev
        for change in changes:
            seq += 1
            row = _build(change, seq, prev, when)
            prev = row["hash"]
            yield row

    return insert_rows(LedgerEntry, rows(), batch_size=batch_size)
