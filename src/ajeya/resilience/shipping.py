"""Continuous ledger shipping: every few seconds, the entries committed since the last
shipment (both chains) go to every target as one sealed, signed segment.

Entries hold each record's state after the change (ARCHITECTURE §3), so a snapshot plus
the segments after it rebuild the database to within one shipping interval. A segment
is read in one consistent snapshot of the database, together with the identifier
counters and — for the few tables whose ledger state leaves columns out (password
hashes, two-factor secrets) — the rows those entries touched, so a restore that ends at
a segment issues no UHID or receipt number twice and leaves no gap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from django.conf import settings
from django.db import close_old_connections, connection, transaction

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.ledger import checkpoints, registry
from ajeya.ledger.canonical import canonical_json
from ajeya.ledger.services import ACCESSES, CHANGES, Chain, time_text
from ajeya.resilience import keys, layout, sealing, signing, targets
from ajeya.resilience.backup import store_document
from ajeya.resilience.models import ShipState

log = logging.getLogger(__name__)
MAX_ENTRIES = 20_000  # per chain per segment; a backlog ships as several segments
COLUMNS = {
    "changes": (*CHANGES.columns, "payload", "prev_hash", "hash"),
    "accesses": (*ACCESSES.columns, "payload", "prev_hash", "hash"),
}
CHAIN_OF = {"changes": CHANGES, "accesses": ACCESSES}


@functools.cache  # the registry is complete once the apps are ready
def lossy_types() -> dict[str, registry.Ledgered]:
    """Ledgered tables whose state leaves out or transforms columns (beyond decimals)."""
    found = {}
    for subject_type, entry in registry.REGISTRY.items():
        concrete = [f for f in entry.model._meta.concrete_fields if f.attname != "seal"]
        decimals = {f.attname for f in concrete if f.get_internal_type() == "DecimalField"}
        if set(entry.fields) != {f.attname for f in concrete} or set(entry.transforms) - decimals:
            found[subject_type] = entry
    return found


@contextlib.contextmanager
def consistent_read() -> Iterator[None]:
    """One snapshot for every read inside (SQLite: one transaction; PostgreSQL:
    REPEATABLE READ)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _entries(chain: Chain, name: str, after: int) -> list[list]:
    columns = COLUMNS[name]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {chain.model._meta.db_table} "  # noqa: S608
            "WHERE seq > %s ORDER BY seq LIMIT %s",
            [after, MAX_ENTRIES + 1],  # one more than shipped: is there a backlog?
        )
        rows = [list(row) for row in cursor.fetchall()]
    at = columns.index("recorded_at")
    for row in rows:
        if isinstance(row[at], dt.datetime):
            # SQLite's driver hands back the stored UTC text as a naive datetime.
            value = row[at] if row[at].tzinfo else row[at].replace(tzinfo=dt.UTC)
            row[at] = time_text(value)
    return rows


def _images(rows: list[list]) -> dict[str, list[dict]]:
    """Full rows of the lossy tables the changes touched, as they stand in this read."""
    lossy = lossy_types()
    kind_at = COLUMNS["changes"].index("subject_type")
    id_at = COLUMNS["changes"].index("subject_id")
    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row[kind_at] in lossy:
            wanted.setdefault(row[kind_at], set()).add(row[id_at])
    images = {}
    for subject_type, ids in wanted.items():
        entry = lossy[subject_type]
        names = [f.attname for f in entry.model._meta.concrete_fields]
        found = entry.model._base_manager.filter(**{f"{entry.subject_attname}__in": ids})
        images[subject_type] = [canonical_json(values) for values in found.values(*names)]
    return images


def _sequences() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, next_value FROM core_identifiersequence ORDER BY name")
        return dict(cursor.fetchall())


@dataclass
class Segment:
    changes: list[list]
    accesses: list[list]
    sequences: dict[str, int] | None
    images: dict[str, list[dict]]
    documents: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.accesses or self.documents)


def read_segment(state: ShipState) -> Segment:
    with consistent_read():
        changes = _entries(CHANGES, "changes", state.changes_seq)
        accesses = _entries(ACCESSES, "accesses", state.accesses_seq)
        complete = len(changes) <= MAX_ENTRIES and len(accesses) <= MAX_ENTRIES
        changes, accesses = changes[:MAX_ENTRIES], accesses[:MAX_ENTRIES]
        return Segment(changes, accesses, _sequences() if complete else None, _images(changes))


def _range(rows: list[list], name: str, after: int) -> dict:
    columns = COLUMNS[name]
    if not rows:
        return {"after": after, "first": None, "last": after, "count": 0}
    return {
        "after": after,
        "first": rows[0][0],
        "last": rows[-1][0],
        "count": len(rows),
        "prev_hash": rows[0][columns.index("prev_hash")],
        "last_hash": rows[-1][columns.index("hash")],
        "last_time": rows[-1][columns.index("recorded_at")],
    }


class _DocumentIndex:
    """Which documents each target already has (listed once per process)."""

    def __init__(self) -> None:
        self.known: dict[str, set[str]] = {}
        self.lock = threading.Lock()

    def missing(self, target) -> list[tuple[str, str, object]]:
        with self.lock:
            if target.name not in self.known:
                self.known[target.name] = set(target.list("documents/"))
            have = self.known[target.name]
        return [
            (store, name, path)
            for store, name, path in layout.document_files()
            if layout.document_key(store, name) not in have
        ]

    def add(self, target, key: str) -> None:
        with self.lock:
            self.known.setdefault(target.name, set()).add(key)


DOCUMENTS = _DocumentIndex()


def ship_to(target, *, recipient=None, signer=None) -> ShipState:
    """Ship what `target` lacks; returns its state. Raises on a target failure."""
    recipient = recipient or keys.recipient()
    signer = signer or checkpoints.load_private_key()
    state, _ = ShipState.objects.get_or_create(target=target.name)
    while True:
        segment = read_segment(state)
        stored = []
        for store, name, path in DOCUMENTS.missing(target):
            key = layout.document_key(store, name)
            if target.exists(key):  # a backup stored it first; its manifest lists it
                stored.append(key)
                continue
            segment.documents.append(store_document(target, store, name, path, recipient))
            stored.append(key)
        if not segment.empty:
            _put_segment(target, state, segment, recipient, signer)
        for key in stored:  # known only once the segment naming them is stored
            DOCUMENTS.add(target, key)
        if segment.empty:
            return state
        if segment.sequences is not None:
            return state


def _put_segment(target, state: ShipState, segment: Segment, recipient, signer) -> None:
    changes = _range(segment.changes, "changes", state.changes_seq)
    accesses = _range(segment.accesses, "accesses", state.accesses_seq)
    now = clock.now()
    stem = layout.segment_stem(changes["last"], accesses["last"])
    payload = orjson.dumps(
        {
            "columns": {name: list(cols) for name, cols in COLUMNS.items()},
            "changes": segment.changes,
            "accesses": segment.accesses,
            "sequences": segment.sequences,
            "images": segment.images,
        }
    )
    blob, sealed = sealing.seal_bytes(payload, recipient)
    meta = {
        "format": layout.SEGMENT_FORMAT,
        "hospital": {"code": settings.AJEYA_HOSPITAL_CODE},
        "shipped_at": now.isoformat(),
        "changes": changes,
        "accesses": accesses,
        "consistent": segment.sequences is not None,
        "object": {"key": f"{stem}.age", **sealed.as_dict()},
        "documents": segment.documents,
    }
    target.put_bytes(f"{stem}.age", blob)
    target.put_bytes(f"{stem}.json", signing.sign(meta, signer))
    state.changes_seq, state.accesses_seq = changes["last"], accesses["last"]
    state.shipped_at, state.last_error = now, ""
    state.save()


def ship_all() -> dict[str, str]:
    """One round to every configured target: {target: "ok" or the error}."""
    outcome = {}
    if not settings.AJEYA_BACKUP_TARGETS:
        return outcome
    recipient = keys.recipient()
    signer = checkpoints.load_private_key()
    for target in targets.configured():
        try:
            ship_to(target.open(), recipient=recipient, signer=signer)
            outcome[target.name] = "ok"
        except Exception as exc:  # one failing target must not stop the others
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            ShipState.objects.update_or_create(
                target=target.name, defaults={"last_error": message[:2000]}
            )
            log.warning("ledger shipping to %s failed: %s", target.name, message)
            outcome[target.name] = message
    return outcome


class Shipper(threading.Thread):
    """The worker's shipping loop: `ship_all` every AJEYA_SHIP_SECONDS."""

    def __init__(self, interval: float | None = None) -> None:
        super().__init__(name="ajeya-ledger-shipper", daemon=True)
        self.interval = interval or settings.AJEYA_SHIP_SECONDS
        self.stopping = threading.Event()

    def run(self) -> None:
        # Rounds start at a fixed rate (not "interval after the last one ended"), so an
        # entry waits at most one interval plus one round's work before it is shipped.
        while not self.stopping.is_set():
            started = time.monotonic()
            close_old_connections()
            try:
                ship_all()
            except ApplicationError as exc:  # no key yet, no targets: say so, keep trying
                log.warning("ledger shipping paused: %s", exc.message)
            except Exception:
                log.exception("ledger shipping round failed")
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))
        close_old_connections()

    def stop(self) -> None:
        self.stopping.set()
