"""`ajeya verify`: prove the ledger and the ledgered tables are as the staff left them.

Four checks, each naming what it finds:
1. each chain (changes, accesses): sequence numbers without gaps, every entry linked to
   the one before, every entry's hash over its stored payload, the searchable columns
   equal to the payload;
2. every ledgered row: its state hash equals its seal and its latest ledger entry;
   rows with no entry, and entries whose row has vanished;
3. the chain against the newest signed checkpoint: a cut-off tail is found.
Reads only; writes one VerificationRun row when asked to.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import operator
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection, models

from ajeya.core import clock
from ajeya.ledger import checkpoints, registry
from ajeya.ledger.canonical import canonical_json, state_hash
from ajeya.ledger.models import LedgerAction, LedgerEntry, VerificationRun
from ajeya.ledger.services import CHAINS, GENESIS_HASH, Chain

PAGE = 20_000
log = logging.getLogger("ajeya.ledger.verification")
Progress = Callable[[str, int], None]


@dataclass
class Finding:
    check: str  # chain, row, checkpoint
    table: str
    ident: str  # entry sequence number or row identifier
    problem: str
    detail: str = ""  # recorded and current values: for the operator's terminal only

    def line(self, *, with_detail: bool = True) -> str:
        detail = f": {self.detail}" if with_detail and self.detail else ""
        return f"{self.table} {self.ident}: {self.problem}{detail}"


@dataclass
class Report:
    entries_checked: int = 0
    rows_checked: int = 0
    rows_rechecked: int = 0  # rows the quick pass could not clear, read again by the ORM
    findings: list[Finding] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    checkpoint: dict | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [int(f.ident.lstrip("#")) for f in self.findings if f.ident.startswith("#")]
        return min(seqs) if seqs else None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "rows_checked": self.rows_checked,
            "rows_rechecked": self.rows_rechecked,
            "first_bad_seq": self.first_bad_seq,
            "heads": {k: {"seq": s, "hash": h} for k, (s, h) in self.heads.items()},
            "checkpoint": self.checkpoint,
            "notes": self.notes,
            "findings": [asdict(f) for f in self.findings],
            "seconds": round(self.seconds, 3),
        }


def _chain_sql(chain: Chain) -> str:
    """The query that rebuilds, per entry, exactly the bytes its hash was made from.

    The database joins the columns itself, in one pass (SQLite's printf, PostgreSQL's
    concat: both write no value as empty), and Python hashes: measured here, Python's
    SHA-256 (OpenSSL) is three times faster than PostgreSQL's sha256(), and one printf
    twice as fast as a chain of `||` (each of which copies the string so far).
    """
    table = chain.model._meta.db_table
    if connection.vendor == "postgresql":
        parts = ", chr(31), ".join(
            "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
            if name == "recorded_at"
            else name
            for name in chain.columns
        )
        hashed = f"convert_to(concat(prev_hash, {parts}, chr(30), payload), 'UTF8')"
    else:
        # %% because the query has parameters: Django turns %s into SQLite's ?.
        template = "%%s" + "' || char(31) || '".join("%%s" for _ in chain.columns)
        template += "' || char(30) || '%%s"
        hashed = (
            f"CAST(printf('{template}', prev_hash, {', '.join(chain.columns)}, payload) AS BLOB)"
        )
    # The previous hash is not fetched on its own: it is the first 64 bytes of what is
    # hashed, so the link is checked on those (a fetched column fewer: ~6% a row).
    return (
        f"SELECT seq, hash, {hashed} FROM {table} "  # noqa: S608 - names from code
        "WHERE seq > %s ORDER BY seq LIMIT %s"
    )


def _fetch(sql: str, params: list, raw=None) -> list[tuple]:
    """Rows with the bytes as they are: on PostgreSQL in the binary protocol, where text
    mode would send every entry's bytes hex-encoded (twice the size, then decoded)."""
    if connection.vendor == "postgresql":
        import psycopg

        # Django's connections make client-side-binding cursors, which cannot do binary.
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, binary=True)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _pages(sql: str, raw) -> Iterator[list[tuple]]:
    last = 0
    while rows := _fetch(sql, [last, PAGE], raw):
        yield rows
        last = rows[-1][0]


def _read_ahead(pages: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
    """The next page is read by a thread while this one is hashed. For PostgreSQL only:
    there the server builds the page in its own process and the thread mostly waits on
    the socket, so the two overlap (about 1.7x here) while this process still does its
    Python work on one core at a time. SQLite runs inside this process: a second reader
    would be a second core, so SQLite reads in line."""
    import queue
    import threading

    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        try:
            for page in pages:
                ready.put(page)
                if stop.is_set():
                    return
            ready.put(None)
        except BaseException as exc:  # handed to the verifying thread, raised there
            ready.put(exc)

    reader = threading.Thread(target=read, name="ledger-verify-reader", daemon=True)
    reader.start()
    try:
        while (page := ready.get()) is not None:
            if isinstance(page, BaseException):
                raise page
            yield page
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            ready.get_nowait()  # let a reader blocked on put() see `stop`
        reader.join()


def _database_file() -> str:
    return str(connection.settings_dict["NAME"])


def _apsw_pages(sql: str) -> Iterator[list[tuple]] | None:
    """On SQLite, the chain read through apsw on a read-only connection of its own: its
    rows cost about a third less to fetch than through the standard library's driver
    (verification +19% measured here; most of a row's cost is fetching it). Only when
    the data is committed in a file (as `_can_fork`): otherwise None, and the chain is
    read through Django's own connection."""
    if not _can_fork():
        return None
    try:
        import apsw

        reader = apsw.Connection(_database_file(), flags=apsw.SQLITE_OPEN_READONLY)
        reader.set_busy_timeout(10_000)
    except Exception as exc:  # apsw missing, or the file cannot be opened read-only
        log.info("ledger verification: reading through Django's connection (%s)", exc)
        return None
    # Django's placeholders turned into SQLite's, as its backend does.
    sql = re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")

    def pages() -> Iterator[list[tuple]]:
        last = 0
        try:
            while rows := reader.execute(sql, (last, PAGE)).fetchall():
                yield rows
                last = rows[-1][0]
        finally:
            reader.close()

    return pages()


def chain_pages(chain: Chain) -> Iterator[list[tuple]]:
    """Pages of (seq, hash, hashed bytes) in sequence order, by keyset: memory stays flat
    however long the chain."""
    sql = _chain_sql(chain)
    if connection.vendor != "postgresql":
        yield from _apsw_pages(sql) or _pages(sql, None)
        return
    connection.ensure_connection()
    # The reader thread shares this thread's connection (psycopg's are thread-safe;
    # Django's wrapper is per thread) while this thread only hashes.
    yield from _read_ahead(_pages(sql, connection.connection))


def check_chain(chain: Chain, report: Report, progress: Progress | None = None) -> None:
    table = chain.model._meta.db_table
    add = report.findings.append
    expected, prev, last = 1, GENESIS_HASH.encode("ascii"), 0
    sha256 = hashlib.sha256
    for rows in chain_pages(chain):
        for seq, digest, hashed in rows:
            if seq != expected:
                add(
                    Finding(
                        "chain", table, f"#{seq}", f"entries #{expected} to #{seq - 1} are missing"
                    )
                )
            if not hashed.startswith(prev):
                add(
                    Finding(
                        "chain",
                        table,
                        f"#{seq}",
                        "does not link to the entry before it "
                        "(an entry before it was removed, inserted or reordered)",
                    )
                )
            if sha256(hashed).hexdigest() != digest:
                add(
                    Finding(
                        "chain",
                        table,
                        f"#{seq}",
                        "was changed after it was written (its columns or its recorded contents)",
                    )
                )
            prev, expected, last = digest.encode(), seq + 1, seq
        report.entries_checked += len(rows)
        if progress:
            progress(table, len(rows))
    report.heads[table] = (last, prev.decode())


def _latest_entries(subject_type: str) -> dict[str, tuple[int, str, str]]:
    """subject id → (seq, state hash, action) of its newest ledger entry."""
    table = LedgerEntry._meta.db_table
    sql = (
        f"SELECT e.subject_id, e.seq, e.state_hash, e.action FROM {table} e "  # noqa: S608
        f"JOIN (SELECT subject_id, MAX(seq) AS seq FROM {table} WHERE subject_type = %s "
        "GROUP BY subject_id) latest ON latest.seq = e.seq"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [subject_type])
        return {row[0]: (row[1], row[2], row[3]) for row in cursor.fetchall()}


def _differences(state: dict, seq: int) -> tuple[list[str], str]:
    """The fields that differ from the state entry `seq` recorded, and their values."""
    try:
        entry = LedgerEntry.objects.filter(seq=seq).first()
        recorded = (entry.after or {}) if entry else {}
    except ValueError:  # the entry's payload itself was damaged; the chain check says so
        return ["(recorded state unreadable)"], ""
    current = canonical_json(state)
    changed = sorted(k for k in set(current) | set(recorded) if current.get(k) != recorded.get(k))
    shown = ", ".join(f"{k} {recorded.get(k)!r} → {current.get(k)!r}" for k in changed[:4])
    return changed, shown + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")


def _check_row(ledgered, values: dict, latest: dict, report: Report) -> None:
    table = ledgered.model._meta.db_table
    subject = str(values[ledgered.subject_attname])
    state = ledgered.state_from_values(values)
    digest = state_hash(state)
    entry = latest.pop(subject, None)
    add = report.findings.append
    if entry is None:
        add(
            Finding(
                "row",
                table,
                subject,
                "has no ledger entry: it was added behind the application's back",
            )
        )
        return
    seq, recorded_hash, action = entry
    if action == LedgerAction.DELETE:
        add(
            Finding("row", table, subject, f"exists, but ledger entry #{seq} recorded its deletion")
        )
    elif digest != recorded_hash:
        fields, detail = _differences(state, seq)
        forged = (
            " (its seal was recomputed to hide it)"
            if (ledgered.sealed and values["seal"] == digest)
            else ""
        )
        add(
            Finding(
                "row",
                table,
                subject,
                f"differs from ledger entry #{seq} in {', '.join(fields)}{forged}",
                detail,
            )
        )
    elif ledgered.sealed and values["seal"] != digest:
        add(Finding("row", table, subject, "its seal does not match its contents"))


def _sqlite_time(generic: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Django keeps a time on SQLite as naive UTC text, `YYYY-MM-DD HH:MM:SS[.ffffff]`;
    the canonical form is that instant's `isoformat()` in UTC: the same digits with a T
    and +00:00. Anything else goes the way Django reads it."""

    def convert(value: Any) -> Any:
        if value.__class__ is str and len(value) in (19, 26) and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        return generic(value)

    return convert


def _sqlite_date(generic: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value.__class__ is str and len(value) == 10:
            return value  # `YYYY-MM-DD`, which is already its isoformat()
        return generic(value)

    return convert


def _column_readers(ledgered, names: list[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, what turns the driver's value into the one the row's state holds
    (None: as it comes). Django's own converters, the registry's transforms after them;
    SQLite's times and dates straight from their text, as parsing and re-printing them
    was a third of the check."""
    readers: list[Callable[[Any], Any] | None] = []
    for name in names:
        column = ledgered.model._meta.get_field(name)
        col = column.get_col(ledgered.model._meta.db_table)
        funcs = [*connection.ops.get_db_converters(col), *column.get_db_converters(connection)]
        transform = ledgered.transforms.get(name)

        def generic(value, funcs=funcs, col=col, transform=transform):
            for func in funcs:
                value = func(value, col, connection)
            return transform(value) if transform else value

        if not funcs and transform is None:
            readers.append(None)
        elif connection.vendor == "sqlite" and transform is None:
            if isinstance(column, models.DateTimeField):
                readers.append(_sqlite_time(generic))
            elif isinstance(column, models.DateField):
                readers.append(_sqlite_date(generic))
            else:
                readers.append(generic)
        else:
            readers.append(generic)
    return readers


def _clean_rows(ledgered, names: list[str], latest: dict) -> tuple[int, list[str]]:
    """The quick pass over a table: reads every row in plain SQL, and takes the latest
    entry of each row that matches it off `latest`. Returns how many rows were read and
    the subjects that did not match (or could not be read): `_check_row` looks at those
    again through the ORM, so their findings are worded as always."""
    model = ledgered.model
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(n) for n in names]
    selected = [quote(f.column) for f in fields]
    if connection.vendor == "sqlite":
        # As text: Django's SQLite connection would otherwise parse every date and time
        # into an object (its declared-type converters), only for it to be printed again.
        selected = [
            f"CAST({c} AS TEXT)" if isinstance(f, models.DateField) else c
            for c, f in zip(selected, fields, strict=True)
        ]
    sql = "SELECT {} FROM {} ORDER BY {}".format(  # noqa: S608 - names from the model
        ", ".join(selected), quote(model._meta.db_table), quote(fields[0].column)
    )
    where = {name: i for i, name in enumerate(names)}
    readers = _column_readers(ledgered, names)
    # The state's plain columns in one C-level pick, the converted ones one by one.
    plain = [n for n in ledgered.fields if readers[where[n]] is None]
    pick = operator.itemgetter(*(where[n] for n in plain)) if plain else (lambda row: ())
    if len(plain) == 1:
        only = pick
        pick = lambda row: (only(row),)  # noqa: E731
    converted = [(n, where[n], readers[where[n]]) for n in ledgered.fields if n not in plain]
    seal_at = where.get("seal") if ledgered.sealed else None
    deleted = LedgerAction.DELETE
    count, again = 0, []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(5000):
            for row in rows:
                count += 1
                subject = str(row[0])
                try:
                    state = dict(zip(plain, pick(row), strict=True))
                    for name, i, read in converted:
                        state[name] = read(row[i])
                    digest = state_hash(state)
                except Exception:  # a value the application never writes: look again
                    again.append(subject)
                    continue
                entry = latest.get(subject)
                if (
                    entry is not None
                    and entry[2] != deleted
                    and entry[1] == digest
                    and (seal_at is None or row[seal_at] == digest)
                ):
                    del latest[subject]
                else:
                    again.append(subject)
    return count, again


def check_rows(
    report: Report, progress: Progress | None = None, subject_types: list[str] | None = None
) -> None:
    for subject_type, ledgered in registry.REGISTRY.items():
        if subject_types is not None and subject_type not in subject_types:
            continue
        table = ledgered.model._meta.db_table
        latest = _latest_entries(ledgered.subject_type)
        names = list(dict.fromkeys((ledgered.subject_attname, *ledgered.fields)))
        if ledgered.sealed:
            names.append("seal")
        count = 0
        try:
            count, again = _clean_rows(ledgered, names, latest)
            report.rows_rechecked += len(again)
            queryset = ledgered.model._base_manager.order_by(ledgered.subject_attname)
            for start in range(0, len(again), 500):
                chunk = again[start : start + 500]
                lookup = {f"{ledgered.subject_attname}__in": chunk}
                for values in queryset.filter(**lookup).values(*names):
                    _check_row(ledgered, values, latest, report)
        except Exception as exc:
            report.findings.append(
                Finding(
                    "row",
                    table,
                    f"after row {count}",
                    f"cannot be read any further ({type(exc).__name__}: {exc}); "
                    "a value was written that the application never writes",
                )
            )
            latest.clear()
        for subject, (seq, _, action) in sorted(latest.items()):
            if action != LedgerAction.DELETE:
                report.findings.append(
                    Finding(
                        "row",
                        table,
                        subject,
                        f"is missing: ledger entry #{seq} says it exists (deleted behind "
                        "the application's back)",
                    )
                )
        report.rows_checked += count
        if progress:
            progress(table, count)


# -- the chains and tables, one task each, in this process or several ---------------------


def _tasks() -> list[tuple[str, str]]:
    return [("chain", c.model._meta.db_table) for c in CHAINS] + [
        ("rows", subject_type) for subject_type in registry.REGISTRY
    ]


def _run_task(task: tuple[str, str]) -> Report:
    kind, name = task
    part = Report()
    if kind == "chain":
        check_chain(next(c for c in CHAINS if c.model._meta.db_table == name), part)
    else:
        check_rows(part, subject_types=[name])
    return part


def _task_size(task: tuple[str, str]) -> int:
    kind, name = task
    model = (
        next(c.model for c in CHAINS if c.model._meta.db_table == name)
        if kind == "chain"
        else registry.REGISTRY[name].model
    )
    return model._base_manager.count() * (1 if kind == "chain" else 4)  # rows cost more


def _can_fork() -> bool:
    """Child processes see only committed data in a file or server database: not an
    in-memory SQLite database, and not from inside an open transaction."""
    if connection.in_atomic_block:
        return False
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        return "memory" not in name and name != ""
    return True


def _merge(report: Report, part: Report) -> None:
    report.entries_checked += part.entries_checked
    report.rows_checked += part.rows_checked
    report.rows_rechecked += part.rows_rechecked
    report.findings.extend(part.findings)
    report.heads.update(part.heads)


def _check_tables(report: Report, progress: Progress | None, workers: int) -> None:
    """Each chain and each ledgered table is one task: every entry's hash depends only
    on its own row, and every row only on its own latest entry, so they check apart.
    Findings come back in the same order however many processes ran them."""
    tasks = _tasks()
    if workers <= 1 or not _can_fork():
        for chain in CHAINS:
            check_chain(chain, report, progress)
        check_rows(report, progress)
        return
    import multiprocessing

    from django.db import connections

    biggest_first = sorted(range(len(tasks)), key=lambda i: -_task_size(tasks[i]))
    connections.close_all()  # each process opens its own
    parts: dict[int, Report] = {}
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        ordered = [tasks[i] for i in biggest_first]
        for i, part in zip(biggest_first, pool.imap(_run_task, ordered), strict=True):
            parts[i] = part
            if progress:
                kind, name = tasks[i]
                table = name if kind == "chain" else registry.REGISTRY[name].model._meta.db_table
                progress(table, part.entries_checked or part.rows_checked)
    for i in range(len(tasks)):
        _merge(report, parts[i])


def check_checkpoint(report: Report, checkpoint: checkpoints.Checkpoint) -> None:
    """One signed checkpoint against the chains as they are now."""
    if not checkpoint.signature_valid:
        report.findings.append(
            Finding(
                "checkpoint",
                "checkpoint",
                checkpoint.name,
                "its signature does not match the ledger public key: "
                "the checkpoint is forged or altered",
            )
        )
        return
    for table, (seq, digest) in checkpoint.heads.items():
        head_seq, _ = report.heads.get(table, (0, GENESIS_HASH))
        if seq == 0:
            continue
        if head_seq < seq:
            report.findings.append(
                Finding(
                    "checkpoint",
                    table,
                    f"#{head_seq + 1}",
                    f"the chain ends at #{head_seq} but checkpoint {checkpoint.name} "
                    f"signed #{seq}: entries were cut off the end",
                )
            )
            continue
        model = next(c.model for c in CHAINS if c.model._meta.db_table == table)
        stored = model.objects.filter(seq=seq).values_list("hash", flat=True).first()
        if stored != digest:
            report.findings.append(
                Finding(
                    "checkpoint",
                    table,
                    f"#{seq}",
                    f"differs from signed checkpoint {checkpoint.name}: the chain was rewritten",
                )
            )


def verify(
    *,
    checkpoint: checkpoints.Checkpoint | None = None,
    use_checkpoint_dir: bool = True,
    public_key=None,
    progress: Progress | None = None,
    workers: int = 1,
    checkpoint_dir=None,
) -> Report:
    """Check everything. Every checkpoint in AJEYA_CHECKPOINT_DIR is checked (each one
    pins the chain up to its position), plus `checkpoint` if given. With `workers` > 1
    the chains and tables are checked in that many processes (see `_check_tables`)."""
    started = time.perf_counter()
    report = Report()
    _check_tables(report, progress, workers)
    for derived in registry.DERIVED_CHECKS:
        for table, ident, problem in derived():
            report.findings.append(Finding("derived", table, ident, problem))
    found: list[checkpoints.Checkpoint] = []
    if use_checkpoint_dir:
        found, unreadable = checkpoints.load_all(checkpoint_dir, public_key=public_key)
        for problem in unreadable:
            report.findings.append(Finding("checkpoint", "checkpoint", "file", problem))
    if checkpoint is not None:
        found.append(checkpoint)
    for each in found:
        check_checkpoint(report, each)
    valid = [c for c in found if c.signature_valid]
    if valid:
        report.checkpoint = max(valid, key=checkpoints.sort_key).summary()
        report.checkpoint["checked"] = len(found)
    else:
        report.notes.append("no signed checkpoint found: a cut-off tail cannot be detected")
    report.seconds = time.perf_counter() - started
    return report


def save_run(report: Report, *, trigger: str, started_at) -> VerificationRun:
    """Keep the outcome for the dashboards (not a ledgered record: a later run re-checks)."""
    return VerificationRun.objects.create(
        started_at=started_at,
        finished_at=clock.now(),
        ok=report.ok,
        entries_checked=report.entries_checked,
        rows_checked=report.rows_checked,
        checkpoint_seq=(report.checkpoint or {}).get("changes_seq"),
        # Kept for the dashboards, which IT/security also see: no recorded values.
        findings=[f.line(with_detail=False) for f in report.findings][:500],
        trigger=trigger,
    )
