"""The laboratory at a busy hospital's rate: analyzers' HL7 results through the real
listener, and report PDFs.

Target (issue 6): at least 500 HL7 ORU^R01 messages a second through the MLLP listener,
end to end (the analyzer has its ACK), on a two-core machine on SQLite.

Not timed (but reported): the catalogue, a technician and a pathologist, one walk-in
order per patient through `order_create`, every sample collected and received through
the services. --mix of the orders (default 0.5) are a CBC (13 OBX per message, sent by
the Sysmex "XN-1000"), the rest a random glucose (1 OBX, Beckman "AU480"). Every
message is for a sample of its own: --messages + --single + --profile-messages patients.

1. HL7 end to end: `ajeya lab listen --port P` started as production starts it (its own
   process, the benchmark database's environment); --analyzers connections (default 16:
   a large laboratory's analyzers) each send their share of --messages (default 800) one
   at a time, each waiting for
   its ACK before the next, as analyzers do: messages/s, p50/p99/max per message, the
   ack codes (all must be AA and name the message's control id), the CPU time the
   listener, its store process (ADR 0014) and PostgreSQL spent a message (the clients
   start once the listener prints "Listening", i.e. once its store process is ready),
   and afterwards, in the database, the
   results ENTERED and the InboundMessages APPLIED. Then one connection alone sends
   --single (default 100) messages for other samples.
   --history (default 400) of the patients of the first part had an earlier order of
   the same panel, stored from the analyzer, verified and authorised during the set-up:
   their results are compared with those (the delta check), and the tables hold
   authorised results and earlier messages; the check counts the comparisons.
   Baselines in the same run: the same clients against a trivial MLLP server in the
   same kind of process (the listener's framing, a fixed ACK per frame, no parse, no
   database): the floor of sockets and framing; and reading alone in this process
   (`hl7.decode` + `read_oru` + `build_ack`).
2. Where the time goes: `Listener.process` (read, store, ACK: the listener's work
   without the socket) in this process on --profile-messages (default 400) more
   samples: its rate for each kind of message alone and the statements one message
   makes; then `Listener.process_many` on batches of 16 of both kinds (what the
   listener's store thread does): its rate, and a cProfile of more batches.
3. Report PDF: --reports orders (default 100) verified by the technician and authorised
   by a pathologist (which issues the report), then the report PDF drawn in this
   process: reports/s, p50/p99, with and without `report_for_print` (the integrity
   check before printing), and a cProfile of 10. Baseline: an empty page through the
   same `core.pdf` layout.

The defaults keep a run of both databases to a few minutes on two cores;
`--messages 2000 --reports 200` is the issue's full size.

    uv run python -m bench lab [--messages 800] [--analyzers 16] [--single 100]
                               [--mix 0.5] [--reports 100] [--profile-messages 400]
                               [--history 400]
                               [--db sqlite|postgres|both]
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import os
import pstats
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench import common

PASSWORD = "lab-bench-password-7q2m"  # throw-away accounts in a throw-away database
TARGET = 500  # messages/s on SQLite (issue 6)
START, END = b"\x0b", b"\x1c\r"
PORT_WAIT = 60.0  # seconds for a server process to start listening
PDF_PROFILED = 10  # report PDFs drawn under cProfile
BATCH = 16  # messages a batch in the in-process store measurement and its profile
CBC_PANEL, GLUCOSE_PANEL = "CBC", "RBS"
# (XN-1000 code, value range, decimals, unit): what a Sysmex sends for a CBC.
CBC_VALUES = [
    ("HGB", 10.5, 16.5, 1, "g/dL"),
    ("WBC", 3.5, 12.0, 1, "10*3/uL"),
    ("RBC", 3.8, 5.9, 2, "10*6/uL"),
    ("HCT", 34.0, 50.0, 1, "%"),
    ("MCV", 78.0, 100.0, 1, "fL"),
    ("MCH", 26.0, 34.0, 1, "pg"),
    ("MCHC", 31.0, 36.0, 1, "g/dL"),
    ("PLT", 140.0, 420.0, 0, "10*3/uL"),
    ("NEUT%", 40.0, 75.0, 1, "%"),
    ("LYMPH%", 18.0, 45.0, 1, "%"),
    ("MONO%", 2.0, 10.0, 1, "%"),
    ("EO%", 1.0, 6.0, 1, "%"),
    ("BASO%", 0.0, 1.0, 1, "%"),
]
GLUCOSE_VALUES = [("GLUR", 70.0, 220.0, 0, "mg/dL")]
# cProfile's self time, by where the code lives (first match wins).
BUCKETS = [
    ("HL7 reading and ACK (ajeya.lab.hl7)", ("ajeya/lab/hl7.py",)),
    ("lab service logic (ajeya.lab.services)", ("ajeya/lab/services.py",)),
    ("ledger: seals, hashes, appends", ("ajeya/ledger/", "ajeya/core/bulk.py")),
    ("database driver (sqlite3 / psycopg)", ("sqlite3", "psycopg", "_sqlite3")),
    ("Django ORM (query building, model objects)", ("django/db/",)),
    ("listener, spool, context", ("ajeya/lab/listener.py", "ajeya/lab/spool.py", "ajeya/core/")),
]
OTHER = "builtins and stdlib (copy, getattr, isinstance...: mostly the ORM's)"
KEY_FUNCTIONS = [
    ("ajeya/lab/hl7.py", "read_oru"),
    ("ajeya/lab/hl7.py", "build_ack"),
    ("ajeya/lab/services.py", "analyzer_message_store"),
    ("ajeya/lab/services.py", "_seen"),
    ("ajeya/lab/services.py", "_live_results"),
    ("ajeya/lab/services.py", "evaluate"),
    ("ajeya/lab/services.py", "_previous_results"),
    ("ajeya/lab/services.py", "_save_results"),
    ("ajeya/lab/services.py", "_start"),
    ("ajeya/ledger/services.py", "create_sealed"),
    ("ajeya/ledger/services.py", "save_sealed"),
    ("ajeya/ledger/services.py", "record_many"),
    ("ajeya/ledger/registry.py", "seal"),
    ("django/db/backends/utils.py", "_execute"),
]


def main(argv: list[str]) -> int:
    parser = common.parser("lab")
    parser.add_argument("--messages", type=int, default=800, help="patients and messages")
    parser.add_argument("--analyzers", type=int, default=16, help="connections at once")
    parser.add_argument("--single", type=int, default=100, help="messages on one connection")
    parser.add_argument("--mix", type=float, default=0.5, help="share of CBCs (rest glucose)")
    parser.add_argument("--reports", type=int, default=100, help="reports authorised and drawn")
    parser.add_argument(
        "--profile-messages", type=int, default=400, help="messages stored in-process"
    )
    parser.add_argument(
        "--history", type=int, default=400, help="patients with an earlier authorised order"
    )
    args = parser.parse_args(argv)
    if min(args.messages, args.analyzers, args.single, args.profile_messages) < 1:
        parser.error("--messages, --analyzers, --single and --profile-messages must be >= 1")
    if not 0 <= args.mix <= 1:
        parser.error("--mix is a share between 0 and 1")
    if not 1 <= args.reports <= args.messages:
        parser.error("--reports must be between 1 and --messages")
    if args.analyzers > args.messages:
        parser.error("--analyzers cannot exceed --messages")
    if not 0 <= args.history <= args.messages:
        parser.error("--history must be between 0 and --messages")
    started = time.perf_counter()
    child_args = [
        str(args.messages),
        str(args.analyzers),
        str(args.single),
        str(args.mix),
        str(args.reports),
        str(args.profile_messages),
        str(args.history),
    ]
    results = common.run_on_databases(
        args.db,
        "bench.lab",
        child_args,
        f"{args.messages:,} messages on {args.analyzers} connections, {args.single:,} on one, "
        f"{args.mix:.0%} CBC; {args.history} with history; {args.reports} reports",
    )
    return common.report("lab", results, started, _print_run)


# --- printing ---------------------------------------------------------------------------


def _row(label: str, conns, m: dict, floor: dict | None = None, queries="") -> list:
    ratio = ""
    if floor:
        times = floor["per_second"] / m["per_second"]
        ratio = f"{m['per_second'] / floor['per_second']:.4f} (1/{times:,.0f})"
    return [
        label,
        conns,
        f"{m['count']:,}",
        f"{m['per_second']:,.0f}",
        f"{m['p50_ms']:.2f}",
        f"{m['p99_ms']:.2f}",
        f"{m['max_ms']:.1f}" if "max_ms" in m else "",
        queries,
        ratio,
    ]


def _print_run(kind: str, run: dict) -> None:
    version = run["server_version"]
    hl7, base = run["hl7"], run["baseline"]
    many, one = hl7["many"], hl7["one"]
    c = run["analyzers"]
    rows = [
        _row("listener, end to end", c, many, base["many"]),
        _row("trivial ACK server (floor)", c, base["many"]),
        _row("listener, end to end", 1, one, base["one"]),
        _row("trivial ACK server (floor)", 1, base["one"]),
        _row("read_oru + build_ack only", "in-process", run["parse"]),
    ]
    for name, m in run["process"].items():
        rows.append(
            _row(f"Listener.process, {name}", "in-process", m, queries=m.get("queries", ""))
        )
    common.table(
        f"HL7 ORU^R01 on {kind} {version}".rstrip(),
        [
            "what",
            "connections",
            "messages",
            "per s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "queries",
            "vs floor",
        ],
        rows,
    )
    for m in (many, one):
        common.console.print(
            f"{kind}: {m['connections']} connection(s): acks {m['acks']}, "
            f"failures {len(m['failures'])}; CPU a message: listener {m['cpu_ms']:.1f} ms"
            + (f", its store process {m['store_cpu_ms']:.1f} ms" if m.get("store_cpu_ms") else "")
            + (f", PostgreSQL {m['db_cpu_ms']:.1f} ms" if m.get("db_cpu_ms") else "")
        )
        for failure in m["failures"][:10]:
            common.console.print(f"[red]  {failure}[/]")
    check = hl7["check"]
    ok = "[green]ok[/]" if check["ok"] else "[red]MISMATCH[/]"
    common.console.print(
        f"{kind}: in the database {ok}: results ENTERED {check['entered']:,} "
        f"(expected {check['expected_entered']:,}), messages APPLIED {check['applied']:,} "
        f"(expected {check['expected_applied']:,}), rejected frames {check['rejected_frames']}, "
        f"results compared with an earlier one {check.get('compared', 0):,} "
        f"(expected {check.get('expected_compared', 0):,})"
    )
    for line in check.get("log_errors", []):
        common.console.print(f"  listener log: {line}", style="red", markup=False)
    if kind == "sqlite":
        met = many["per_second"] >= TARGET
        colour = "green" if met else "red"
        common.console.print(
            f"[{colour}]target {TARGET}/s on SQLite: {'met' if met else 'NOT met'} "
            f"({many['per_second']:,.0f}/s on {c} connections)[/]"
        )
    pdfs = run["pdf"]
    if "error" in pdfs:
        common.console.print(f"[red]{kind}: report PDFs FAILED: {pdfs['error']}[/]")
    else:
        _print_pdfs(kind, run)
    _print_profile(kind, run["profile"], "store", "Listener.process (in-process)")
    if run["pdf_profile"]:
        _print_profile(kind, run["pdf_profile"], "pdf", "report PDF")
    for name, sql in run["queries"].items():
        common.console.print(f"{kind}: {name}: {len(sql)} statements: {_query_kinds(sql)}")
    setup = run["setup"]
    common.console.print(
        f"{kind}: setup {run['setup_seconds']:.0f} s: {setup['patients']:,} patients, "
        f"{setup.get('history', 0):,} with an earlier authorised order; "
        + ", ".join(
            f"{name} {m['per_second']:,.0f}/s (p50 {m['p50_ms']:.1f} ms)"
            for name, m in setup["steps"].items()
        )
        + f"; run {run['child_seconds']:.0f} s"
    )


def _print_pdfs(kind: str, run: dict) -> None:
    pdfs, version = run["pdf"], run["server_version"]
    common.table(
        f"Report PDF on {kind} {version}".rstrip(),
        ["what", "count", "per s", "p50 ms", "p99 ms", "queries", "vs empty page"],
        [
            _pdf_row("verify (technician)", pdfs["verify"]),
            _pdf_row("authorise (issues the report)", pdfs["authorise"]),
            _pdf_row("report PDF", pdfs["pdf"], pdfs["empty"]),
            _pdf_row("report_for_print + PDF", pdfs["print"], pdfs["empty"]),
            _pdf_row("empty page, same layout", pdfs["empty"], pdfs["empty"]),
        ],
    )
    common.console.print(
        f"{kind}: report PDFs {pdfs['kib']:.0f} KiB on average, {pdfs['pages']} page(s) the largest"
    )


def _pdf_row(label: str, m: dict, empty: dict | None = None) -> list:
    ratio = f"{m['p50_ms'] / empty['p50_ms']:.1f} x" if empty else ""
    return [
        label,
        f"{m['count']:,}",
        f"{m['per_second']:,.0f}",
        f"{m['p50_ms']:.1f}",
        f"{m['p99_ms']:.1f}",
        m.get("queries", ""),
        ratio,
    ]


def _print_profile(kind: str, profile: dict, unit: str, title: str) -> None:
    per = profile["per"]
    rows = [
        [name, f"{seconds / per * 1000:.2f}", f"{seconds / profile['total'] * 100:.0f}%"]
        for name, seconds in profile["buckets"].items()
    ]
    common.table(
        f"{title}: cProfile self time on {kind} ({per} {unit}s, profiler overhead included)",
        ["where", f"ms a {unit}", "share"],
        rows,
    )
    if profile.get("functions"):
        common.console.print(
            f"{kind}: cumulative ms a {unit}: "
            + ", ".join(
                f"{name} {seconds / per * 1000:.2f}"
                for name, seconds in profile["functions"].items()
            )
        )


def _query_kinds(sql: list[str]) -> str:
    """Statements by kind and table: "3x SELECT lab_result, 1x INSERT ledger_ledgerentry"."""
    kinds: Counter = Counter()
    for statement in sql:
        rows = re.match(r"(\d+) times: (.*)", statement, re.S)  # an executemany
        text = rows.group(2) if rows else statement
        words = text.replace("(", " ").split()
        verb = words[0].upper() if words else "?"
        marker = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}
        table = ""
        if verb in marker and marker[verb] in words:
            at = words.index(marker[verb])
            table = words[at + 1].strip('"') if at + 1 < len(words) else ""
        label = f"{verb} {table}".strip()
        if rows and int(rows.group(1)) > 1:
            label += f" ({rows.group(1)} rows)"
        kinds[label] += 1
    return ", ".join(f"{n}x {what}" for what, n in kinds.most_common())


# --- child: runs with Django set up against the benchmark database ----------------------


def _orders(count: int, mix: float) -> list[str]:
    """Which panel each patient gets: CBCs spread evenly through the list."""
    panels, made = [], 0
    for i in range(count):
        wanted = round((i + 1) * mix)
        panels.append(CBC_PANEL if wanted > made else GLUCOSE_PANEL)
        made = wanted
    return panels


def _setup(total: int, mix: float, history: int = 0) -> dict:
    from ajeya.core.roles import Role
    from ajeya.lab import catalogue, services
    from ajeya.patients.models import Patient
    from ajeya.patients.seed import seed_patients

    catalogue.load()
    technician = common.staff("benchtech", "Bench Technician", Role.LAB_TECHNICIAN, PASSWORD)
    pathologist = common.staff("benchpath", "Dr. Bench Pathologist", Role.PATHOLOGIST, PASSWORD)
    seed_patients(total, seed=1)
    patients = list(Patient.objects.order_by("id")[:total])
    panels = _orders(total, mix)
    timings: dict[str, list[float]] = {
        "order_create": [],
        "sample_collect": [],
        "sample_receive": [],
    }
    _history(patients[:history], panels[:history], technician, pathologist)
    samples = []
    for patient, panel in zip(patients, panels, strict=True):
        t0 = time.perf_counter()
        order = _walk_in(patient, panel, technician)
        t1 = time.perf_counter()
        (sample,) = order.samples.all()
        sample = services.sample_collect(actor=technician, sample=sample)
        t2 = time.perf_counter()
        sample = services.sample_receive(actor=technician, accession=sample.accession)
        t3 = time.perf_counter()
        timings["order_create"].append(t1 - t0)
        timings["sample_collect"].append(t2 - t1)
        timings["sample_receive"].append(t3 - t2)
        samples.append((panel, sample.accession, patient.uhid))
    return {
        "technician": technician,
        "pathologist": pathologist,
        "samples": samples,
        "steps": {name: common.latency_summary(ts) for name, ts in timings.items()},
    }


def _walk_in(patient, panel: str, technician):
    from ajeya.lab import services
    from ajeya.lab.models import OrderSource

    return services.order_create(
        actor=technician,
        patient=patient,
        tests=[panel],
        source=OrderSource.WALK_IN,
        referring_doctor="Dr. Outside Referrer",
    )


def _history(patients, panels, technician, pathologist) -> None:
    """An earlier order of the same panel for each of `patients`, its results from the
    analyzer (stored in batches by the listener's own `process_many`, in this process),
    verified and authorised: the delta check of the measured messages then finds a
    previous value, and the tables hold authorised results and earlier messages, as a
    working laboratory's do."""
    from ajeya.lab import services
    from ajeya.lab.listener import Listener

    rng = random.Random(5)
    accessions, frames = [], []
    for n, (patient, panel) in enumerate(zip(patients, panels, strict=True), start=1):
        order = _walk_in(patient, panel, technician)
        (sample,) = order.samples.all()
        services.sample_collect(actor=technician, sample=sample)
        services.sample_receive(actor=technician, accession=sample.accession)
        frames.append(_message(panel, sample.accession, patient.uhid, f"BENCH-H{n:06d}", rng))
        accessions.append(sample.accession)
    listener = Listener("127.0.0.1", 0)
    for start in range(0, len(frames), BATCH):
        acks = listener.process_many(frames[start : start + BATCH], "127.0.0.1")
        if not all("MSA|AA|" in ack for ack in acks):
            raise SystemExit(f"a history message was refused: {acks}")
    for accession in accessions:
        services.results_verify(actor=technician, sample=accession)
        services.results_authorise(actor=pathologist, sample=accession)


def _message(panel: str, accession: str, uhid: str, control_id: str, rng) -> bytes:
    from tests.lab import hl7_samples

    sender, values = ("XN-1000", CBC_VALUES) if panel == CBC_PANEL else ("AU480", GLUCOSE_VALUES)
    segments = [hl7_samples.pid(uhid), hl7_samples.obr(accession)]
    for n, (code, low, high, places, unit) in enumerate(values, start=1):
        value = f"{rng.uniform(low, high):.{places}f}"
        segments.append(hl7_samples.obx(n, code, value, unit))
    text = "\r".join([hl7_samples.msh(control_id, sender=sender), *segments]) + "\r"
    return text.encode("utf-8")


def _messages(samples: list[tuple], prefix: str, rng) -> list[tuple[str, str, bytes]]:
    """(panel, control id, message bytes) per sample."""
    out = []
    for n, (panel, accession, uhid) in enumerate(samples, start=1):
        control_id = f"{prefix}{n:06d}"
        out.append((panel, control_id, _message(panel, accession, uhid, control_id, rng)))
    return out


# -- the clients -------------------------------------------------------------------------


def _msa(ack: bytes) -> tuple[str, str]:
    for segment in ack.decode("utf-8", "replace").split("\r"):
        if segment.startswith("MSA|"):
            fields = segment.split("|")
            return (fields[1] if len(fields) > 1 else "", fields[2] if len(fields) > 2 else "")
    return "", ""


def _analyzer(address, messages, out: dict, check_ids: bool, start, done, measured) -> None:
    """One analyzer: a message, wait for its ACK, the next. It waits at `start` for the
    others, and at the end at `done` until the CPU times are read (`measured`): only then
    does it hang up, so the server's database sessions are still there to be read."""
    latencies, codes, failures = [], Counter(), []
    sock = None
    try:
        sock = socket.create_connection(address, timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        start.wait()
        out["start"] = time.perf_counter()
        for _, control_id, data in messages:
            frame = START + data + END
            t0 = time.perf_counter()
            sock.sendall(frame)
            while END not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                buffer += chunk
            end = buffer.index(END)
            ack, buffer = buffer[:end], buffer[end + 2 :]
            latencies.append(time.perf_counter() - t0)
            code, acked = _msa(ack.lstrip(START))
            codes[code or "none"] += 1
            if code != "AA" or (check_ids and acked != control_id):
                text = ack.lstrip(START).decode("utf-8", "replace").replace("\r", " | ")
                failures.append(f"{control_id}: {code or 'no MSA'} {text[:300]}")
        out["end"] = time.perf_counter()
    except (OSError, ConnectionError, threading.BrokenBarrierError) as exc:
        start.abort()
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        out.update(latencies=latencies, codes=codes, failures=failures)
        with contextlib.suppress(threading.BrokenBarrierError):
            done.wait()
        measured.wait(60)
        if sock is not None:
            sock.close()


def _send(address, messages, connections: int, pid: int, *, check_ids: bool) -> dict:
    """`connections` analyzers at once, message i on connection i % connections; with
    the CPU time the server process (`pid`) and a PostgreSQL server spent meanwhile."""
    shares = [messages[n::connections] for n in range(connections)]
    start, done = threading.Barrier(connections), threading.Barrier(connections + 1)
    measured = threading.Event()
    outs: list[dict] = [{} for _ in range(connections)]
    threads = [
        threading.Thread(
            target=_analyzer, args=(address, share, out, check_ids, start, done, measured)
        )
        for share, out in zip(shares, outs, strict=True)
    ]
    common.freeze_heap()
    cpu_before = _cpu_seconds(pid)
    children_before = {p: _cpu_seconds(p) for p in _children(pid)}
    db_before = {p: _cpu_seconds(p) for p in _postgres_pids()}
    for thread in threads:
        thread.start()
    done.wait()
    cpu = _cpu_seconds(pid) - cpu_before
    children_cpu = sum(_cpu_seconds(p) - children_before.get(p, 0.0) for p in _children(pid))
    db_cpu = sum(_cpu_seconds(p) - db_before.get(p, 0.0) for p in _postgres_pids())
    measured.set()
    for thread in threads:
        thread.join()
    errors = [out["error"] for out in outs if "error" in out]
    if errors:
        raise SystemExit(f"an analyzer connection failed: {errors[0]}")
    latencies = [x for out in outs for x in out["latencies"]]
    wall = max(out["end"] for out in outs) - min(out["start"] for out in outs)
    summary = common.latency_summary(latencies)
    summary.update(
        per_second=len(latencies) / wall,
        seconds=round(wall, 3),
        max_ms=max(latencies) * 1000,
        connections=connections,
        acks=dict(sum((out["codes"] for out in outs), Counter())),
        failures=[f for out in outs for f in out["failures"]],
        cpu_ms=cpu / len(latencies) * 1000,
        store_cpu_ms=children_cpu / len(latencies) * 1000,
        db_cpu_ms=db_cpu / len(latencies) * 1000,
    )
    return summary


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux /proc)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _postgres_pids() -> list[int]:
    """The benchmark's PostgreSQL server and its backends (none on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    port = str(connection.settings_dict["PORT"])
    parents = _parents()
    for pid in parents:
        with contextlib.suppress(OSError):
            words = [
                w.decode(errors="replace")
                for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            ]
            if words[0].endswith("/postgres") and port in _after(words, "-p"):
                return [pid, *_children(pid, parents)]
    return []


def _parents() -> dict[int, int]:
    """Every process's parent (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _children(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    """The processes `pid` started (the listener's store process)."""
    parents = _parents() if parents is None else parents
    return [child for child, parent in parents.items() if parent == pid]


def _after(words: list[str], flag: str) -> list[str]:
    return [words[n + 1] for n, word in enumerate(words[:-1]) if word == flag]


# -- server processes ---------------------------------------------------------------------


@contextlib.contextmanager
def _server(command: list[str], port: int, log_path: Path, ready: bytes = b""):
    """A server in its own process with this process's environment (the benchmark's
    database); yields its pid once its port accepts connections and its output holds
    `ready`."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=common.ROOT, env=os.environ.copy()
        )
        try:
            deadline = time.monotonic() + PORT_WAIT
            while True:
                if process.poll() is not None:
                    raise SystemExit(
                        f"{command[0]} exited ({process.returncode}):\n"
                        + log_path.read_text(errors="replace")[-3000:]
                    )
                try:
                    if ready not in log_path.read_bytes():
                        raise OSError("not ready")
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{command} did not listen on port {port}") from None
                    time.sleep(0.05)
            yield process.pid
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _listener_command(port: int) -> list[str]:
    ajeya = Path(sys.executable).parent / "ajeya"
    return [str(ajeya), "lab", "listen", "--host", "127.0.0.1", "--port", str(port)]


def ack_server(port: int) -> None:
    """The floor: a thread per connection, the listener's own MLLP framing, and one fixed
    ACK for every frame (no parse, no database)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajeya.config.settings")
    import django

    django.setup()  # no migrate, no query: this server never touches the database
    from ajeya.lab import hl7
    from ajeya.lab.listener import Framer, frame_bytes
    from ajeya.lab.services import AckCode

    ack = frame_bytes(hl7.build_ack(hl7.Header(control_id="FIXED"), AckCode.ACCEPT))

    def serve(sock: socket.socket) -> None:
        framer = Framer(1 << 20)
        with sock:
            while chunk := sock.recv(65536):
                for _ in framer.feed(chunk):
                    sock.sendall(ack)

    server = socket.create_server(("127.0.0.1", port))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        sock, _ = server.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


# -- the in-process parts ------------------------------------------------------------------


def _parse_only(messages) -> dict:
    from ajeya.lab import hl7
    from ajeya.lab.services import AckCode

    def one(data: bytes) -> None:
        text = hl7.decode(data)
        message = hl7.read_oru(text)
        hl7.build_ack(hl7.read_header(text), AckCode.ACCEPT, f"{len(message.observations)}")

    one(messages[0][2])  # warm-up
    common.freeze_heap()
    latencies = []
    for _, _, data in messages:
        t0 = time.perf_counter()
        one(data)
        latencies.append(time.perf_counter() - t0)
    return common.latency_summary(latencies)


def _in_process(messages) -> tuple[dict, dict, dict]:
    """`Listener.process` on messages of fresh samples: the warm-up and the query count
    on the first of each kind, the rate on the rest, then a cProfile of another run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ajeya.lab.listener import Listener

    listener = Listener("127.0.0.1", 0)
    by_kind: dict[str, list] = {}
    for message in messages:
        by_kind.setdefault(message[0], []).append(message)
    results, queries = {}, {}
    profiled = []
    for panel, group in by_kind.items():
        if len(group) < 2:
            continue
        listener.process(group[0][2], "127.0.0.1")  # warm-up
        with CaptureQueriesContext(connection) as captured:
            ack = listener.process(group[1][2], "127.0.0.1")
        if "MSA|AA|" not in ack:
            raise SystemExit(f"in-process store refused a {panel} message: {ack!r}")
        name = f"{panel} ({len(CBC_VALUES) if panel == CBC_PANEL else 1} OBX)"
        queries[name] = [q["sql"] for q in captured.captured_queries]
        # PostgreSQL's ledger appends are COPYs, which Django's query log does not see:
        # one follows each chain-head lock.
        queries[name] += [
            "COPY ledger_ledgerentry (not in Django's query log)"
            for q in queries[name]
            if "ajeya_chain_head" in q
        ]
        rest = group[2:]
        half = len(rest) // 2
        timed, profiled_part = rest[:half] or rest, rest[half:]
        common.freeze_heap()
        latencies = []
        for _, _, data in timed:
            t0 = time.perf_counter()
            listener.process(data, "127.0.0.1")
            latencies.append(time.perf_counter() - t0)
        if latencies:
            results[name] = common.latency_summary(latencies, len(queries[name]))
        profiled.extend(profiled_part)
    # The store thread's work: both kinds of messages in the order they were made (the
    # mix), BATCH at a time.
    profiled.sort(key=lambda item: item[1])
    half = len(profiled) // 2
    timed, profiled = profiled[:half], profiled[half:]
    batches = [timed[i : i + BATCH] for i in range(0, len(timed), BATCH)]
    common.freeze_heap()
    started = time.perf_counter()
    for batch in batches:
        acks = listener.process_many([data for _, _, data in batch], "127.0.0.1")
        if not all("MSA|AA|" in ack for ack in acks):
            raise SystemExit("in-process batch store refused a message")
    if timed:
        seconds = time.perf_counter() - started
        results[f"batches of {BATCH}, both kinds"] = {
            "count": len(timed),
            "per_second": len(timed) / seconds,
            "p50_ms": seconds / len(batches) * 1000,  # a batch's time, not a message's
            "p99_ms": 0.0,
        }
    profiler = cProfile.Profile()
    profiler.enable()
    for start in range(0, len(profiled), BATCH):
        listener.process_many([data for _, _, data in profiled[start : start + BATCH]], "peer")
    profiler.disable()
    return results, queries, _summarise(profiler, max(1, len(profiled)))


def _summarise(
    profiler: cProfile.Profile,
    per: int,
    bucket_markers=BUCKETS,
    other: str = OTHER,
    key_functions=KEY_FUNCTIONS,
) -> dict:
    """Own time per area (the first bucket whose marker the function's place contains),
    cumulative time of the key functions, and the 25 costliest functions, per item."""
    stats = pstats.Stats(profiler)
    buckets = {name: 0.0 for name, _ in bucket_markers}
    buckets[other] = 0.0
    functions = {}
    total = 0.0
    top = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
        total += tottime
        where = f"{filename}:{name}"
        for bucket, markers in bucket_markers:
            if any(marker in where for marker in markers):
                buckets[bucket] += tottime
                break
        else:
            buckets[other] += tottime
        for path, function in key_functions:
            if filename.endswith(path) and name == function:
                label = "SQL execute (driver + round trip)" if function == "_execute" else function
                functions[label] = functions.get(label, 0.0) + cumtime
        top.append((tottime, f"{Path(filename).name}:{line}({name})", calls))
    top.sort(reverse=True)
    summary = {
        "per": per,
        "total": total,
        "buckets": {k: v for k, v in sorted(buckets.items(), key=lambda kv: -kv[1]) if v},
        "top": [
            {"function": f, "tottime_ms_each": t / per * 1000, "calls": c} for t, f, c in top[:25]
        ],
    }
    if key_functions:
        summary["functions"] = functions
    return summary


def _check(prefix_many: str, prefix_one: str, messages, history: int = 0) -> dict:
    from django.db.models import Q

    from ajeya.lab.models import (
        InboundMessage,
        MessageStatus,
        Result,
        ResultSource,
        ResultStatus,
    )

    expected_entered = sum(len(CBC_VALUES) if p == CBC_PANEL else 1 for p, _, _ in messages)
    mine = InboundMessage.objects.filter(
        Q(control_id__startswith=prefix_many) | Q(control_id__startswith=prefix_one)
    )
    applied = mine.filter(status=MessageStatus.APPLIED).count()
    entered = Result.objects.filter(
        status=ResultStatus.ENTERED, source=ResultSource.ANALYZER, message__in=mine
    ).count()
    rejected = _rejected_frames()
    # The delta check compared each result of a patient with history to the earlier one.
    compared = Result.objects.filter(message__in=mine).exclude(previous_value="").count()
    expected_compared = sum(
        len(CBC_VALUES) if p == CBC_PANEL else 1 for p, _, _ in messages[:history]
    )
    return {
        "entered": entered,
        "expected_entered": expected_entered,
        "compared": compared,
        "expected_compared": expected_compared,
        "applied": applied,
        "expected_applied": len(messages),
        "rejected_frames": rejected,
        "ok": entered == expected_entered
        and applied == len(messages)
        and rejected == 0
        and compared == expected_compared,
    }


def _rejected_frames() -> int:
    """Frames the listener could not read or store, kept in its spool's rejected/."""
    from django.conf import settings

    rejected = Path(settings.AJEYA_HL7_SPOOL_DIR) / "rejected"
    return len(list(rejected.glob("*"))) if rejected.exists() else 0


# -- reports ------------------------------------------------------------------------------


def _reports(world: dict, accessions: list[str]) -> tuple[dict, dict]:
    from ajeya.core import pdf
    from ajeya.lab import documents, selectors, services

    tech, path = world["technician"], world["pathologist"]
    timings: dict[str, list[float]] = {"verify": [], "authorise": []}
    numbers = []
    common.freeze_heap()
    for accession in accessions:
        t0 = time.perf_counter()
        services.results_verify(actor=tech, sample=accession)
        t1 = time.perf_counter()
        report = services.results_authorise(actor=path, sample=accession)
        t2 = time.perf_counter()
        timings["verify"].append(t1 - t0)
        timings["authorise"].append(t2 - t1)
        numbers.append(report.number)
    out = {name: common.latency_summary(ts) for name, ts in timings.items()}
    printed_by = "Dr. Bench Pathologist"
    site = "https://ajeya.hospital.example"

    def draw(number: str) -> bytes:
        report, versions = selectors.report_for_print(number)
        return documents.report_pdf(
            report,
            versions=versions,
            url=site + documents.verify_path(report),
            printed_by=printed_by,
        )

    draw(numbers[0])  # warm-up: fonts, imports
    loaded = [selectors.report_for_print(n) for n in numbers]
    out["print"] = _timed(lambda n: draw(n), numbers)
    out["print"]["queries"] = common.count_queries(lambda: draw(numbers[0]))

    def pdf_only(item) -> bytes:
        report, versions = item
        content = documents.report_pdf(
            report,
            versions=versions,
            url=site + documents.verify_path(report),
            printed_by=printed_by,
        )
        return content

    drawn: list[bytes] = []
    out["pdf"] = _timed(lambda item: drawn.append(pdf_only(item)), loaded)
    out["pdf"]["queries"] = common.count_queries(lambda: pdf_only(loaded[0]))
    if not all(content.startswith(b"%PDF") for content in drawn):
        raise SystemExit("a report PDF is not a PDF")
    out["kib"] = sum(len(content) for content in drawn) / len(drawn) / 1024
    out["pages"] = max(len(re.findall(rb"/Type /Page[^s]", content)) for content in drawn)

    def empty(_):
        return pdf.render(
            title="Laboratory report",
            printed_by=printed_by,
            pagesize=documents.A4,
            draw_body=lambda c, top: None,
            margin=documents.MARGIN,
        )

    out["empty"] = _timed(empty, numbers)
    profiler = cProfile.Profile()
    chosen = loaded[:PDF_PROFILED]
    profiler.enable()
    for item in chosen:
        pdf_only(item)
    profiler.disable()
    return out, _summarise(profiler, len(chosen), PDF_BUCKETS, "other", ())


def _timed(work, items) -> dict:
    common.freeze_heap()
    latencies = []
    for item in items:
        t0 = time.perf_counter()
        work(item)
        latencies.append(time.perf_counter() - t0)
    return common.latency_summary(latencies)


PDF_BUCKETS = [
    (
        "QR code (reportlab's encoder, its shapes, renderPDF)",
        ("barcode/qr", "graphics/", "lib/attrmap", "lib/validators"),
    ),
    ("number formatting (rl_accel's pure-Python fp_str)", ("lib/rl_accel",)),
    ("TrueType fonts: widths, subsetting", ("ttfonts", "pdfmetrics")),
    ("text wrapping (simpleSplit)", ("lib/utils",)),
    ("canvas and PDF objects", ("pdfgen/", "pdfbase/pdfdoc", "pdfbase/")),
    ("compression (zlib)", ("zlib",)),
    ("Ajeya's layout (lab.documents, core.pdf)", ("ajeya/",)),
]


# -- the child ------------------------------------------------------------------------------


def child(
    count: int, analyzers: int, single: int, mix: float, reports: int, profile: int, history: int
) -> None:
    started = time.perf_counter()
    common.setup_django()
    from django.conf import settings
    from django.db import connection

    world = _setup(count + single + profile, mix, history)
    setup_seconds = time.perf_counter() - started
    rng = random.Random(6)
    samples = world["samples"]
    many = _messages(samples[:count], "BENCH-M", rng)
    one = _messages(samples[count : count + single], "BENCH-S", rng)
    in_process = _messages(samples[count + single :], "BENCH-P", rng)
    parse = _parse_only(many)
    process, queries, profiled = _in_process(in_process)
    connection.close()  # the servers below are other processes: hold no connection open

    var = Path(settings.VAR_DIR)
    port = common.free_port()
    address = ("127.0.0.1", port)
    command = [sys.executable, "-m", "bench.lab", "--ack-server", str(port)]
    with _server(command, port, var / "ack-server.log") as pid:
        baseline = {
            "many": _send(address, many, analyzers, pid, check_ids=False),
            "one": _send(address, one, 1, pid, check_ids=False),
        }
    port = common.free_port()
    address = ("127.0.0.1", port)
    log_path = var / "listener.log"
    # "Listening" is printed once the listener's store process is ready (ADR 0014).
    with _server(_listener_command(port), port, log_path, ready=b"Listening for HL7") as pid:
        hl7 = {
            "many": _send(address, many, analyzers, pid, check_ids=True),
            "one": _send(address, one, 1, pid, check_ids=True),
        }
    hl7["check"] = _check("BENCH-M", "BENCH-S", many + one, history)
    logged = log_path.read_text(errors="replace").splitlines()
    hl7["check"]["log_errors"] = [line for line in logged if " ERROR " in line][:10]
    hl7["check"]["ok"] = hl7["check"]["ok"] and not hl7["check"]["log_errors"]
    if not hl7["check"]["ok"]:  # the listener's log says why (stdout carries the JSON)
        sys.stderr.write(log_path.read_text(errors="replace")[-3000:])

    chosen = [accession for _, accession, _ in samples[:reports]]
    try:
        pdfs, pdf_profile = _reports(world, chosen)
    except Exception as exc:  # a failure is a finding: the HL7 numbers still print
        pdfs, pdf_profile = {"error": f"{type(exc).__name__}: {exc}"}, {}
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "server_version": str(getattr(connection, "pg_version", "") or ""),
                "messages": count,
                "analyzers": analyzers,
                "single": single,
                "mix": mix,
                "hl7": hl7,
                "baseline": baseline,
                "parse": parse,
                "process": process,
                "queries": queries,
                "profile": profiled,
                "pdf": pdfs,
                "pdf_profile": pdf_profile,
                "setup": {
                    "patients": len(samples),
                    "history": history,
                    "steps": world["steps"],
                },
                "setup_seconds": round(setup_seconds, 1),
                "child_seconds": round(time.perf_counter() - started, 1),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        a = sys.argv[2:9]
        child(int(a[0]), int(a[1]), int(a[2]), float(a[3]), int(a[4]), int(a[5]), int(a[6]))
    elif sys.argv[1:2] == ["--ack-server"]:
        ack_server(int(sys.argv[2]))
