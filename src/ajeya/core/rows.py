"""Rows read by hand-written SQL, with the values the ORM would have given.

For the few reads that run in every analyzer batch: the ORM compiles each queryset
anew (its ordering, joins and select list), which cost more than running the query,
and builds a model object per row. Here the statement is written once, and each
column goes through the converters Django itself would apply (the backend's and the
field's: SQLite's text times become aware datetimes, its decimals Decimals), chosen
once per column list. The rows come back as plain objects with the columns' attribute
names: what the ledger's state and `update_rows` read.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from django.db import connection, models

Column = tuple[type[models.Model], str]  # a model and one of its attnames


def _field(model: type[models.Model], attname: str) -> models.Field:
    for field in model._meta.concrete_fields:
        if field.attname == attname:
            return field
    raise LookupError(f"{model.__name__} has no column {attname!r}")


def table(model: type[models.Model], alias: str) -> str:
    """The model's table, quoted, with `alias`: for FROM and JOIN."""
    return f"{connection.ops.quote_name(model._meta.db_table)} {alias}"


def columns_sql(alias: str, model: type[models.Model], attnames: Sequence[str]) -> str:
    """`alias."column", …` for the attnames, in order (made once per column list: the
    batches' statements name thirty columns each time)."""
    return _columns_sql(alias, model, tuple(attnames), connection.vendor)


@functools.lru_cache(maxsize=128)
def _columns_sql(alias: str, model: type[models.Model], attnames: tuple, vendor: str) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(_field(model, name).column)}" for name in attnames)


@functools.lru_cache(maxsize=128)
def _converters(columns: tuple[Column, ...], vendor: str) -> tuple:
    """(position, column expression, converters) for each column that has any."""
    found = []
    for position, (model, attname) in enumerate(columns):
        field = _field(model, attname)
        expression = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(expression) + field.get_db_converters(
            connection
        )
        if converters:
            found.append((position, expression, tuple(converters)))
    return tuple(found)


def select(
    sql: str, params: Sequence[Any], columns: Sequence[Column], names: Sequence[str]
) -> list[SimpleNamespace]:
    """Run `sql` (its select list is `columns`, in order) and return each row as an
    object whose attributes are `names`, holding the values the ORM would give."""
    converters = _converters(tuple(columns), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        if converters:
            row = list(row)
            for position, expression, functions in converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        out.append(SimpleNamespace(**dict(zip(names, row, strict=True))))
    return out


def for_update(alias: str) -> str:
    """The row lock `locked()` takes, for a hand-written SELECT (none on SQLite, where
    the transaction's write lock serialises writers)."""
    if connection.vendor == "postgresql":
        return f" FOR NO KEY UPDATE OF {alias}"
    return ""


def marks(count: int) -> str:
    return ", ".join(["%s"] * count)
