"""Appending to the ledger's two chains: changes, and patient-record accesses.

Every service that writes calls `record` inside its own transaction, so the entry and
the change commit or roll back together. Appends take the chain's lock (a PostgreSQL
advisory lock; SQLite's IMMEDIATE transactions already serialise writers), read the
head, and insert the next entry: sequence numbers are gapless and strictly ordered.

What an entry's hash covers: `SHA-256(previous hash ‖ header ‖ 0x1E ‖ payload)`, where
the header is the entry's searchable columns as text joined by 0x1F (see `header`)
and the payload the canonical JSON of the rest (states, reason, user agent, channel).
So editing any column, or the payload, breaks the chain, and verification hashes
what the database holds without parsing JSON.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from ajeya.core import clock, context
from ajeya.core.bulk import insert_rows, update_rows
from ajeya.ledger import registry
from ajeya.ledger.canonical import canonical_bytes, state_hash
from ajeya.ledger.models import AccessEntry, AccessKind, ChainedEntry, LedgerAction, LedgerEntry

GENESIS_HASH = "0" * 64
REASON_REQUIRED = frozenset({LedgerAction.UPDATE, LedgerAction.DELETE, LedgerAction.CANCEL})
FIELD_SEP, PART_SEP = "\x1f", b"\x1e"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # UTC, always six fractional digits


@dataclass(frozen=True)
class Chain:
    model: type[ChainedEntry]
    lock_key: int  # PostgreSQL advisory lock key: any fixed 64-bit number per chain
    columns: tuple[str, ...]  # the header, in order: hashed as the database stores them
    payload_fields: tuple[str, ...]


_COMMON = ("seq", "recorded_at", "actor_id", "actor_username", "actor_role", "ip", "request_id")
CHANGES = Chain(
    LedgerEntry,
    0x414A455941,
    (*_COMMON, "action", "subject_type", "subject_id", "state_hash"),
    ("before", "after", "reason", "user_agent", "channel"),
)
ACCESSES = Chain(
    AccessEntry, 0x414A455942, (*_COMMON, "patient_uhid", "what"), ("user_agent", "channel")
)
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
    # The hash of `after`, when the caller has just computed it as the row's seal (the
    # sealing helpers below): not computed a second time.
    state_hash: str = ""
    # Where the change came from, when it is not the context bound now: a batch of
    # analyzer messages from several connections, each message with its own peer.
    request_context: context.RequestContext | None = None


# Callables that may refuse a write before its entry is appended: guard(change) raises an
# ApplicationError to refuse. Apps register theirs in AppConfig.ready() (the lockdown
# does), so a refusal holds for pages, the CLI and the worker alike; the ledger knows
# none of them. A bulk append asks once per subject type, not once per row.
WriteGuard = Callable[[Change], None]
_write_guards: list[WriteGuard] = []


def add_write_guard(guard: WriteGuard) -> None:
    """Register a write guard; registering the same one twice is a no-op."""
    if guard not in _write_guards:
        _write_guards.append(guard)


def _ask(change: Change) -> None:
    for guard in _write_guards:
        guard(change)


def _guarded(changes: Iterable[Change]) -> Iterator[Change]:
    asked: set[str] = set()
    for change in changes:
        if change.subject_type not in asked:
            _ask(change)
            asked.add(change.subject_type)
        yield change


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


def time_text(value: dt.datetime) -> str:
    """TIME_FORMAT, by isoformat (a third of strftime's cost, in every ledger write)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def header(values: Sequence[Any]) -> str:
    """The columns as text: integers in decimal, no value as empty, times as TIME_FORMAT."""
    parts = []
    for value in values:
        if value is None:
            parts.append("")
        elif isinstance(value, dt.datetime):
            parts.append(time_text(value))
        else:
            parts.append(str(value))
    return FIELD_SEP.join(parts)


def digest(prev_hash: str, header_text: str, payload: bytes) -> str:
    return hashlib.sha256(
        prev_hash.encode("ascii") + header_text.encode("utf-8") + PART_SEP + payload
    ).hexdigest()


def entry_digest(chain: Chain, entry: ChainedEntry) -> str:
    """Recompute an entry's hash from its fields (tests and the slow path)."""
    values = [getattr(entry, name) for name in chain.columns]
    return digest(entry.prev_hash, header(values), entry.payload.encode("utf-8"))


def _actor_fields(actor: Any) -> dict:
    return {
        "actor_id": getattr(actor, "pk", None),
        "actor_username": getattr(actor, "username", "") or "",
        "actor_role": getattr(actor, "role", "") or "",
    }


def _context_fields(ctx: context.RequestContext | None = None) -> dict:
    ctx = ctx or context.current()
    return {
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "channel": ctx.channel,
    }


def _lock(chain: Chain) -> tuple[int, str]:
    """Take the chain's write lock for this transaction; return its head (seq, hash)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger appends must run inside the change's transaction")
    table = chain.model._meta.db_table
    # Plain SQL: this runs inside every write, and the ORM's query building would cost
    # more than the index lookup itself.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Lock and head in one round trip (migration ledger.0003).
            cursor.execute(
                "SELECT seq, hash FROM ajeya_chain_head(%s, %s)", [chain.lock_key, table]
            )
        else:
            cursor.execute(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")  # noqa: S608
        head = cursor.fetchone()
    return (head[0], head[1]) if head else (0, GENESIS_HASH)


def _rows(chain: Chain, entries: Iterable[dict]) -> Iterator[dict]:
    """Number, hash and chain the entries; yield table rows. Takes the chain's lock."""
    seq, prev = _lock(chain)
    store_time_as_text = connection.vendor == "sqlite"
    given = when = text = None  # a bulk append's entries share one time: converted once
    for entry in entries:
        seq += 1
        entry["seq"] = seq
        if entry["recorded_at"] is not given:
            given = entry["recorded_at"]
            when = given.astimezone(dt.UTC)
            text = time_text(when)
        entry["recorded_at"] = when
        row = {name: entry[name] for name in chain.columns}
        # The time as the header hashes it; SQLite keeps that exact text (six digits).
        row["recorded_at"] = text
        head = header([row[name] for name in chain.columns])
        payload = canonical_bytes({name: entry[name] for name in chain.payload_fields})
        row["hash"] = digest(prev, head, payload)
        row.update(payload=payload.decode("utf-8"), prev_hash=prev)
        if not store_time_as_text:
            row["recorded_at"] = when
        prev = row["hash"]
        yield row


def _change_entry(change: Change, when: dt.datetime) -> dict:
    if change.action in REASON_REQUIRED and not (change.reason or "").strip():
        raise ValueError(f"a reason is required to record {change.action}")
    return {
        "recorded_at": when,
        **_actor_fields(change.actor),
        **_context_fields(change.request_context),
        "action": str(change.action),
        "subject_type": change.subject_type,
        "subject_id": str(change.subject_id),
        "before": change.before,
        "after": change.after,
        "state_hash": (
            (change.state_hash or state_hash(change.after)) if change.after is not None else ""
        ),
        "reason": change.reason or "",
    }


def _insert(chain: Chain, rows: Iterable[dict]) -> int:
    return insert_rows(chain.model, rows, passthrough=frozenset({"recorded_at"}))


def record(change: Change) -> int | None:
    """Append one change; returns its sequence number. Must run in the same transaction
    as the change it records."""
    if not _recording:
        return None
    _ask(change)
    rows = list(_rows(CHANGES, [_change_entry(change, clock.now())]))
    _insert(CHANGES, rows)
    return rows[0]["seq"]


def record_many(changes: Iterable[Change]) -> int:
    """Append many changes at once (seeding, back-entry): the same chain, bulk inserts."""
    if not _recording:
        return 0
    # Every guard is asked before the append starts: a guard may read the database (the
    # lockdown's does), and on PostgreSQL the append is a COPY that holds the connection
    # until its last row, so a guard asked mid-COPY waited for it forever.
    changes = list(_guarded(changes))
    when = clock.now()
    entries = (_change_entry(c, when) for c in changes)
    return _insert(CHANGES, _rows(CHANGES, entries))


def patients_accessed(*, actor: Any, uhids: Iterable[str], what: AccessKind) -> int:
    """Record that `actor` saw these patients' identifiable data; returns entries written.

    Called by every page and export that shows a patient, in its own transaction.
    """
    base = {"recorded_at": clock.now(), **_actor_fields(actor), **_context_fields()}
    entries = [{**base, "patient_uhid": u, "what": str(what)} for u in dict.fromkeys(uhids)]
    if not entries:
        return 0
    with transaction.atomic():
        return _insert(ACCESSES, _rows(ACCESSES, entries))


def sealed_change(
    instance: Any,
    *,
    action: LedgerAction,
    before: dict | None,
    after: dict,
    reason: str = "",
    actor: Any = None,
    request_context: context.RequestContext | None = None,
    model: Any = None,
) -> Change:
    """The change of a row just sealed (`instance.seal` is the hash of `after`), to be
    recorded. `model` names the row's model when `instance` is a plain row."""
    ledgered = registry.for_model(model or type(instance))
    return Change(
        action=action,
        subject_type=ledgered.subject_type,
        subject_id=ledgered.subject_id(instance),
        before=before,
        after=after,
        reason=reason,
        actor=actor,
        state_hash=instance.seal,
        request_context=request_context,
    )


def create_sealed(instance: Any, *, actor: Any, reason: str = "") -> dict:
    """Insert a ledgered row, seal it and record its creation; returns its state.

    For rows whose state includes their database id: the id exists only after the
    insert, so the seal is a second write in the same transaction.
    """
    instance.save(force_insert=True)
    after = registry.seal(instance)
    type(instance)._base_manager.filter(pk=instance.pk).update(seal=instance.seal)
    record(
        sealed_change(
            instance,
            action=LedgerAction.CREATE,
            before=None,
            after=after,
            reason=reason,
            actor=actor,
        )
    )
    return after


def save_sealed(
    instance: Any,
    *,
    actor: Any,
    before: dict,
    reason: str = "",
    action: LedgerAction = LedgerAction.UPDATE,
) -> dict:
    """Save a changed ledgered row with its new seal and record before and after.

    `before` is `registry.state_of(row)` taken before the change, under the row lock.
    """
    change = saved_change(instance, actor=actor, before=before, reason=reason, action=action)
    record(change)
    return change.after


def saved_change(
    instance: Any,
    *,
    actor: Any,
    before: dict,
    reason: str = "",
    action: LedgerAction = LedgerAction.UPDATE,
    request_context: context.RequestContext | None = None,
) -> Change:
    """`save_sealed`'s save, its change returned to be recorded with others (in order,
    by one bulk append)."""
    after = registry.seal(instance)
    instance.save()
    return sealed_change(
        instance,
        action=action,
        before=before,
        after=after,
        reason=reason,
        actor=actor,
        request_context=request_context,
    )


def _seal_and_record_many(
    instances: list[Any],
    *,
    action: LedgerAction,
    fields: list[str],
    befores: list[dict | None],
    actor: Any,
    reason: str,
) -> list[dict]:
    """Seal rows already in the table, write `fields` and their seals in one UPDATE, and
    record one entry each in one ledger append."""
    afters = [registry.seal(instance) for instance in instances]
    update_rows(type(instances[0]), instances, [*fields, "seal"])
    record_many(
        sealed_change(
            instance, action=action, before=before, after=after, reason=reason, actor=actor
        )
        for instance, before, after in zip(instances, befores, afters, strict=True)
    )
    return afters


def create_sealed_many(instances: list[Any], *, actor: Any, reason: str = "") -> list[dict]:
    """Insert many rows of one ledgered model, seal them and record each creation: one
    INSERT, one seal UPDATE and one ledger append for the lot (analyzer results, an
    order's pending tests) instead of three statements per row."""
    if not instances:
        return []
    type(instances[0])._base_manager.bulk_create(instances)
    return _seal_and_record_many(
        instances, action=LedgerAction.CREATE, fields=[], befores=[None] * len(instances),
        actor=actor, reason=reason,
    )  # fmt: skip


def save_sealed_many(
    instances: list[Any], *, actor: Any, befores: list[dict], fields: list[str], reason: str
) -> list[dict]:
    """Save changed rows of one ledgered model with their new seals and record each
    update (before and after): one UPDATE statement and one ledger append for the lot
    (a bill's lines) instead of two statements per row. `fields` are the columns that
    changed; `befores` the rows' states taken under their locks before the change."""
    if not instances:
        return []
    return _seal_and_record_many(
        instances, action=LedgerAction.UPDATE, fields=fields, befores=befores, actor=actor,
        reason=reason,
    )  # fmt: skip
