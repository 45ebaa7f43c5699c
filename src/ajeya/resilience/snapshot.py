"""A consistent copy of the database taken while the hospital keeps working.

SQLite: the online backup API copies every page inside one read transaction (WAL lets
writers go on meanwhile). PostgreSQL: `pg_dump` in directory format (ADR 0009), reading
a snapshot exported from a REPEATABLE READ transaction in which the chain heads and the
identifier counters are read too, so the manifest describes exactly what the dump holds.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from ajeya.core.errors import ApplicationError
from ajeya.ledger.models import AccessEntry, LedgerEntry
from ajeya.ledger.services import GENESIS_HASH, time_text


class SnapshotError(ApplicationError):
    code = "snapshot"


@dataclass
class Snapshot:
    engine: str
    files: list[tuple[str, Path]]  # (name inside the backup, local file)
    heads: dict[str, dict]
    sequences: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict)


HEAD_SQL = "SELECT seq, hash, recorded_at FROM {table} ORDER BY seq DESC LIMIT 1"
CHAINS = {"changes": LedgerEntry._meta.db_table, "accesses": AccessEntry._meta.db_table}


def _time_text(value) -> str:
    return value if isinstance(value, str) else time_text(value)


def _heads_and_sequences(cursor) -> tuple[dict[str, dict], dict[str, int]]:
    heads = {}
    for name, table in CHAINS.items():
        cursor.execute(HEAD_SQL.format(table=table))
        row = cursor.fetchone()
        heads[name] = (
            {"seq": row[0], "hash": row[1], "time": _time_text(row[2])}
            if row
            else {"seq": 0, "hash": GENESIS_HASH, "time": ""}
        )
    cursor.execute("SELECT name, next_value FROM core_identifiersequence ORDER BY name")
    return heads, {name: value for name, value in cursor.fetchall()}


def counted_tables() -> list[str]:
    """Tables whose row counts a drill compares: every ledgered table and both chains."""
    from ajeya.ledger import registry

    tables = {entry.model._meta.db_table for entry in registry.REGISTRY.values()}
    return sorted(tables | set(CHAINS.values()))


def table_counts(cursor) -> dict[str, int]:
    counts = {}
    for table in counted_tables():
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - our own table names
        counts[table] = cursor.fetchone()[0]
    return counts


def take(staging: Path) -> Snapshot:
    staging.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        return _sqlite(staging)
    return _postgresql(staging)


def _sqlite(staging: Path) -> Snapshot:
    source_path = settings.DATABASES["default"]["NAME"]
    copy = staging / "ajeya.sqlite3"
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        cursor = target.cursor()
        heads, sequences = _heads_and_sequences(cursor)
        counts = table_counts(cursor)
    finally:
        target.close()
        source.close()
    return Snapshot("sqlite", [("ajeya.sqlite3", copy)], heads, sequences, counts)


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore / psql: AJEYA_PG_BIN_DIR, else the newest installed, else PATH."""
    if settings.AJEYA_PG_BIN_DIR:
        path = Path(settings.AJEYA_PG_BIN_DIR) / name
        if not path.exists():
            raise SnapshotError(f"AJEYA_PG_BIN_DIR has no {name}")
        return str(path)
    installed = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if installed:
        return installed[-1]
    found = shutil.which(name)
    if not found:
        raise SnapshotError(f"{name} is not installed: set AJEYA_PG_BIN_DIR")
    return found


def pg_env(db: dict | None = None) -> dict[str, str]:
    db = db or settings.DATABASES["default"]
    env = dict(os.environ)
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    return env


def pg_connect():
    """A psycopg connection (autocommit) to the configured database, outside Django's."""
    import psycopg

    env = pg_env()
    return psycopg.connect(
        host=env.get("PGHOST"), port=env.get("PGPORT"), user=env.get("PGUSER"),
        password=env.get("PGPASSWORD"), dbname=env.get("PGDATABASE"), autocommit=True,
    )  # fmt: skip


def _postgresql(staging: Path) -> Snapshot:
    out = staging / "pgdump"
    env = pg_env()
    with pg_connect() as conn, conn.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot_id = cursor.fetchone()[0]
        heads, sequences = _heads_and_sequences(cursor)
        counts = table_counts(cursor)
        result = subprocess.run(  # noqa: S603 - fixed tool, our arguments
            [
                pg_tool("pg_dump"),
                "--format=directory",
                "--jobs=2",
                "--compress=0",  # zstd does it, once, on every object
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot_id}",
                f"--file={out}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        cursor.execute("COMMIT")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise SnapshotError(f"pg_dump failed: {last}")
    files = sorted((f"pgdump/{p.name}", p) for p in out.iterdir() if p.is_file())
    return Snapshot("postgresql", files, heads, sequences, counts)
