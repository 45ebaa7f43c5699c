"""The HL7 listener's outage spool, and the place where unreadable frames are kept.

While the database cannot be reached, each readable message is written to the spool
directory, durably (temporary file, fsync, rename, fsync of the directory), and only
then acknowledged; once a message is in the spool every later one goes there too, so
the order of arrival is kept. `replay` stores them strictly in that order when the
database answers again, deleting each file only after its store committed: a crash
between the commit and the delete replays a message whose control id the store has
already seen, which changes nothing.

`rejected/` keeps, with the reason beside it, every frame the listener could not read
(or had to refuse before storing): nothing an analyzer sends is thrown away.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from ajeya.core import clock, context
from ajeya.lab import hl7
from ajeya.lab.services import AckCode, AnalyzerMessage, Outcome
from ajeya.lab.store_process import StoreCrashed, StoreUnavailable

try:  # PostgreSQL's driver raises its own errors when Django did not wrap them
    import psycopg

    DRIVER_UNAVAILABLE: tuple[type[BaseException], ...] = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
except ImportError:  # pragma: no cover - psycopg is a dependency
    DRIVER_UNAVAILABLE = ()

log = logging.getLogger("ajeya.lab.spool")

SPOOL_NAME = re.compile(r"(\d{12})\.json\Z")
TEMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
REJECTED = "rejected"

Store = Callable[[AnalyzerMessage], Outcome]
BatchStore = Callable[[list[AnalyzerMessage]], list[Outcome]]


class SpoolBusy(Exception):
    """Another listener holds this spool directory."""


def database_unavailable(exc: BaseException) -> bool:
    """True for the errors of a database that is down, restarting or unreachable, or
    refusing writes in a lockdown (the message is then spooled and retried), False for
    every other failure."""
    from ajeya.core.errors import Locked

    unavailable = (OperationalError, InterfaceError, *DRIVER_UNAVAILABLE)
    if isinstance(exc, Locked | StoreUnavailable):  # a lockdown ends; a store process restarts
        return True
    return isinstance(exc, unavailable) or isinstance(exc.__cause__, unavailable)


def close_connection() -> None:
    """Drop this thread's (broken) database connection so the next use reconnects."""
    with contextlib.suppress(Exception):
        connection.close()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(directory: Path, name: str, data: bytes) -> Path:
    """Write `name` in `directory` so that after a power cut it is either whole or absent."""
    temp = directory / f"{TEMP_PREFIX}{name}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    final = directory / name
    os.rename(temp, final)
    _fsync_directory(directory)
    return final


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass(frozen=True)
class Spooled:
    path: Path
    raw: str
    peer: str
    received_at: str
    request_id: str


# A spooled message on which the store process died this many times is set
# aside: it would otherwise hold up every message behind it (ADR 0014).
CRASHES_BEFORE_SET_ASIDE = 3


@dataclass
class ReplayReport:
    stored: int = 0
    set_aside: int = 0
    unavailable: bool = False


class Spool:
    """One directory of messages waiting for the database, oldest first."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory or settings.AJEYA_HL7_SPOOL_DIR)
        self.rejected_dir = self.directory / REJECTED
        self.rejected_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._changed = threading.Condition()
        self._lock_fd: int | None = None
        self._crashes: dict[str, int] = {}  # spool file: store processes it has ended
        names = self._numbers()
        self._count = len(names)
        self._next = (max(names) + 1) if names else 1
        self._keep_interrupted_writes()

    # -- state -----------------------------------------------------------------------

    def _numbers(self) -> list[int]:
        return sorted(
            int(m.group(1)) for p in self.directory.iterdir() if (m := SPOOL_NAME.match(p.name))
        )

    def pending(self) -> list[Path]:
        """The waiting messages' files, in arrival order."""
        return [self.directory / f"{n:012d}.json" for n in self._numbers()]

    def __len__(self) -> int:
        with self._changed:
            return self._count

    def empty(self) -> bool:
        return len(self) == 0

    def wait_empty(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)

    def describe(self) -> str:
        count = len(self)
        if not count:
            return f"spool {self.directory}: empty"
        return (
            f"spool {self.directory}: {count} message(s) waiting, to be stored when the "
            "database answers"
        )

    def _keep_interrupted_writes(self) -> None:
        """A temporary file left by a crash was never acknowledged (the analyzer will
        send it again); keep it among the rejected frames rather than lose it."""
        for temp in self.directory.glob(f"{TEMP_PREFIX}*"):
            os.rename(temp, self.rejected_dir / f"{_stamp()}-interrupted-{temp.name[5:]}")
            log.warning("spool: kept an interrupted write %s in %s", temp.name, REJECTED)

    # -- one listener per directory --------------------------------------------------

    def acquire(self) -> None:
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusy(
                f"another listener is using the spool {self.directory}: run one "
                "`ajeya lab listen` per spool directory"
            ) from None
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the lock
            self._lock_fd = None

    # -- writing and removing --------------------------------------------------------

    def put(self, raw: str, *, peer: str = "", request_id: str = "") -> Path:
        """Keep a message for later, durably; returns once it is safe on disk."""
        record = {
            "raw": raw,
            "peer": peer,
            "request_id": request_id,
            "received_at": clock.now().isoformat(),
        }
        data = json.dumps(record, ensure_ascii=False).encode("utf-8")
        with self._changed:  # one writer at a time, so numbers are taken in file order
            number = self._next
            path = write_durably(self.directory, f"{number:012d}.json", data)
            self._next += 1
            self._count += 1
            self._changed.notify_all()
        return path

    def read(self, path: Path) -> Spooled:
        record = json.loads(path.read_bytes().decode("utf-8"))
        return Spooled(
            path=path,
            raw=record["raw"],
            peer=record.get("peer", ""),
            received_at=record.get("received_at", ""),
            request_id=record.get("request_id", ""),
        )

    def done(self, path: Path) -> None:
        """The message is stored: its file goes."""
        with self._changed:
            path.unlink(missing_ok=True)
            _fsync_directory(self.directory)
            self._gone(path)

    def crashed(self, path: Path) -> int:
        """Count a store process that died storing this file; the count so far."""
        with self._changed:
            self._crashes[path.name] = self._crashes.get(path.name, 0) + 1
            return self._crashes[path.name]

    def set_aside(self, path: Path, reason: str) -> Path:
        """A spooled message that cannot be stored moves to rejected/ with the reason."""
        with self._changed:
            target = self.rejected_dir / f"{_stamp()}-spooled-{path.name}"
            self._note(target, reason, "")
            os.rename(path, target)
            _fsync_directory(self.rejected_dir)
            _fsync_directory(self.directory)
            self._gone(path)
        return target

    def _gone(self, path: Path) -> None:
        """A spooled file left the spool (stored, or set aside); under `_changed`."""
        self._count = max(self._count - 1, 0)
        self._crashes.pop(path.name, None)
        self._changed.notify_all()

    def reject(self, data: bytes, *, reason: str, peer: str = "") -> Path:
        """Keep a frame the listener refused or could not read, and why."""
        name = f"{_stamp()}-{uuid.uuid4().hex[:8]}.hl7"
        self._note(self.rejected_dir / name, reason, peer, size=len(data))
        return write_durably(self.rejected_dir, name, data)

    def _note(self, target: Path, reason: str, peer: str, size: int | None = None) -> None:
        lines = [f"reason: {reason}", f"peer: {peer}", f"kept_at: {_stamp()}"]
        if size is not None:
            lines.append(f"bytes: {size}")
        write_durably(
            self.rejected_dir, target.name + ".txt", ("\n".join(lines) + "\n").encode("utf-8")
        )

    def rejected(self) -> list[Path]:
        return sorted(p for p in self.rejected_dir.iterdir() if not p.name.endswith(".txt"))


# -- replay ------------------------------------------------------------------------------


def hl7_context(peer: str, request_id: str, sender: str) -> context.RequestContext:
    """The ledger context of a message from an analyzer: its IP, on the "hl7" channel."""
    return context.RequestContext(
        ip=peer.split("%", 1)[0],  # an IPv6 zone id is not part of the address
        user_agent=f"HL7 {sender}"[:200],
        request_id=request_id or context.new_request_id(),
        channel="hl7",
    )


def replay(spool: Spool, store: Store, *, stop: threading.Event | None = None) -> ReplayReport:
    """Store the spooled messages oldest first, until the spool is empty, the database
    fails again (report.unavailable) or `stop` is set."""
    report = ReplayReport()
    while not (stop and stop.is_set()):
        batch = spool.pending()
        if not batch:
            break
        for path in batch:
            if stop and stop.is_set():
                break
            _replay_one(spool, path, store, report)
            if report.unavailable:
                return report
    return report


def _replay_one(spool: Spool, path: Path, store: Store, report: ReplayReport) -> None:
    try:
        item = spool.read(path)
        message = hl7.read_oru(item.raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        spool.set_aside(path, f"unreadable spool file: {exc}")
        report.set_aside += 1
        log.error("spool: %s is unreadable (%s): set aside in %s", path.name, exc, REJECTED)
        return
    except hl7.HL7Error as exc:
        spool.set_aside(path, f"{exc.ack} {exc.error_code}: {exc.text}")
        report.set_aside += 1
        return
    message.spooled = True
    if item.received_at:  # the time it reached the listener, not the time of replay
        with contextlib.suppress(ValueError):
            message.received_at = dt.datetime.fromisoformat(item.received_at)
    try:
        with context.bind(hl7_context(item.peer, item.request_id, message.sending_application)):
            outcome = store(message)
    except Exception as exc:
        if isinstance(exc, StoreCrashed) and spool.crashed(path) >= CRASHES_BEFORE_SET_ASIDE:
            log.error(
                "spool: the store process died %d times storing %s (%s %s); set aside",
                CRASHES_BEFORE_SET_ASIDE,
                path.name,
                message.sending_application,
                message.control_id,
            )
            spool.set_aside(
                path, f"the store process died {CRASHES_BEFORE_SET_ASIDE} times storing it: {exc}"
            )
            report.set_aside += 1
            return
        if database_unavailable(exc):
            close_connection()
            report.unavailable = True
            return
        log.exception("spool: %s could not be stored; set aside", path.name)
        spool.set_aside(path, f"could not be stored: {type(exc).__name__}: {exc}")
        report.set_aside += 1
        return
    spool.done(path)
    report.stored += 1
    level = logging.INFO if outcome.ack == AckCode.ACCEPT else logging.WARNING
    log.log(
        level,
        "spool: stored %s %s from %s: %s %s",
        message.sending_application,
        message.control_id,
        item.peer,
        outcome.ack,
        outcome.text,
    )
