"""Appending to the ledger's two chains: changes, and patient-record accesses.

Every service that writes calls `record` inside its own transaction, so the entry and
the change commit or roll back together. Appends take the chain's lock (a PostgreSQL
advisory lock; SQLite's IMMEDIATE transactions already serialise writers), read the
head, and insert the next entry: sequence numbers are gapless and strictly ordered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from ajeya.core import clock, context
from ajeya.core.bulk import insert_rows
from ajeya.ledger.canonical import canonical_bytes, sha256_hex, state_hash
from ajeya.ledger.models import AccessEntry, AccessKind, ChainedEntry, LedgerAction, LedgerEntry

GENESIS_HASH = "0" * 64
REASON_REQUIRED = frozenset({LedgerAction.UPDATE, LedgerAction.DELETE, LedgerAction.CANCEL})


@dataclass(frozen=True)
class Chain:
    model: type[ChainedEntry]
    lock_key: int  # PostgreSQL advisory lock key: any fixed 64-bit number per chain
    columns: tuple[str, ...]  # payload fields repeated as columns, for search


COMMON_COLUMNS = ("recorded_at", "actor_id", "actor_username", "actor_role", "ip", "request_id")
CHANGES = Chain(
    LedgerEntry,
    0x414A455941,
    (*COMMON_COLUMNS, "action", "subject_type", "subject_id", "state_hash"),
)
ACCESSES = Chain(AccessEntry, 0x414A455942, (*COMMON_COLUMNS, "patient_uhid", "what"))
CHAINS = (CHANGES, ACCESSES)


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


_recording = True


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """Benchmarks only: measure a service with the ledger write switched off."""
    global _recording
    _recording = False
    try:
        yield
    finally:
        _recording = True


def _actor_fields(actor: Any) -> dict:
    return {
        "actor_id": getattr(actor, "pk", None),
        "actor_username": getattr(actor, "username", "") or "",
        "actor_role": getattr(actor, "role", "") or "",
    }


def _context_fields() -> dict:
    ctx = context.current()
    return {
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "channel": ctx.channel,
    }


def payload_hash(prev_hash: str, payload: bytes) -> str:
    return sha256_hex(prev_hash.encode("ascii") + payload)


def _lock(chain: Chain) -> tuple[int, str]:
    """Take the chain's write lock for this transaction; return its head (seq, hash)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger appends must run inside the change's transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [chain.lock_key])
    head = chain.model.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, GENESIS_HASH)


def _rows(chain: Chain, payloads: Iterable[dict]) -> Iterator[dict]:
    """Number, hash and chain the payloads; yield table rows. Caller holds the lock."""
    seq, prev = _lock(chain)
    for payload in payloads:
        seq += 1
        payload["seq"] = seq
        data = canonical_bytes(payload)
        digest = payload_hash(prev, data)
        row = {name: payload[name] for name in chain.columns}
        row.update(seq=seq, payload=data.decode("utf-8"), prev_hash=prev, hash=digest)
        prev = digest
        yield row


def _change_payload(change: Change, when) -> dict:
    if change.action in REASON_REQUIRED and not (change.reason or "").strip():
        raise ValueError(f"a reason is required to record {change.action}")
    return {
        "recorded_at": when,
        **_actor_fields(change.actor),
        **_context_fields(),
        "action": str(change.action),
        "subject_type": change.subject_type,
        "subject_id": str(change.subject_id),
        "before": change.before,
        "after": change.after,
        "state_hash": state_hash(change.after) if change.after is not None else "",
        "reason": change.reason or "",
    }


def record(change: Change) -> LedgerEntry | None:
    """Append one change. Must run in the same transaction as the change it records."""
    if not _recording:
        return None
    (row,) = _rows(CHANGES, [_change_payload(change, clock.now())])
    entry = LedgerEntry(**row)
    entry.save(force_insert=True)
    return entry


def record_many(changes: Iterable[Change]) -> int:
    """Append many changes at once (seeding, back-entry): the same chain, bulk inserts."""
    when = clock.now()
    return insert_rows(LedgerEntry, _rows(CHANGES, (_change_payload(c, when) for c in changes)))


def patients_accessed(*, actor: Any, uhids: Iterable[str], what: AccessKind) -> int:
    """Record that `actor` saw these patients' identifiable data; returns entries written.

    Called by every page and export that shows a patient, in its own transaction.
    """
    base = {"recorded_at": clock.now(), **_actor_fields(actor), **_context_fields()}
    payloads = [{**base, "patient_uhid": u, "what": str(what)} for u in dict.fromkeys(uhids)]
    if not payloads:
        return 0
    with transaction.atomic():
        return insert_rows(AccessEntry, _rows(ACCESSES, payloads))
