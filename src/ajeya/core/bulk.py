"""Fast multi-row inserts for seeding and back-entry, without building model objects.

Django's bulk_create prepares every value through the full field machinery, which
is most of the cost at 100,000 rows. Here each column gets one adapter chosen once
(the database backend's own adapters for dates, times and JSON), and rows go to the
driver's executemany in one statement shape.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models


def _adapter(field: models.Field, *, copy: bool) -> Callable[[Any], Any]:
    ops = connection.ops
    if isinstance(field, models.JSONField) and copy:
        return lambda v: None if v is None else json.dumps(v, cls=field.encoder)
    if copy:
        return lambda v: v  # psycopg's COPY adapts dates, times and numbers itself
    if isinstance(field, models.JSONField):
        return lambda v: None if v is None else ops.adapt_json_value(v, field.encoder)
    if isinstance(field, models.DateTimeField):
        return lambda v: ops.adapt_datetimefield_value(v)
    if isinstance(field, models.DateField):
        return lambda v: ops.adapt_datefield_value(v) if isinstance(v, dt.date) else v
    return lambda v: v


@functools.lru_cache(maxsize=256)
def _insert_plan(
    model: type[models.Model],
    names: tuple[str, ...],
    passthrough: frozenset[str],
    copy: bool,
    vendor: str,
) -> tuple[str, Callable[[dict[str, Any]], tuple]]:
    """The statement and the row adapter for one shape of insert, made once per process:
    choosing the adapters costs more than a single row's insert (the ledger appends one
    row in every write)."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[name] for name in names]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    adapters = [
        (lambda v: v) if f.attname in passthrough else _adapter(f, copy=copy) for f in fields
    ]

    def values(row: dict[str, Any]) -> tuple:
        return tuple(adapt(row[name]) for adapt, name in zip(adapters, names, strict=True))

    if copy:
        return f"COPY {table} ({columns}) FROM STDIN", values
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values  # noqa: S608 - names come from the model, values are parameters


def insert_rows(
    model: type[models.Model],
    rows: Iterable[dict[str, Any]],
    *,
    batch_size: int = 5000,
    passthrough: frozenset[str] = frozenset(),
) -> int:
    """Insert dicts keyed by column attname (e.g. `registered_by_id`). Returns the count.

    Columns named in `passthrough` go to the driver exactly as given.

    Every row must have the same keys. No save(), no signals — callers are services
    that write their ledger entries themselves. PostgreSQL gets COPY (a single row a
    plain INSERT: one round trip where COPY takes two), SQLite executemany inside the
    caller's transaction.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    second = next(iterator, None)
    names = tuple(first)
    vendor = connection.vendor
    use_copy = vendor == "postgresql" and second is not None
    sql, values = _insert_plan(model, names, passthrough, use_copy, vendor)
    with connection.cursor() as cursor:
        if second is None:
            cursor.execute(sql, values(first))
            return 1
        all_rows = itertools.chain([first, second], iterator)
        written = 0
        if use_copy:
            # Through Django's wrapper, so a COPY counts in the query log as an INSERT does.
            with cursor.copy(sql) as copy:
                for row in all_rows:
                    copy.write_row(values(row))
                    written += 1
            return written
        batch: list[tuple] = []
        for row in all_rows:
            batch.append(values(row))
            if len(batch) >= batch_size:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def insert_returning_ids(model: type[models.Model], instances: Sequence[models.Model]) -> None:
    """Insert model objects, every column but the primary key, a few hundred rows to a
    statement, and set each one's new primary key from RETURNING (in the order given,
    as Django's own bulk_create relies on for SQLite and PostgreSQL). As `insert_rows`:
    adapters chosen once per model, no save(), no signals."""
    (head, one_row, tail), values = _returning_plan(model, connection.vendor)
    for start in range(0, len(instances), RETURNING_BATCH):
        chunk = instances[start : start + RETURNING_BATCH]
        params = [value for instance in chunk for value in values(instance)]
        rows = ", ".join([one_row] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(f"{head} {rows} {tail}", params)
            ids = [row[0] for row in cursor.fetchall()]
        for instance, pk in zip(chunk, ids, strict=True):
            instance.pk = pk
            instance._state.adding = False


RETURNING_BATCH = 500


@functools.lru_cache(maxsize=64)
def _returning_plan(model: type[models.Model], vendor: str):
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES".format(
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    readers = [(f.attname, _adapter(f, copy=False)) for f in fields]

    def values(instance: models.Model) -> list:
        return [adapt(getattr(instance, name)) for name, adapt in readers]

    return (head, one, f"RETURNING {quote(meta.pk.column)}"), values


@functools.lru_cache(maxsize=256)
def _update_plan(
    model: type[models.Model], names: tuple[str, ...], vendor: str
) -> tuple[str, Callable[[models.Model], list]]:
    """The statement and the row reader for one shape of update, made once per process
    (as `_insert_plan`): each column's adapter is chosen once, not prepared per value
    through the field (most of an analyzer batch's UPDATE was that preparation)."""
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    pk = meta.pk
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 (names from the model)
        quote(meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(pk.column),
    )
    readers = [(f.attname, _adapter(f, copy=False)) for f in fields]
    readers.append((pk.attname, _adapter(pk, copy=False)))

    def values(instance: models.Model) -> list:
        return [adapt(getattr(instance, name)) for name, adapt in readers]

    return sql, values


def update_rows(model: type[models.Model], instances: Sequence[models.Model], fields) -> int:
    """Write `fields` of many rows by primary key: one statement shape, executemany.

    Django's bulk_update builds a CASE expression per row and column, which costs
    milliseconds of Python for a dozen rows; services that update a sample's results on
    every analyzer message use this instead. Values are adapted as `insert_rows` adapts
    them (the backend's own adapters for dates, times and JSON). No save(), no signals:
    the callers are services that write their ledger entries themselves.
    """
    if not instances:
        return 0
    sql, values = _update_plan(model, tuple(fields), connection.vendor)
    rows = [values(obj) for obj in instances]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)
