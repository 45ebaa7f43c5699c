"""The listener's database work in a process of its own (ADR 0014).

`ajeya lab listen` receives, frames, reads and acknowledges in its own process and
hands each batch of read messages to a child process that stores them
(`analyzer_messages_store`) and answers their outcomes. One Python process runs one
thread at a time, and storing was three quarters of a message's time: in two
processes the reading and the sockets get the second core.

The child is `python -m ajeya.lab.store_process FD DATABASE TARGET` (the socket's
descriptor, the database name the listener has open, the batch store to run): the
same interpreter, settings and environment as the listener, talking over a socket pair with
`multiprocessing.connection` (length-prefixed pickles), one batch at a time. It keeps
no state of its own but the catalogue cache every process keeps: whatever it has
stored is committed before it answers, so a child that dies costs nothing stored.
The listener then treats the batch as it treats a database that does not answer: the
messages go to the outage spool, acknowledged, and are replayed (a message the child
had committed before it died is answered as before, since its control id is known).
The next batch starts a new child.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from ajeya.core import context  # no Django set-up needed: the child imports this first

log = logging.getLogger("ajeya.lab.store_process")

TARGET = "ajeya.lab.services:analyzer_messages_store"
START_SECONDS = 120.0  # for a child to set Django up and say it is ready
# For a batch's answer: SQLite gives up on a lock after 20 s; a batch still running
# after this is stuck (a lock never released), and is spooled rather than waited for.
ANSWER_SECONDS = 120.0
PG_TIMEOUTS = (("lock_timeout", "60s"), ("statement_timeout", "90s"))
STOP_SECONDS = 10.0
READY = "ready"


class StoreUnavailable(Exception):
    """The store process did not answer (it could not start, or it died, or its
    database is unavailable): the listener spools the messages and retries."""


class StoreCrashed(StoreUnavailable):
    """The store process died or stopped answering while it stored a batch: perhaps the
    database, perhaps the batch itself (the replay sets aside a message that does this
    every time it is stored)."""


class StoreFailed(Exception):
    """The store process stored nothing of a batch, for a reason other than the
    database (the listener retries its messages one at a time)."""


class StoreProcess:
    """A BatchStore (`ajeya.lab.spool.BatchStore`) that runs `analyzer_messages_store`
    in a child process; one caller at a time (the listener's writer lock)."""

    def __init__(
        self,
        database_name: str | None = None,
        *,
        target: str = TARGET,
        answer_seconds: float = ANSWER_SECONDS,
        stop_seconds: float = STOP_SECONDS,
    ) -> None:
        # The database the child opens: by default the one this process has open (a
        # test's test database).
        self.database_name = database_name
        self.target = target  # "module:function", the batch store the child runs
        self.answer_seconds = answer_seconds
        self.stop_seconds = stop_seconds
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # children started, the first included

    def __call__(self, messages: list) -> list:
        for message in messages:  # the caller's context does not cross the process
            if message.context is None:
                message.context = context.current()
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send(messages)
                if not conn.poll(self.answer_seconds):
                    self._end(kill=True)
                    raise StoreCrashed(
                        f"the store process did not answer in {self.answer_seconds:g} s: "
                        "stopped, and a new one starts for the next batch"
                    )
                kind, value = conn.recv()
            except (EOFError, OSError):
                code = self._end()
                raise StoreCrashed(
                    f"the store process ended (exit code {code}) before answering"
                ) from None
        if kind == "ok":
            return value
        if kind == "unavailable":
            raise StoreUnavailable(value)
        raise StoreFailed(value)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        with self._lock:
            self._ensure_started()

    def stop(self) -> None:
        """End the child, and start no other. A batch still being stored after
        `stop_seconds` is cut off (killed: its transaction never commits), and its caller
        gets StoreUnavailable, so the listener spools it for the next start."""
        self._closed = True
        if not self._lock.acquire(timeout=self.stop_seconds):
            process = self._process
            if process is not None:
                process.kill()  # the caller waiting on it sees the pipe close at once
            self._lock.acquire()
        try:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
            self._end()
        finally:
            self._lock.release()

    def _ensure_started(self) -> Connection:
        if self._conn is not None and self._process is not None:
            if self._process.poll() is None:
                return self._conn
            self._end()
        if self._closed:
            raise StoreUnavailable("the listener is stopping")
        from django.db import connection

        name = self.database_name or str(connection.settings_dict["NAME"])
        try:
            ours, theirs = socket.socketpair()
        except OSError as exc:  # out of file descriptors, say: not the batch's fault
            raise StoreUnavailable(f"the store process could not start: {exc}") from None
        try:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
                [
                    sys.executable,
                    "-m",
                    "ajeya.lab.store_process",
                    str(theirs.fileno()),
                    name,
                    self.target,
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise StoreUnavailable(f"the store process could not start: {exc}") from None
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        self._process, self._conn = process, conn
        self.started += 1
        try:
            said = conn.recv() if conn.poll(START_SECONDS) else None
        except (EOFError, OSError):
            said = None
        if said != READY:
            code = self._end()
            raise StoreUnavailable(f"the store process did not start (exit code {code})")
        log.info("HL7 listener: store process %d started", process.pid)
        return conn

    def _end(self, *, kill: bool = False) -> int | None:
        """Close the pipe and reap the child (killed if it does not end, or at once with
        `kill`: a transaction it had open is rolled back); its exit code."""
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if kill:
            process.kill()
        try:
            return process.wait(self.stop_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


# -- the child -------------------------------------------------------------------------


def serve(conn: Connection, store) -> None:
    """Answer batches until the listener sends None or goes away."""
    from ajeya.lab.spool import close_connection, database_unavailable

    conn.send(READY)
    while True:
        try:
            messages = conn.recv()
        except (EOFError, OSError):
            return
        if messages is None:
            return
        try:
            answer = ("ok", store(messages))
        except Exception as exc:
            if database_unavailable(exc):
                close_connection()
                answer = ("unavailable", f"{type(exc).__name__}: {exc}")
            else:
                log.exception("HL7 store process: a batch of %d failed", len(messages))
                answer = ("failed", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(answer)
        except OSError:  # the listener is gone: what was stored is committed
            return


def main(argv: list[str]) -> int:
    fd, database_name, target = int(argv[0]), argv[1], argv[2]
    # The listener decides when this process ends (it sends None, or its end of the
    # pipe closes): Ctrl+C or a service manager's SIGTERM reaches the whole process
    # group, and a batch cut off here would only be stored again from the spool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajeya.config.settings")
    import django

    django.setup()
    from django.db import connection

    connection.settings_dict["NAME"] = database_name
    if connection.vendor == "postgresql":
        # A batch stuck behind a lock fails in the database, well before the listener
        # gives up on this process (ANSWER_SECONDS): killing a client does not cancel
        # its backend's lock wait, which would go on holding the locks it has.
        options = connection.settings_dict.setdefault("OPTIONS", {})
        options["options"] = " ".join(
            [options.get("options", ""), *(f"-c {name}={value}" for name, value in PG_TIMEOUTS)]
        ).strip()
    conn = Connection(fd)
    module, _, function = target.partition(":")
    try:
        store = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        log.error("HL7 store process: no batch store %s (%s)", target, exc)
        conn.close()
        return 2
    try:
        serve(conn, store)
    finally:
        conn.close()
        connection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
