"""Names on a backup target, and what gets backed up from the server's disk.

snapshots/<backup id>/manifest.json      signed; written last (its presence = complete)
snapshots/<backup id>/db/<file>.age      the database copy (one object per file)
snapshots/<backup id>/server/<file>.age  signing key, checkpoints, backup public key
documents/<store>/<file>.age             content-addressed documents (shared)
ledger/<segment>.json                    signed description of one shipped segment
ledger/<segment>.age                     its entries
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import orjson
from django.conf import settings

from ajeya.core import clock

MANIFEST_FORMAT = "ajeya-backup/1"
SEGMENT_FORMAT = "ajeya-ledger-segment/1"
STAMP = "%Y%m%dT%H%M%S%fZ"  # backup ids and segment names: UTC, sorts as time does
# Where `segment_stem` writes: the last entry of each chain, then the shipping time.
SEGMENT_NAME = re.compile(r"^ledger/c(\d{12})-a(\d{12})-(\w+)\.json$")

Progress = Callable[[str, int, int | None], None]  # (step, done, total or None)


def quiet(step: str, done: int, total: int | None) -> None:
    """The progress callback when nobody watches."""


def new_backup_id() -> str:
    return clock.now().strftime(STAMP)


def stamp_time(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, STAMP).replace(tzinfo=dt.UTC)


def manifest_key(backup_id: str) -> str:
    return f"snapshots/{backup_id}/manifest.json"


def segment_stem(changes_last: int, accesses_last: int) -> str:
    return f"ledger/c{changes_last:012d}-a{accesses_last:012d}-{clock.now():{STAMP}}"


def document_stores() -> dict[str, Path]:
    """Directories of files that are written once and named by their content."""
    return {"reports-archive": Path(settings.AJEYA_REPORTS_ARCHIVE_DIR)}


def document_files() -> list[tuple[str, str, Path]]:
    """(store, file name, path) of every document on this server."""
    found = []
    for store, directory in document_stores().items():
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                found.append((store, entry.name, entry))
    return found


def document_key(store: str, name: str) -> str:
    return f"documents/{store}/{name}.age"


def _checkpoint_within(path: Path, heads: dict | None) -> bool:
    """A checkpoint signed after the snapshot would claim entries the backup lacks."""
    if heads is None:
        return True
    try:
        doc = orjson.loads(path.read_bytes())
        return all(int(doc[n]["seq"]) <= heads[n]["seq"] for n in ("changes", "accesses"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OSError):
        return False  # unreadable: `ajeya verify` on the server names it


def server_files(heads: dict | None = None) -> list[tuple[str, Path]]:
    """Files a restored server needs besides the database: the ledger's signing key (so
    it keeps signing checkpoints that verify with the key auditors already hold), the
    signed checkpoints, and the backup public key. Names relative to their settings."""
    files = [(name, path) for name, path in _key_files().items() if path.is_file()]
    checkpoints = Path(settings.AJEYA_CHECKPOINT_DIR)
    if checkpoints.is_dir():
        files.extend(
            (f"checkpoints/{p.name}", p)
            for p in sorted(checkpoints.glob("checkpoint-*.json"))
            if p.is_file() and _checkpoint_within(p, heads)
        )
    return files


def _key_files() -> dict[str, Path]:
    return {
        "ledger-signing.key": Path(settings.AJEYA_LEDGER_SIGNING_KEY),
        "ledger-signing.pub": Path(settings.AJEYA_LEDGER_PUBLIC_KEY),
        "backup.pub": Path(settings.AJEYA_BACKUP_PUBLIC_KEY),
    }


def server_file_destination(name: str) -> Path:
    if name.startswith("checkpoints/"):
        return Path(settings.AJEYA_CHECKPOINT_DIR) / name.split("/", 1)[1]
    return _key_files()[name]
