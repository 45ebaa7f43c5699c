"""What every benchmark needs: a throw-away database (SQLite or PostgreSQL), the
machine's description, a child process with Django set up, and a results table."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
console = Console(highlight=False)


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gib = round(kib / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL on loopback, as .ci/postgres.sh makes for the tests."""
    if not (PG_BIN / "initdb").exists():
        raise SystemExit(f"PostgreSQL binaries not found in {PG_BIN}")
    workdir = Path(tempfile.mkdtemp(prefix="ajeya-bench-pg-"))
    runas: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = workdir / "data"
    subprocess.run(
        [*runas, PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "ajeya"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *runas,
            PG_BIN / "pg_ctl",
            "-D",
            data,
            "-l",
            workdir / "log",
            "-w",
            "-o",
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgres://ajeya@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*runas, PG_BIN / "pg_ctl", "-D", data, "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def database(kind: str) -> Iterator[dict[str, str]]:
    """Environment variables for a fresh var/ directory and a fresh database."""
    var = Path(tempfile.mkdtemp(prefix="ajeya-bench-var-"))
    try:
        if kind == "sqlite":
            yield {"AJEYA_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var / 'bench.sqlite3'}"}
        elif kind == "postgres":
            with postgres() as url:
                yield {"AJEYA_VAR_DIR": str(var), "DATABASE_URL": url}
        else:
            raise SystemExit(f"unknown database {kind!r}: use sqlite or postgres")
    finally:
        shutil.rmtree(var, ignore_errors=True)


def run_child(module: str, env: dict[str, str], args: list[str]) -> dict:
    """Run `python -m module args` with Django pointed at `env`; it prints one JSON line."""
    full_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "ajeya.config.settings"}
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=full_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        console.print(result.stderr[-3000:])
        raise SystemExit(f"{module} failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def parser(name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m bench {name}")
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    return p


def run_on_databases(db: str, module: str, child_args: list[str], label: str) -> dict:
    """Run the benchmark's child once per chosen database, each on a fresh one."""
    kinds = ["sqlite", "postgres"] if db == "both" else [db]
    results: dict = {"machine": machine(), "runs": {}}
    for kind in kinds:
        console.print(f"[bold]{kind}[/]: {label}")
        with database(kind) as env:
            results["runs"][kind] = run_child(module, env, ["--child", *child_args])
    return results


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ajeya.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def report(name: str, results: dict, started: float, print_run) -> int:
    """Print each database's run, the machine and the total time; save the results."""
    import time

    results["total_seconds"] = round(time.perf_counter() - started, 1)
    for kind, run in results["runs"].items():
        print_run(kind, run)
    path = save(name, results)
    console.print(
        f"machine: {results['machine']}\ntotal {results['total_seconds']:.0f} s\nsaved {path}"
    )
    return 0


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def table(title: str, columns: list[str], rows: list[list]) -> None:
    t = Table(title=title)
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*[str(cell) for cell in row])
    console.print(t)


def bare_patient_fields(serial: int, now) -> dict:
    """A patient row with no service behind it: the baseline the benchmarks compare to."""
    import datetime as dt

    from ajeya.core.identifiers import make_uhid

    return {
        "uhid": make_uhid(serial),
        "name": "Baseline Row",
        "name_key": "baseline row",
        "sex": "F",
        "date_of_birth": dt.date(1990, 1, 1),
        "district": "South Delhi",
        "state": "DL",
        "pincode": "110029",
        "registered_at": now,
        "updated_at": now,
        "seal": "",
    }


# --- in a benchmark's child, with Django set up -------------------------------------


def latency_summary(latencies: list[float], queries: int | str = "") -> dict:
    """Count, total, rate, p50 and p99 (ms) of a list of seconds."""
    import statistics

    ordered = sorted(latencies)
    seconds = sum(ordered)
    return {
        "count": len(ordered),
        "seconds": round(seconds, 3),
        "per_second": len(ordered) / seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "queries": queries,
    }


def freeze_clock(moment) -> None:
    """Every service reads the time through ajeya.core.clock: stop it at `moment`
    (as the tests' clock_at does)."""
    import datetime as dt

    from ajeya.core import clock

    frozen = moment.astimezone(dt.UTC)
    clock.now = lambda: frozen


def freeze_heap() -> None:
    """Move what the benchmark itself holds out of the collector's sight: a server
    process does not hold it, and its full sweeps would show in the p99s."""
    import gc

    gc.collect()
    gc.freeze()


def count_queries(work) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured.captured_queries)


def staff(username: str, full_name: str, role, password: str):
    """A throw-away account in the benchmark's throw-away database, made the real way."""
    from ajeya.accounts import services as accounts

    return accounts.user_create(
        actor=None, username=username, full_name=full_name, role=role, password=password
    )
