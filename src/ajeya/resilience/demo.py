"""The demo hospital's recovery: a backup target beside var/, a backup key, a first
backup, shipping and a drill, so the dashboard shows a verified restore.

DEMO ONLY: the private backup key is written next to the server's data. A hospital
keeps it off the server (docs/recovery.md §1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from ajeya.resilience import backup, drill, keys, shipping


@dataclass
class DemoRecovery:
    target: str
    key_file: Path | None
    backup_ok: bool
    drill_ok: bool
    drill_message: str
    drill_seconds: float


def set_up(base: Path) -> DemoRecovery:
    """Configure a demo target and key if the installation has none; back up, ship and
    drill once. The settings go to this process's environment too, so the worker it
    starts ships to the same place."""
    if not settings.AJEYA_BACKUP_TARGETS:
        where = base / "demo-backups"
        where.mkdir(parents=True, exist_ok=True)
        os.environ["AJEYA_BACKUP_TARGETS"] = f"demo={where}"
        settings.AJEYA_BACKUP_TARGETS = {"demo": {"name": "demo", "where": str(where)}}
    key_dir = base / "demo-backup-key"
    key_file = next(iter(sorted(key_dir.glob("ajeya-backup-key-*.txt"))), None)
    if not Path(settings.AJEYA_BACKUP_PUBLIC_KEY).exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        for old in key_dir.glob("ajeya-backup-key-*.txt"):
            old.rename(old.with_suffix(".old"))
        key_file = keys.init(key_dir).private_path
    results = backup.backup(trigger="demo")
    shipping.ship_all()
    if key_file is None:
        return DemoRecovery(results[0].target, None, all(r.ok for r in results), False,
                            "no demo key file to drill with", 0.0)  # fmt: skip
    os.environ.setdefault("AJEYA_DRILL_KEY", str(key_file))
    run = drill.drill(key_file, trigger="demo")
    return DemoRecovery(
        results[0].target, key_file, all(r.ok for r in results), run.ok, run.message,
        run.seconds,
    )  # fmt: skip
