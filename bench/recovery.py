"""Recovery on a big hospital: `uv run python -m bench recovery --db both`.

Issue 9's targets, on a hospital of `--patients` (1,000,000) patients with `--visits`
OPD visits (with their appointments and consultations), every row sealed and on the
ledger as the services would leave it:

- restore time (`ajeya restore`, every phase: fetch, decrypt, load, replay, verify)
  against a plain copy of the same backup bytes on the same disk (the disk's physical
  limit), in the same run: target at most 3x;
- on PostgreSQL, against `pg_dump -Fd -j2` then `pg_restore -j2` of the same database;
- backup time and size;
- the shipping lag (RPO) under `--rate` (50) registrations a second for `--seconds`
  (60): for every registration, from its commit to the end of the shipping round that
  carried it to the target. Target: at most 5 s.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import common

TARGET_RATIO = 3.0
TARGET_LAG = 5.0


def main(argv: list[str]) -> int:
    parser = common.parser("recovery")
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=50, help="registrations a second")
    parser.add_argument("--seconds", type=int, default=60, help="how long the writer runs")
    args = parser.parse_args(argv)
    if min(args.patients, args.rate, args.seconds) < 1 or args.visits < 0:
        parser.error("--patients, --rate and --seconds must be at least 1")
    started = time.perf_counter()
    results = common.run_on_databases(
        args.db,
        "bench.recovery",
        [str(args.patients), str(args.visits), str(args.rate), str(args.seconds)],
        f"{args.patients:,} patients, {args.visits:,} visits; {args.rate}/s for {args.seconds} s",
    )
    return common.report("recovery", results, started, _print_run)


def _print_run(kind: str, run: dict) -> None:
    loaded = run["loaded"]
    common.table(
        f"{kind}: the hospital ({run['ledger_entries']:,} ledger entries, database "
        f"{run['database_bytes'] / 1e9:.2f} GB)",
        ["What", "Rows", "Seconds"],
        [[k, f"{n:,}", f"{s:.1f}"] for k, (n, s) in loaded.items()],
    )
    b = run["backup"]
    rows = [
        ["backup (`ajeya backup`)", f"{b['seconds']:.1f} s",
         f"{b['stored_bytes'] / 1e6:,.0f} MB stored from {b['plain_bytes'] / 1e6:,.0f} MB"],
        ["first shipment of the whole ledger", f"{run['first_ship_seconds']:.1f} s", ""],
        ["copy of the backup bytes (baseline)", f"{run['copy_seconds']:.1f} s",
         f"{run['copy_bytes'] / 1e6:,.0f} MB"],
    ]  # fmt: skip
    r = run["restore"]
    phases = ", ".join(f"{p} {s:.1f}" for p, s in r["phases"].items())
    rows.append(["`ajeya restore` (wall)", f"{r['wall']:.1f} s", phases])
    rows.append(["restore / copy", f"{r['wall'] / run['copy_seconds']:.1f}x",
                 f"target {TARGET_RATIO:.0f}x"])  # fmt: skip
    without_verify = r["wall"] - r["phases"]["verify"]
    rows.append(["restore without verify / copy",
                 f"{without_verify / run['copy_seconds']:.1f}x", ""])  # fmt: skip
    if "pg" in run:
        pg = run["pg"]
        rows.append(["pg_dump -Fd -j2 (baseline)", f"{pg['dump']:.1f} s", ""])
        rows.append(["pg_restore -j2 (baseline)", f"{pg['restore']:.1f} s", ""])
        rows.append(["restore / pg_restore", f"{r['wall'] / pg['restore']:.1f}x", ""])
    lag = run["lag"]
    rows.append([f"shipping lag at {lag['rate']:.0f} writes/s ({lag['writes']:,} writes)",
                 f"p50 {lag['p50']:.2f} s, p99 {lag['p99']:.2f} s, max {lag['max']:.2f} s",
                 f"target {TARGET_LAG:.0f} s; interval {lag['interval']} s"])  # fmt: skip
    common.table(f"{kind}: recovery", ["What", "Time", "Detail"], rows)


# --- the child ----------------------------------------------------------------------------


def _ledgered_loader(model, columns):
    """bench.reports' Loader, plus each row's seal and its ledger entry (CREATE) in the
    same transaction, as a service would leave them."""
    from ajeya.ledger import registry, services
    from ajeya.ledger.canonical import canonical_json, state_hash
    from ajeya.ledger.models import LedgerAction
    from bench.reports import Loader

    ledgered = registry.for_model(model)
    seal_at = columns.index("seal")

    class Ledgered(Loader):
        def _write(self, batch):
            sealed, changes = [], []
            for row in batch:
                values = dict(zip(columns, row, strict=True))
                state = canonical_json(ledgered.state_from_values(values))
                row = list(row)
                row[seal_at] = state_hash(state)
                sealed.append(tuple(row))
                changes.append(services.Change(
                    LedgerAction.CREATE, ledgered.subject_type,
                    str(values[ledgered.subject_attname]), state,
                ))  # fmt: skip
            super()._write(sealed)
            services.record_many(changes)

    return Ledgered(model, columns)


def _load(patients: int, visits: int) -> dict:
    from ajeya.accounts.models import User
    from ajeya.appointments.models import Appointment
    from ajeya.core.roles import Role
    from ajeya.opd.models import Consultation, Visit
    from ajeya.patients.models import Patient
    from ajeya.patients.seed import seed_patients
    from bench import reports

    loaded = {}
    started = time.perf_counter()
    clerks = list(User.objects.filter(role=Role.REGISTRATION_CLERK))
    done = 0
    while done < patients:
        n = min(100_000, patients - done)
        seed_patients(n, seed=1000 + done, clerks=clerks)
        done += n
        common.console.print(f"  patients {done:,}/{patients:,}", highlight=False)
    loaded["patients (ajeya seed)"] = (patients, time.perf_counter() - started)
    if not visits:
        return loaded
    started = time.perf_counter()
    world = reports._world()
    world["patient_ids"] = list(Patient.objects.values_list("id", flat=True))
    rng = random.Random(9)
    appointments, consultations, batch = [], [], []
    loaders = (
        _ledgered_loader(Appointment, reports.APPOINTMENT_COLUMNS),
        _ledgered_loader(Visit, reports.VISIT_COLUMNS),
        _ledgered_loader(Consultation, reports.CONSULTATION_COLUMNS),
    )
    counts = [0, 0, 0]

    def flush():
        counts[0] += loaders[0].load(appointments)
        counts[1] += loaders[1].load(batch)
        counts[2] += loaders[2].load(consultations)
        appointments.clear()
        batch.clear()
        consultations.clear()

    for visit, appointment, consultation in reports._plan_visits(world, visits, rng):
        if appointment:
            appointments.append(appointment)
        batch.append(visit)
        if consultation:
            consultations.append(consultation)
        if len(batch) == reports.CHUNK:
            flush()
    flush()
    seconds = time.perf_counter() - started
    loaded["visits (ledgered bulk)"] = (counts[1], seconds)
    loaded["appointments"] = (counts[0], seconds)
    loaded["consultations"] = (counts[2], seconds)
    return loaded


def _database_bytes() -> int:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "sqlite":
        name = settings.DATABASES["default"]["NAME"]
        return sum(os.path.getsize(p) for p in (name, f"{name}-wal") if os.path.exists(p))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def _writer(rate: int, seconds: int, commits: list, stop: threading.Event) -> None:
    from django.db import close_old_connections

    from ajeya.accounts.models import User
    from ajeya.core.roles import Role
    from ajeya.ledger.models import LedgerEntry
    from ajeya.patients import services

    clerk = User.objects.filter(role=Role.REGISTRATION_CLERK).first()
    started = time.monotonic()
    n = 0
    while not stop.is_set() and time.monotonic() - started < seconds:
        due = started + n / rate
        time.sleep(max(0.0, due - time.monotonic()))
        services.patient_register(
            actor=clerk, name="Lag Probe", sex="F", district="New Delhi", state="DL",
            pincode="110029", age_years=30 + n % 40,
        )  # fmt: skip
        committed = time.time()
        seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        commits.append((committed, seq))
        n += 1
    close_old_connections()


def _measure_lag(rate: int, seconds: int) -> dict:
    from django.conf import settings
    from django.db import close_old_connections

    from ajeya.resilience import shipping
    from ajeya.resilience.models import ShipState

    rounds: list[tuple[float, int]] = []
    stop = threading.Event()
    interval = settings.AJEYA_SHIP_SECONDS

    def ship_loop():
        while not stop.is_set():
            t0 = time.monotonic()
            shipping.ship_all()
            state = ShipState.objects.get(target="bench")
            rounds.append((time.time(), state.changes_seq))
            close_old_connections()
            stop.wait(max(0.0, interval - (time.monotonic() - t0)))

    commits: list[tuple[float, int]] = []
    shipper = threading.Thread(target=ship_loop)
    shipper.start()
    _writer(rate, seconds, commits, stop)
    time.sleep(interval * 2 + 1)  # let the last writes ship
    stop.set()
    shipper.join()
    lags = []
    for committed, seq in commits:
        shipped = next((t for t, last in rounds if last >= seq and t >= committed), None)
        if shipped is not None:
            lags.append(shipped - committed)
    lags.sort()
    return {
        "rate": len(commits) / seconds,
        "writes": len(commits),
        "unshipped": len(commits) - len(lags),
        "p50": statistics.median(lags),
        "p99": lags[int(len(lags) * 0.99) - 1] if len(lags) > 1 else lags[0],
        "max": lags[-1],
        "interval": interval,
        "rounds": len(rounds),
    }


def _copy_seconds(target: Path, backup_id: str) -> tuple[float, int]:
    """A plain copy of the backup's bytes (snapshot objects and documents) on this disk."""
    out = Path(tempfile.mkdtemp(prefix="ajeya-bench-copy-"))
    try:
        started = time.perf_counter()
        shutil.copytree(target / "snapshots" / backup_id, out / "snapshot")
        if (target / "documents").exists():
            shutil.copytree(target / "documents", out / "documents")
        os.sync()
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        return seconds, size
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _restore(work: Path, key: Path) -> dict:
    from django.db import connection

    place = work / "restored"
    place.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AJEYA_")}
    env.update(AJEYA_VAR_DIR=str(place), AJEYA_BACKUP_TARGETS=os.environ["AJEYA_BACKUP_TARGETS"])
    scratch = ""
    if connection.vendor == "postgresql":
        scratch = _pg_database("restored")
        env["DATABASE_URL"] = scratch
    else:
        env["DATABASE_URL"] = f"sqlite:///{place / 'ajeya.sqlite3'}"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ajeya", "restore", "--from", "bench", "--key", str(key),
         "--json"], env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"restore failed: {result.stderr[-2000:]}")
    outcome = json.loads(result.stdout)
    return {"wall": wall, **outcome}


def _pg_database(name: str) -> str:
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


def _pg_baseline(work: Path) -> dict:
    from ajeya.resilience import snapshot

    dump = work / "pgdump-baseline"
    env = snapshot.pg_env()
    started = time.perf_counter()
    subprocess.run([snapshot.pg_tool("pg_dump"), "-Fd", "-j2", f"--file={dump}"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    dumped = time.perf_counter() - started
    _pg_database("pgrestore_baseline")
    started = time.perf_counter()
    subprocess.run(
        [snapshot.pg_tool("pg_restore"), "-j2", "--no-owner", "--dbname=pgrestore_baseline",
         str(dump)], env=env, check=True, capture_output=True,
    )  # fmt: skip
    return {"dump": dumped, "restore": time.perf_counter() - started}


def child(patients: int, visits: int, rate: int, seconds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="ajeya-bench-recovery-"))
    (work / "target").mkdir()
    (work / "key").mkdir()
    os.environ["AJEYA_BACKUP_TARGETS"] = f"bench={work / 'target'}"
    os.environ["AJEYA_STAGING_DIR"] = str(work / "staging")
    common.setup_django()
    from django.db import connection
    from django.db.models import Max

    from ajeya.cli import run_seed
    from ajeya.ledger.models import LedgerEntry
    from ajeya.resilience import backup, keys, shipping

    try:
        seeded = time.perf_counter()
        run_seed(patients=300, seed=9)
        loaded = {"demo hospital (ajeya seed)": (300, time.perf_counter() - seeded)}
        loaded.update(_load(patients, visits))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
        key = keys.init(work / "key").private_path
        started = time.perf_counter()
        shipping.ship_all()
        first_ship = time.perf_counter() - started
        started = time.perf_counter()
        result = backup.backup(trigger="bench")[0]
        backup_seconds = time.perf_counter() - started
        lag = _measure_lag(rate, seconds)
        copy_seconds, copy_bytes = _copy_seconds(work / "target", result.backup_id)
        restored = _restore(work, key)
        out = {
            "vendor": connection.vendor,
            "loaded": loaded,
            "ledger_entries": LedgerEntry.objects.aggregate(m=Max("seq"))["m"],
            "database_bytes": _database_bytes(),
            "first_ship_seconds": first_ship,
            "backup": {
                "seconds": backup_seconds,
                "stored_bytes": result.run.stored_bytes,
                "plain_bytes": result.run.plain_bytes,
            },
            "copy_seconds": copy_seconds,
            "copy_bytes": copy_bytes,
            "restore": restored,
            "lag": lag,
        }
        if connection.vendor == "postgresql":
            out["pg"] = _pg_baseline(work)
        print(json.dumps(out, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*(int(a) for a in sys.argv[2:6]))
