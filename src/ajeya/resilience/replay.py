"""Replaying shipped ledger entries onto a restored snapshot.

Each change entry carries its record's state after the change, so replay writes that
state back (or deletes the row), seals it with the entry's state hash, and inserts the
entry itself unchanged (its hash chain is then checked by `ajeya verify` like any
other). Within a segment only each record's last state is written; foreign keys are
deferred to commit on both databases, so the order of rows inside a segment does not
matter. Columns the ledger state leaves out (password hashes, two-factor secrets) come
from the row images shipped with the segment, used only if they hash to the state the
last entry recorded.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from django.core.management.color import no_style
from django.db import connection, models, transaction

from ajeya.core.bulk import insert_rows
from ajeya.core.models import IdentifierSequence
from ajeya.ledger import registry
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import AccessEntry, LedgerEntry
from ajeya.ledger.services import TIME_FORMAT


@dataclass
class Replayed:
    changes: int = 0
    accesses: int = 0
    rows_written: int = 0
    rows_deleted: int = 0
    images_used: int = 0
    last_time: str = ""
    touched: set = field(default_factory=set)  # models whose id sequences need a reset


def _entry_rows(columns: list[str], rows: list[list], after: int) -> list[dict]:
    selected = [dict(zip(columns, row, strict=True)) for row in rows if row[0] > after]
    if connection.vendor != "sqlite":
        for row in selected:
            row["recorded_at"] = dt.datetime.strptime(row["recorded_at"], TIME_FORMAT).replace(
                tzinfo=dt.UTC
            )
    return selected


@functools.cache
def _fields(model: type[models.Model]) -> dict[str, models.Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


def _values(entry: registry.Ledgered, data: dict, names) -> dict:
    by_attname = _fields(entry.model)
    return {name: by_attname[name].to_python(data[name]) for name in names if name in data}


@functools.cache
def _restorable_fields(subject_type: str) -> tuple[str, ...]:
    """State fields whose value is the column's own (not a fingerprint of it)."""
    entry = registry.REGISTRY[subject_type]
    decimals = {
        name for name, f in _fields(entry.model).items() if isinstance(f, models.DecimalField)
    }
    return tuple(n for n in entry.fields if n not in entry.transforms or n in decimals)


def _apply(change: dict, result: Replayed) -> None:
    entry = registry.REGISTRY.get(change["subject_type"])
    if entry is None:
        return  # a subject type this version no longer keeps a table for
    model = entry.model
    rows = model._base_manager.filter(**{entry.subject_attname: change["subject_id"]})
    after = change["after"]
    result.touched.add(model)
    if after is None:
        result.rows_deleted += rows._raw_delete(rows.db)
        return
    values = _values(entry, after, _restorable_fields(change["subject_type"]))
    if entry.sealed:
        values["seal"] = change["state_hash"]
    if not rows.update(**values):
        model._base_manager.bulk_create([model(**values)])
    result.rows_written += 1


def _use_images(images: dict, last_hash: dict, result: Replayed) -> None:
    for subject_type, found in images.items():
        entry = registry.REGISTRY.get(subject_type)
        if entry is None:
            continue
        names = [f.attname for f in entry.model._meta.concrete_fields]
        for image in found:
            values = _values(entry, image, names)
            subject = str(values[entry.subject_attname])
            expected = last_hash.get((subject_type, subject))
            if expected is None or state_hash(entry.state(entry.model(**values))) != expected:
                continue  # not the state the ledger recorded last: leave the row as replayed
            entry.model._base_manager.filter(**{entry.subject_attname: subject}).update(**values)
            result.images_used += 1


class ChainBroken(ValueError):
    """A segment's entries do not continue the chain where the restore stands."""


def _continue(rows: list[dict], name: str, head: tuple[int, str], meta: dict,
              label: str) -> tuple[int, str]:  # fmt: skip
    """Check `rows` (already past the head) follow the head one by one and end where the
    signed description says; return the new head."""
    seq, digest = head
    for row in rows:
        if row["seq"] != seq + 1 or row["prev_hash"] != digest:
            raise ChainBroken(
                f"{label}: {name} entry #{row['seq']} does not continue the chain at #{seq} "
                "(forged, or from another history)"
            )
        seq, digest = row["seq"], row["hash"]
    if seq < meta["last"] or (
        meta["count"] and seq == meta["last"] and digest != meta["last_hash"]
    ):
        raise ChainBroken(
            f"{label}: holds {name} entries up to #{seq}, its description says #{meta['last']}"
        )
    return seq, digest


def apply_segment(payload: dict, *, heads: dict[str, tuple[int, str]], meta: dict,
                  label: str, result: Replayed) -> dict[str, tuple[int, str]]:  # fmt: skip
    """Apply one segment's entries past the heads, in order, in one transaction; return
    the new heads. Entries are applied one by one in sequence order, as they were
    committed, so the database's unique rules (one patient per bed, one open visit per
    clinic and day) hold at every step as they did on the live system."""
    columns = payload["columns"]
    changes = _entry_rows(columns["changes"], payload["changes"], heads["changes"][0])
    accesses = _entry_rows(columns["accesses"], payload["accesses"], heads["accesses"][0])
    new_heads = {
        "changes": _continue(changes, "changes", heads["changes"], meta["changes"], label),
        "accesses": _continue(accesses, "accesses", heads["accesses"], meta["accesses"], label),
    }
    last_hash: dict[tuple[str, str], str] = {}
    with transaction.atomic():
        insert_rows(LedgerEntry, changes, passthrough=frozenset({"recorded_at"}))
        insert_rows(AccessEntry, accesses, passthrough=frozenset({"recorded_at"}))
        for change in changes:
            change["after"] = LedgerEntry(payload=change["payload"]).after
            _apply(change, result)
            last_hash[(change["subject_type"], change["subject_id"])] = change["state_hash"]
        _use_images(payload.get("images") or {}, last_hash, result)
        for name, value in (payload.get("sequences") or {}).items():
            IdentifierSequence.objects.update_or_create(name=name, defaults={"next_value": value})
        by_type: dict[str, list[str]] = {}
        for subject_type, subject_id in last_hash:
            by_type.setdefault(subject_type, []).append(subject_id)
        for subject_type, ids in by_type.items():
            if subject_type in registry.REBUILDERS:
                registry.REBUILDERS[subject_type](ids)
    result.changes += len(changes)
    result.accesses += len(accesses)
    # The newest time applied, as the ledger's text (UTC, six fractional digits).
    for name, applied in (("changes", changes), ("accesses", accesses)):
        if applied:
            raw = payload[name][-1][columns[name].index("recorded_at")]
            result.last_time = max(result.last_time, str(raw))
    return new_heads


def reset_id_sequences(touched: set) -> None:
    """PostgreSQL: move each table's id sequence past the ids replay wrote."""
    if connection.vendor != "postgresql" or not touched:
        return
    statements = connection.ops.sequence_reset_sql(no_style(), sorted(touched, key=str))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
