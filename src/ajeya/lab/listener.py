"""The laboratory's HL7 listener: analyzers connect over TCP and send ORU^R01 result
messages framed in MLLP (0x0B … 0x1C 0x0D); each is read, stored and acknowledged on
the same connection. A thread per connection receives; the store threads read, store
(in batches: `analyzer_messages_store`) and acknowledge, so the interpreter is not
handed between threads for every message (ADR 0013). `ajeya lab listen` gives them a
store that runs in a process of its own (`ajeya.lab.store_process`, ADR 0014): the
storing then has a core, and the reading and the sockets the other. There are two
store threads (ADR 0015): while one batch is in the store, the other thread reads the
frames arriving and hands them over as the next batch the moment the store is free;
batches are stored, and acknowledged, in the order they were taken.

Nothing an analyzer sends is thrown away: a stored message becomes an InboundMessage
whatever its fate; a frame that cannot be read, is refused or is cut off is kept in
the spool's `rejected/` directory with the reason; while the database is unavailable
messages go to the outage spool (`ajeya.lab.spool`) and are stored, in order, when
it answers again.

The MLLP framing is Ajeya's own rather than python-hl7's `hl7.mllp`: that reader is
asyncio-only, raises on bytes before a start block instead of skipping them, and on a
message over its size limit clears its buffer, so the rest of the frame, and with it
the control id the acknowledgement must carry, is lost. `Framer` below drains an
oversize frame to its end block while holding only its first kilobyte (enough for
MSH), answers it AR with its control id, and carries on with the next frame.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import select
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

from ajeya.core import context
from ajeya.lab import hl7
from ajeya.lab.services import AckCode, AnalyzerMessage, Outcome, analyzer_messages_store
from ajeya.lab.spool import (
    BatchStore,
    Spool,
    close_connection,
    database_unavailable,
    hl7_context,
    replay,
)

log = logging.getLogger("ajeya.lab.listener")

START_BLOCK = 0x0B
END_BLOCK = b"\x1c\r"
HEAD_BYTES = 1024  # kept of an oversize frame: enough for its MSH and control id
RECV_BYTES = 65536
FRAME_TIMEOUT = 60.0  # seconds of silence in the middle of a frame before it is cut off
RETRY_SECONDS = 5.0  # between attempts to replay the spool while the database is down
IDLE_CHECK_SECONDS = 60.0
MAX_CONNECTIONS = 64
MAX_BATCH = MAX_CONNECTIONS  # messages stored in one transaction
DEFAULT_PORT = 2575
SPOOLED_TEXT = "Kept in the outage spool: stored as soon as the database is back."


@dataclass
class Frame:
    """One MLLP frame's content: whole, or (oversize) only its first bytes and size."""

    data: bytes
    size: int
    head: bytes
    oversize: bool = False
    complete: bool = True
    reason: str = ""


class Framer:
    """MLLP framing over a byte stream: feed it what arrives, get back whole frames.

    Bytes outside a frame are skipped (and counted). A frame longer than `max_bytes` is
    not kept: only its first HEAD_BYTES, while the rest is drained to the end block.
    A start block inside a frame means the sender gave up on the frame before it:
    that one comes back incomplete and the new one begins.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.skipped = 0
        self.in_frame = False
        self._buffer = bytearray()
        self._size = 0
        self._head = b""
        self._oversize = False
        self._end_pending = False  # the last chunk ended with 0x1C

    def _begin(self) -> None:
        self.in_frame = True
        self._buffer = bytearray()
        self._size = 0
        self._head = b""
        self._oversize = False
        self._end_pending = False

    def _append(self, data: bytes | memoryview) -> None:
        if not data:
            return
        self._size += len(data)
        if self._oversize:
            return
        if self._size > self.max_bytes:
            self._oversize = True
            self._head = bytes(self._buffer[:HEAD_BYTES])
            if len(self._head) < HEAD_BYTES:
                self._head += bytes(data[: HEAD_BYTES - len(self._head)])
            self._buffer = bytearray()
            return
        self._buffer += data

    def _end(self, *, complete: bool, reason: str = "") -> Frame:
        data = b"" if self._oversize else bytes(self._buffer)
        frame = Frame(
            data=data,
            size=self._size,
            head=self._head if self._oversize else data[:HEAD_BYTES],
            oversize=self._oversize,
            complete=complete,
            reason=reason,
        )
        self.in_frame = False
        self._buffer = bytearray()
        return frame

    def feed(self, chunk: bytes) -> list[Frame]:
        frames: list[Frame] = []
        view = memoryview(chunk)
        pos, size = 0, len(chunk)
        while pos < size:
            if not self.in_frame:
                start = chunk.find(START_BLOCK, pos)
                if start < 0:
                    self.skipped += size - pos
                    break
                self.skipped += start - pos
                self._begin()
                pos = start + 1
                continue
            if self._end_pending:
                self._end_pending = False
                if chunk[pos] == 0x0D:
                    frames.append(self._end(complete=True))
                    pos += 1
                    continue
                self._append(b"\x1c")  # a lone 0x1C is content (and will be refused)
            end = chunk.find(END_BLOCK, pos)
            restart = chunk.find(START_BLOCK, pos, end if end >= 0 else size)
            if restart >= 0:
                self._append(view[pos:restart])
                frames.append(
                    self._end(complete=False, reason="a new start block came before the end")
                )
                pos = restart
                continue
            if end >= 0:
                self._append(view[pos:end])
                frames.append(self._end(complete=True))
                pos = end + 2
                continue
            if chunk[-1] == 0x1C:
                self._append(view[pos : size - 1])
                self._end_pending = True
            else:
                self._append(view[pos:])
            break
        return frames

    def close(self, reason: str = "the connection closed in the middle of a message"):
        """The stream ended: the frame in progress, if any, comes back incomplete."""
        if not self.in_frame:
            return None
        if self._end_pending:
            self._append(b"\x1c")
        return self._end(complete=False, reason=reason)


def frame_bytes(text: str) -> bytes:
    return bytes([START_BLOCK]) + text.encode("utf-8") + END_BLOCK


def _internal_error() -> Outcome:
    return Outcome(
        ack=AckCode.ERROR,
        error_code="207",
        text="Ajeya could not store this message (internal error); it is kept "
        "for the laboratory's IT desk.",
    )


@dataclass
class _Incoming:
    """A whole frame handed by its connection's thread to the store thread."""

    sock: socket.socket
    peer: str
    frame: Frame


def _readable(sock: socket.socket, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(timeout * 1000))


def _send(sock: socket.socket, peer: str, data: bytes) -> None:
    """An acknowledgement, without waiting: an analyzer whose receive buffer is full
    does not read its acknowledgements, and is disconnected rather than allowed to
    stop the store thread (what it sent is stored; it resends what it missed, and a
    resent message is answered as before)."""
    try:
        sent = sock.send(data, socket.MSG_DONTWAIT)
    except BlockingIOError:
        sent = 0
    except OSError:
        log.warning("HL7 listener: could not acknowledge %s (gone)", peer)
        return
    if sent < len(data):
        log.warning("HL7 listener: %s does not read its acknowledgements: disconnected", peer)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Listener:
    """The MLLP server. `store` is the database call (tests inject failures through it);
    it must behave like `analyzer_messages_store`: an Outcome for each message of a
    batch, or a database error.

    Each connection's thread only receives its bytes and cuts them into frames; a
    store thread takes every frame waiting on all the connections (and those arriving
    while the store is busy), reads them, stores the messages as one batch (one
    transaction, a few statements for the lot) and sends each acknowledgement; two such
    threads take turns, one gathering while the other's batch is stored. The more
    analyzers send at once, the bigger the batches: a batch's database work costs
    little more than one message's.
    """

    def __init__(
        self,
        host: str = "0.0.0.0",  # noqa: S104 - analyzers connect from the laboratory LAN
        port: int = DEFAULT_PORT,
        *,
        spool: Spool | None = None,
        store: BatchStore | None = None,
        max_bytes: int | None = None,
        frame_timeout: float = FRAME_TIMEOUT,
        retry_seconds: float = RETRY_SECONDS,
        allowed_peers: Iterable[str] | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.host, self.port = host, port
        self.spool = spool if spool is not None else Spool()
        self.store: BatchStore = store if store is not None else analyzer_messages_store
        self.max_bytes = max_bytes or settings.AJEYA_HL7_MAX_BYTES
        self.frame_timeout = frame_timeout
        self.retry_seconds = retry_seconds
        peers = settings.AJEYA_HL7_ALLOWED_PEERS if allowed_peers is None else allowed_peers
        self.allowed = [ipaddress.ip_network(p, strict=False) for p in peers]
        self.max_connections = max_connections
        self.address: tuple[str, int] | None = None
        self._server: socket.socket | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._guard = threading.Condition()
        self._clients: dict[threading.Thread, socket.socket] = {}
        self._workers: list[threading.Thread] = []
        self._queued = threading.Condition()
        self._queue: list[_Incoming] = []
        self._storing = False  # the store threads take the queue
        # Two store threads: while one batch is in the store, the other thread gathers
        # and reads the next, which goes in as soon as the store is free (ADR 0015).
        self._gathering = threading.Lock()  # one thread gathers a batch at a time
        self._busy = False  # a batch is in the store
        self._turns = self._acknowledged = 0  # batches taken; acknowledged, in order
        self._writer = threading.Lock()  # the store and replay threads take turns
        self.batches = self.batched = 0  # batches stored, and the messages in them

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Bind and start serving in background threads; OSError if the port is taken,
        SpoolBusy if another listener holds the spool."""
        self.spool.acquire()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self._server = socket.create_server((self.host, self.port), family=family)
        except OSError:
            self.spool.release()
            raise
        self.address = self._server.getsockname()[:2]
        self._storing = True
        for target, name in (
            (self._accept_loop, "hl7-accept"),
            (self._replay_loop, "hl7-replay"),
            (self._store_loop, "hl7-store-1"),
            (self._store_loop, "hl7-store-2"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._workers.append(thread)
        log.info("HL7 listener on %s:%s; %s", *self.address, self.spool.describe())
        return self.address

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        with self._queued:
            self._queued.notify_all()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        with self._guard:
            clients = list(self._clients.items())
        for _, sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in [*self._workers, *(t for t, _ in clients)]:
            thread.join(timeout)
        if self.batches:
            log.info(
                "HL7 listener: stored %d message(s) in %d batch(es), %.1f a batch",
                self.batched,
                self.batches,
                self.batched / self.batches,
            )
        self.spool.release()

    def __enter__(self) -> Listener:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the spool is empty (every message stored); False on timeout."""
        self._wake.set()
        return self.spool.wait_empty(timeout)

    def wait_disconnected(self, timeout: float | None = None) -> bool:
        """Wait until every connection has been served to its end; False on timeout."""
        with self._guard:
            return self._guard.wait_for(lambda: not self._clients, timeout)

    # -- connections -----------------------------------------------------------------

    def _peer_allowed(self, peer: str) -> bool:
        if not self.allowed:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed)

    def _accept_loop(self) -> None:
        server = self._server
        while server is not None and not self._stopping.is_set():
            try:
                sock, address = server.accept()
            except OSError as exc:
                if self._stopping.is_set():
                    break
                log.warning("HL7 listener: accept failed: %s", exc)
                self._stopping.wait(0.5)
                continue
            peer = address[0]
            if not self._peer_allowed(peer):
                log.warning("HL7 listener: refused a connection from %s (not allowed)", peer)
                sock.close()
                continue
            with self._guard:
                if self._stopping.is_set():  # stop() has taken its list of connections
                    sock.close()
                    break
                if len(self._clients) >= self.max_connections:
                    log.warning(
                        "HL7 listener: %s refused, %d connections open", peer, len(self._clients)
                    )
                    sock.close()
                    continue
                thread = threading.Thread(
                    target=self._serve, args=(sock, peer), name=f"hl7-{peer}", daemon=True
                )
                self._clients[thread] = sock
            thread.start()

    def _serve(self, sock: socket.socket, peer: str) -> None:
        log.info("HL7 listener: %s connected", peer)
        framer = Framer(self.max_bytes)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            self._conversation(sock, peer, framer)
            partial = framer.close()
            if partial is not None:
                self.answer(partial, peer)
        except Exception:
            log.exception("HL7 listener: the connection from %s failed", peer)
        finally:
            if framer.skipped:
                log.warning(
                    "HL7 listener: skipped %d byte(s) outside frames from %s", framer.skipped, peer
                )
            sock.close()
            connections.close_all()
            # Logged before leaving the client list: stop() joins only the threads still
            # on it, and a line logged after that lands in a closed log.
            log.info("HL7 listener: %s disconnected", peer)
            with self._guard:
                self._clients.pop(threading.current_thread(), None)
                self._guard.notify_all()

    def _conversation(self, sock: socket.socket, peer: str, framer: Framer) -> None:
        """Frames in: each whole one goes to the store thread, which reads, stores and
        acknowledges it. The socket stays blocking (the frame timeout is a poll), so the
        store thread's non-blocking send never waits on it."""
        while True:
            if framer.in_frame and not _readable(sock, self.frame_timeout):
                stalled = framer.close(f"nothing arrived for {self.frame_timeout:g} s mid-message")
                if stalled is not None:
                    self.answer(stalled, peer)
                return
            try:
                chunk = sock.recv(RECV_BYTES)
            except OSError:
                return
            if not chunk:
                return
            for frame in framer.feed(chunk):
                if not frame.complete:
                    self.answer(frame, peer)  # kept, and not acknowledged
                elif not self._submit(sock, peer, frame):
                    return

    # -- one message -----------------------------------------------------------------

    def answer(self, frame: Frame, peer: str) -> str | None:
        """Read, store and acknowledge one frame in this thread: the acknowledgement
        (None for an incomplete frame: the sender is gone or has given up on it; it is
        kept all the same)."""
        return self._acknowledge([self._prepare(frame, peer)])[0]

    def process(self, data: bytes, peer: str) -> str:
        """Read, store and acknowledge one whole message, in this thread."""
        return self.process_many([data], peer)[0]

    def process_many(self, frames: list[bytes], peer: str) -> list[str]:
        """Read whole messages, store those that can be read as one batch, and return
        each one's acknowledgement, in this thread (what the store thread does for the
        frames waiting on every connection)."""
        return self._acknowledge([self._read(data, peer) for data in frames])

    def _prepare(self, frame: Frame, peer: str) -> AnalyzerMessage | str | None:
        """The message of a whole frame; or the acknowledgement refusing it; or None for
        an incomplete frame. A frame refused or cut off is kept."""
        if not frame.complete:
            log.warning(
                "HL7 listener: incomplete frame of %d byte(s) from %s (%s)",
                frame.size,
                peer,
                frame.reason,
            )
            if frame.size:  # a bare start block carries nothing to keep
                self._keep(frame.head if frame.oversize else frame.data, peer, frame.reason)
            return None
        if frame.oversize:
            text = (
                f"The message is {frame.size} bytes, more than this listener takes "
                f"({self.max_bytes}, AJEYA_HL7_MAX_BYTES)."
            )
            self._keep(frame.head, peer, text + f" Only its first {len(frame.head)} are kept.")
            header = hl7.read_header(frame.head.decode("utf-8", "replace"))
            return hl7.build_ack(header, AckCode.REJECT, text, "207")
        return self._read(frame.data, peer)

    def _acknowledge(self, prepared: list) -> list:
        """Store the messages among `prepared` as one batch; each one's acknowledgement
        in order (the refusals and Nones as they are)."""
        return self._acks(prepared, self._store_read(prepared))

    def _store_read(self, prepared: list) -> list[Outcome]:
        """Store the messages among `prepared` (read frames, refusals, Nones)."""
        messages = [m for m in prepared if isinstance(m, AnalyzerMessage)]
        return self._deliver(messages) if messages else []

    def _acks(self, prepared: list, outcomes: list[Outcome]) -> list:
        found = iter(outcomes)
        return [
            self._ack(m, next(found)) if isinstance(m, AnalyzerMessage) else m for m in prepared
        ]

    def _read(self, data: bytes, peer: str) -> AnalyzerMessage | str:
        """The message, with the ledger context of its connection; or, for a message
        that cannot be read, the acknowledgement that refuses it (the frame is kept)."""
        try:
            text = hl7.decode(data)
            message = hl7.read_oru(text)
        except hl7.HL7Error as exc:
            log.info(
                "HL7 listener: %s from %s (control id %r): %s",
                exc.ack,
                peer,
                exc.control_id,
                exc.text,
            )
            self._keep(data, peer, f"{exc.ack} {exc.error_code}: {exc.text}")
            return hl7.build_ack(
                exc.header, exc.ack, exc.text, exc.error_code, location=exc.location
            )
        message.context = hl7_context(peer, context.new_request_id(), message.sending_application)
        return message

    @staticmethod
    def _ack(message: AnalyzerMessage | str, outcome: Outcome) -> str:
        """The acknowledgement of a message (or of the text of its header)."""
        text = message if isinstance(message, str) else message.raw
        code = outcome.error_code or ("" if outcome.ack == AckCode.ACCEPT else "207")
        return hl7.build_ack(hl7.read_header(text), outcome.ack, outcome.text, code)

    # -- the store thread --------------------------------------------------------------

    def _submit(self, sock: socket.socket, peer: str, frame: Frame) -> bool:
        """Hand a whole frame to the store thread (answered in this thread once the
        store thread has stopped); False when the connection is gone."""
        with self._queued:
            queued = self._storing
            if queued:
                self._queue.append(_Incoming(sock, peer, frame))
                self._queued.notify_all()  # the gatherer, whichever thread it is
        if queued:
            return True
        ack = self.answer(frame, peer)
        try:
            sock.sendall(frame_bytes(ack))
        except OSError:
            log.warning("HL7 listener: could not acknowledge %s (gone)", peer)
            return False
        return True

    def _next_batch(self) -> tuple[list[_Incoming], list, int]:
        """The frames waiting, and those that arrive while the store is busy with the
        other thread's batch (up to MAX_BATCH), each read as it is taken; returned with
        the batch's turn once the store is free and no frame waits unread (the store is
        then busy with this batch). Empty once stopping with none left. One thread
        gathers at a time."""
        batch: list[_Incoming] = []
        prepared: list = []
        while True:
            with self._queued:
                self._queued.wait_for(
                    lambda: (
                        (self._queue and len(batch) < MAX_BATCH)
                        or (batch and not self._busy)
                        or (not batch and self._stopping.is_set())
                    )
                )
                room = MAX_BATCH - len(batch)
                taken = self._queue[:room]
                del self._queue[:room]
                if not taken:
                    if not batch:
                        return [], [], 0
                    self._busy = True
                    self._turns += 1
                    self.batches += 1
                    self.batched += len(batch)
                    return batch, prepared, self._turns
            prepared.extend(self._prepared(i) for i in taken)
            batch.extend(taken)

    def _prepared(self, incoming: _Incoming) -> AnalyzerMessage | str | None:
        try:
            return self._prepare(incoming.frame, incoming.peer)
        except Exception:  # the listener's own fault: answered AE, so the analyzer resends
            log.exception("HL7 listener: a frame from %s could not be read", incoming.peer)
            return self._failed_ack(incoming)

    def _failed_ack(self, incoming: _Incoming) -> str:
        return self._ack(incoming.frame.head.decode("utf-8", "replace"), _internal_error())

    def _store_loop(self) -> None:
        try:
            while True:
                with self._gathering:
                    batch, prepared, turn = self._next_batch()
                if not batch:
                    break
                self._answer(batch, prepared, turn)
        finally:
            with self._queued:
                self._storing = False
                left, self._queue = self._queue, []
            for incoming in left:  # handed over as the listener stopped
                (ack,) = self._guarded(
                    [incoming], lambda i=incoming: [self.answer(i.frame, i.peer)]
                )
                if ack is not None:
                    _send(incoming.sock, incoming.peer, frame_bytes(ack))
            connections.close_all()

    def _answer(self, batch: list[_Incoming], prepared: list, turn: int) -> None:
        """Store a batch (the store is then free for the other thread's), and send its
        acknowledgements once the batch before it has sent its own; its turn is marked
        done whatever happens (every later batch waits for it)."""
        acks = self._guarded(batch, lambda: self._acks(prepared, self._stored(prepared)))
        with self._queued:
            self._queued.wait_for(lambda: self._acknowledged == turn - 1)
        try:
            for incoming, ack in zip(batch, acks, strict=True):
                if ack is not None:
                    try:
                        _send(incoming.sock, incoming.peer, frame_bytes(ack))
                    except Exception:  # a bug with one answer: the others still go
                        log.exception("HL7 listener: could not acknowledge %s", incoming.peer)
        finally:
            with self._queued:
                self._acknowledged = turn
                self._queued.notify_all()

    def _stored(self, prepared: list) -> list[Outcome]:
        """`_store_read`, then the store is free for the other thread's batch."""
        try:
            return self._store_read(prepared)
        finally:
            with self._queued:
                self._busy = False
                self._queued.notify_all()

    def _guarded(self, batch: list[_Incoming], work) -> list:
        """`work()`'s acknowledgements of the batch; if it fails, each frame is answered
        AE (the listener's own fault: the analyzer resends)."""
        try:
            return work()
        except Exception:
            log.exception("HL7 listener: a batch of %d message(s) failed", len(batch))
            return [self._failed_ack(i) for i in batch]

    def _deliver(self, messages: list[AnalyzerMessage]) -> list[Outcome]:
        if not self.spool.empty():  # earlier messages wait there: keep the order
            return [self._spool(m) for m in messages]
        try:
            with self._writer:
                return self.store(messages)
        except Exception as exc:
            if database_unavailable(exc):
                close_connection()
                log.warning("HL7 listener: database unavailable (%s): spooling", exc)
                return [self._spool(m) for m in messages]
            if len(messages) > 1:  # one message's fault: store the others without it
                return [self._deliver([m])[0] for m in messages]
            message = messages[0]
            log.exception(
                "HL7 listener: %s %s could not be stored",
                message.sending_application,
                message.control_id,
            )
            self._keep(
                message.raw.encode("utf-8"),
                message.context.ip if message.context else "",
                f"could not be stored: {type(exc).__name__}: {exc}",
            )
            return [_internal_error()]

    def _spool(self, message: AnalyzerMessage) -> Outcome:
        ctx = message.context or hl7_context("", "", message.sending_application)
        try:
            self.spool.put(message.raw, peer=ctx.ip, request_id=ctx.request_id)
        except OSError as exc:
            log.error("HL7 listener: the spool cannot be written (%s)", exc)
            return Outcome(
                ack=AckCode.ERROR,
                error_code="207",
                text="The database is unavailable and the spool cannot be written: "
                "send the message again later.",
            )
        self._wake.set()
        return Outcome(ack=AckCode.ACCEPT, text=SPOOLED_TEXT)

    def _keep(self, data: bytes, peer: str, reason: str) -> None:
        try:
            self.spool.reject(data, reason=reason, peer=peer)
        except OSError as exc:
            log.error("HL7 listener: could not keep a refused frame from %s: %s", peer, exc)

    # -- the replay thread -----------------------------------------------------------

    def _store_one(self, message: AnalyzerMessage) -> Outcome:
        with self._writer:
            return self.store([message])[0]

    def _replay_loop(self) -> None:
        down = False
        try:
            while not self._stopping.is_set():
                if self.spool.empty():
                    self._wake.wait(IDLE_CHECK_SECONDS)
                    self._wake.clear()
                    continue
                report = replay(self.spool, self._store_one, stop=self._stopping)
                if report.stored and down:
                    log.warning("HL7 listener: the database answers again; replaying the spool")
                if report.unavailable:
                    if not down:
                        log.warning(
                            "HL7 listener: database unavailable; %d message(s) spooled, "
                            "retrying every %g s",
                            len(self.spool),
                            self.retry_seconds,
                        )
                    down = True
                    self._stopping.wait(self.retry_seconds)
                else:
                    down = False
        except Exception:
            log.exception("HL7 listener: the spool replay stopped")
        finally:
            connections.close_all()
