"""`ajeya drill`: prove the backups restore, every day, and say how long it took.

The drill runs `ajeya restore` in a child process pointed at a scratch place (a
directory under the staging area, and for PostgreSQL a scratch database beside the
live one), then compares what came back with the live system: for every ledgered table
and both chains, the restored row count must equal the live count minus the rows the
live ledger says were added (less those deleted) after the restored point. The outcome
is kept (DrillRun) for the admin dashboard and the scratch place is removed.

The drill needs the private backup key, which the server does not hold: run it where
the key may be (a recovery machine that mounts the targets and reaches the database),
or point AJEYA_DRILL_KEY at it for the worker's daily run (docs/recovery.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.ledger import registry
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.ledger.services import TIME_FORMAT
from ajeya.resilience import snapshot, targets
from ajeya.resilience.backup import staging_dir
from ajeya.resilience.models import DrillRun
from ajeya.resilience.shipping import consistent_read


class DrillError(ApplicationError):
    code = "drill"


def _scratch_database(work: Path) -> tuple[str, str]:
    """(DATABASE_URL for the child, PostgreSQL scratch database name or "")."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{work / 'var' / 'ajeya.sqlite3'}", ""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_drill"[:63]
    env = snapshot.pg_env(db)
    with snapshot.pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    user = env.get("PGUSER", "")
    auth = f"{user}:{env['PGPASSWORD']}@" if env.get("PGPASSWORD") else f"{user}@"
    host = env.get("PGHOST") or "localhost"
    port = f":{env['PGPORT']}" if env.get("PGPORT") else ""
    return f"postgres://{auth}{host}{port}/{name}", name


def _drop_scratch_database(name: str) -> None:
    if not name:
        return
    with snapshot.pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def expected_counts(heads: dict[str, int]) -> dict[str, int]:
    """What each table held when the live ledger stood at `heads`, read from the live
    database in one snapshot: today's rows less those the ledger added since."""
    with consistent_read():
        with connection.cursor() as cursor:
            live = snapshot.table_counts(cursor)
        later = (
            LedgerEntry.objects.filter(seq__gt=heads["changes"])
            .values("subject_type", "action")
            .annotate(n=Count("seq"))
        )
        net: dict[str, int] = {}
        for row in later:
            entry = registry.REGISTRY.get(row["subject_type"])
            if entry is None:
                continue
            table = entry.model._meta.db_table
            sign = {LedgerAction.CREATE: 1, LedgerAction.DELETE: -1}.get(row["action"], 0)
            net[table] = net.get(table, 0) + sign * row["n"]
    expected = {table: count - net.get(table, 0) for table, count in live.items()}
    expected[snapshot.CHAINS["changes"]] = heads["changes"]
    expected[snapshot.CHAINS["accesses"]] = heads["accesses"]
    return expected


def drill(key_path: Path, target_name: str | None = None, *, trigger: str = "cli") -> DrillRun:
    chosen = targets.configured(target_name)[0]
    started = clock.now()
    work = staging_dir("drill")
    (work / "var").mkdir()
    run = DrillRun(target=chosen.name, started_at=started, finished_at=started, ok=False,
                   trigger=trigger)  # fmt: skip
    scratch_db = ""
    try:
        url, scratch_db = _scratch_database(work)
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
        env.update(
            AJEYA_VAR_DIR=str(work / "var"),
            DATABASE_URL=url,
            AJEYA_STAGING_DIR=str(work / "staging"),
            AJEYA_CHECKPOINT_DIR=str(work / "var" / "checkpoints"),
            AJEYA_LEDGER_SIGNING_KEY=str(work / "var" / "keys" / "ledger-signing.key"),
            AJEYA_LEDGER_PUBLIC_KEY=str(work / "var" / "keys" / "ledger-signing.pub"),
            AJEYA_BACKUP_PUBLIC_KEY=str(work / "var" / "keys" / "backup.pub"),
            AJEYA_REPORTS_ARCHIVE_DIR=str(work / "var" / "reports-archive"),
            AJEYA_HL7_SPOOL_DIR=str(work / "var" / "lab-spool"),
        )
        result = subprocess.run(  # noqa: S603 - this program, our arguments
            [sys.executable, "-m", "ajeya", "restore", "--from", chosen.name,
             "--key", str(key_path), "--json"],
            env=env, capture_output=True, text=True, check=False, timeout=6 * 3600,
        )  # fmt: skip
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["the restore failed"]
            raise DrillError(lines[-1].removeprefix("ajeya: error: "))
        outcome = json.loads(result.stdout)
        expected = expected_counts(outcome["heads"])
        counts = {
            table: {"restored": outcome["counts"].get(table), "live": expected[table]}
            for table in sorted(expected)
        }
        wrong = [t for t, c in counts.items() if c["restored"] != c["live"]]
        run.backup_id = outcome["backup_id"]
        run.phases = outcome["phases"]
        run.seconds = outcome["seconds"]
        run.counts = counts
        run.data_age_seconds = outcome["data_age_seconds"]
        if outcome["restored_to"]:
            run.restored_to = dt.datetime.strptime(outcome["restored_to"], TIME_FORMAT).replace(
                tzinfo=dt.UTC
            )
        if wrong:
            run.message = "counts differ: " + ", ".join(
                f"{t} restored {counts[t]['restored']} expected {counts[t]['live']}"
                for t in wrong[:10]
            )
        else:
            run.ok = True
            run.message = (
                f"restored {outcome['heads']['changes']:,} ledger entries and "
                f"{len(counts)} tables; every count matches; ajeya verify clean"
            )
    except (ApplicationError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
        run.message = getattr(exc, "message", None) or str(exc)
    finally:
        run.finished_at = clock.now()
        run.save()
        _drop_scratch_database(scratch_db)
        shutil.rmtree(work, ignore_errors=True)
    return run
