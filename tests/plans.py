"""SQLite's query plans of what a piece of code reads, for tests that hold the reads of
growing tables to an index that narrows them. SQLite plans without statistics (Django
never runs ANALYZE), so the plans in an empty test database are the plans of a
hospital's tenth year."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

# The tables that grow with the hospital's work (the catalogue, wards and staff do not).
GROWING = (
    "lab_result",
    "lab_orderitem",
    "lab_sample",
    "lab_laborder",
    "lab_inboundmessage",
    "lab_report",
    "patients_patient",
    "ipd_admission",
    "ledger_ledgerentry",
)


def sqlite_plans(work: Callable[[], Any]) -> tuple[Any, dict[str, list[str]]]:
    """`work()`'s value, and SQLite's plan of each statement it made that reads rows
    (SELECT, WITH, UPDATE, DELETE), as Django logged it."""
    with CaptureQueriesContext(connection) as captured:
        value = work()
    plans = {}
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if sql.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "DELETE")):
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                plans[sql] = [_step(row[-1]) for row in cursor.fetchall()]
    return value, plans


def _step(text: str) -> str:
    """A plan step as SQLite 3.36 and later write it (before: `SCAN TABLE x`)."""
    for verb in ("SCAN", "SEARCH"):
        text = text.replace(f"{verb} TABLE ", f"{verb} ", 1)
    return text


def unnarrowed(plans: dict[str, list[str]]) -> list[str]:
    """The steps that read a growing table (or all of an index of one) from end to end:
    any SCAN of it, but one that a statement's `LIMIT 1` stops at its first row (the
    ledger's head, read down its sequence)."""
    return [
        f"{step} in: {sql}"
        for sql, plan in plans.items()
        for step in plan
        if step.startswith("SCAN")
        and step.split()[1] in {*GROWING, *_aliases(sql)}
        and not (" USING " in step and re.search(r"\bLIMIT 1\s*$", sql))
    ]


def through_other_indexes(plans: dict[str, list[str]], table: str, column: str) -> list[str]:
    """The steps that use an index of `table` whose first column is not `column` (nor
    its primary key or a unique one)."""
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA index_list({table})")
        names = [row[1] for row in cursor.fetchall() if not row[1].startswith("sqlite_auto")]
        others = []
        for name in names:
            cursor.execute(f"PRAGMA index_info({name})")
            if cursor.fetchone()[2] != column:
                others.append(name)
    return [
        f"{step} in: {sql}"
        for sql, plan in plans.items()
        for step in plan
        if any(f" INDEX {name} " in f"{step} " for name in others)
    ]


def _aliases(sql: str) -> set[str]:
    """Aliases the statement gives growing tables (`FROM "lab_result" r` or
    `… AS r` is `SCAN r`)."""
    words = [w for w in sql.replace('"', "").replace(",", " ").split() if w.upper() != "AS"]
    return {
        after
        for table, after in itertools.pairwise(words)
        if table in GROWING and after.isidentifier() and after.upper() not in _KEYWORDS
    }


_KEYWORDS = {"WHERE", "JOIN", "INNER", "LEFT", "ON", "CROSS", "ORDER", "GROUP", "LIMIT", "AS"}
