"""Fast multi-row inserts for seeding and back-entry, without building model objects.

Django's bulk_create prepares every value through the full field machinery, which
is most of the cost at 100,000 rows. Here each column gets one adapter chosen once
(the database backend's own adapters for dates, times and JSON), and rows go to the
driver's executemany in one statement shape.
"""

from __future__ import annotations

import datetime as dt
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
    that write their ledger entries themselves. PostgreSQL gets COPY, SQLite
    executemany inside the caller's transaction.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields: Sequence[models.Field] = [by_attname[name] for name in first]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    use_copy = connection.vendor == "postgresql"
    adapters = [
        (lambda v: v) if f.attname in passthrough else _adapter(f, copy=use_copy) for f in fields
    ]
    names = [f.attname for f in fields]

    def values(row: dict[str, Any]) -> tuple:
        return tuple(adapt(row[name]) for adapt, name in zip(adapters, names, strict=True))

    all_rows = itertools.chain([first], iterator)
    written = 0
    with connection.cursor() as cursor:
        if use_copy:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in all_rows:
                    copy.write_row(values(row))
                    written += 1
            return written
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - names come from the model, values are parameters
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


def update_rows(model: type[models.Model], instances: Sequence[models.Model], fields) -> int:
    """Write `fields` of many rows by primary key: one statement shape, executemany.

    Django's bulk_update builds a CASE expression per row and column, which costs
    milliseconds of Python for a dozen rows; services that update a sample's results on
    every analyzer message use this instead. Values go through each field's own
    preparation (decimals, times, foreign keys), as save() would send them. No save(),
    no signals: the callers are services that write their ledger entries themselves.
    """
    if not instances:
        return 0
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 (names from the model)
        quote(meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in columns),
        quote(pk.column),
    )
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
        + [pk.get_db_prep_save(obj.pk, connection)]
        for obj in instances
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)
