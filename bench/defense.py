"""How fast the watcher sees an intrusion: from a canary record opened to its alert, and
from ransomware starting to encrypt the document store to its alert (targets: seconds,
and within 60 s).

Not timed: the demo departments and staff, 2,000 patients, one canary record, and a
document store of --files files (default 2,000) named by their SHA-256 like the reports
archive. The watcher runs as in `ajeya worker` (a thread; rules every
AJEYA_WATCH_SECONDS = 5, the store every AJEYA_DOCUMENT_SCAN_SECONDS = 30, the shipped
defaults).

Timed:
1. Canary: a doctor opens the canary record (an access entry, as the patient page
   writes it); the time until the critical alert is in the database. --canary runs.
2. Encryption burst: 200 of the store's files overwritten with random bytes, one after
   another as ransomware does; the time from the first write to the alert. --burst runs
   (each on fresh files).
3. Baselines in the same run: one round of every rule with nothing new (the watcher's
   cost when all is quiet), and one scan of the unchanged store (a directory listing and
   a stat per file), against which the detection times above are read.

    uv run python -m bench defense [--files 2000] [--canary 5] [--burst 3]
                                   [--db sqlite|postgres|both]
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import common

POLL = 0.05


def main(argv: list[str]) -> int:
    parser = common.parser("defense")
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--canary", type=int, default=5)
    parser.add_argument("--burst", type=int, default=3)
    args = parser.parse_args(argv)
    if min(args.files, args.canary, args.burst) < 1 or args.files < 200:
        parser.error("--files at least 200, the others at least 1")
    started = time.perf_counter()
    results = common.run_on_databases(
        args.db, "bench.defense", [str(args.files), str(args.canary), str(args.burst)],
        f"{args.files:,} documents; {args.canary} canary and {args.burst} encryption runs",
    )  # fmt: skip
    return common.report("defense", results, started, _print_run)


def _print_run(kind: str, run: dict) -> None:
    c, b = run["canary"], run["burst"]
    common.table(
        f"Time to alert on {kind} {run['server_version']}".rstrip(),
        ["what", "runs", "median s", "max s", "target"],
        [
            ["canary record opened", len(c), f"{statistics.median(c):.2f}", f"{max(c):.2f}",
             "seconds"],
            ["encryption burst (200 files)", len(b), f"{statistics.median(b):.2f}",
             f"{max(b):.2f}", "≤ 60 s"],
            ["baseline: one quiet round of the rules", "", f"{run['quiet_round']:.4f}", "", ""],
            [f"baseline: scan of {run['files']:,} unchanged files", "",
             f"{run['quiet_scan']:.4f}", "", ""],
        ],
    )  # fmt: skip
    common.console.print(
        f"{kind}: watcher every {run['interval']} s, store every {run['scan_every']} s; "
        f"the burst's alert named {run['burst_files']} files; setup {run['setup_seconds']:.0f} s"
    )


# --- child -----------------------------------------------------------------------------------


def _store(directory: Path, count: int) -> dict[str, str]:
    expected = {}
    for n in range(count):
        data = b"%PDF-1.4\n" + f"report {n}\n".encode() * 40
        digest = hashlib.sha256(data).hexdigest()
        (directory / f"{digest}.pdf").write_bytes(data)
        expected[f"{digest}.pdf"] = digest
    return expected


def _wait_for(rule: str, after: int) -> float:
    from ajeya.defense.models import Alert

    while not Alert.objects.filter(rule=rule, pk__gt=after).exists():
        time.sleep(POLL)
    return time.perf_counter()


def _last_alert() -> int:
    from ajeya.defense.models import Alert

    return Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _canary_runs(runs: int) -> list[float]:
    from ajeya.core.roles import Role
    from ajeya.defense import services
    from ajeya.defense.models import AlertStatus
    from ajeya.ledger.models import AccessKind
    from ajeya.ledger.services import patients_accessed
    from ajeya.patients.models import Patient

    doctor = common.staff("benchdoctor", "Bench Doctor", Role.DOCTOR, "defense-bench-pw-8d2k")
    times = []
    for n in range(runs):
        decoy = Patient.objects.order_by("pk")[n]
        services.canary_add(actor=None, patient=decoy, system=True)
        time.sleep(1.0)  # the canary is in place before anyone looks
        after = _last_alert()
        t0 = time.perf_counter()
        patients_accessed(actor=doctor, uhids=[decoy.uhid], what=AccessKind.VIEWED)
        times.append(_wait_for("canary", after) - t0)
        from ajeya.defense.models import Alert

        Alert.objects.filter(pk__gt=after).update(status=AlertStatus.RESOLVED)
    return times


def _burst_runs(directory: Path, expected: dict[str, str], runs: int) -> tuple[list[float], int]:
    from ajeya.defense.models import Alert, AlertStatus

    names = sorted(expected)
    times, named = [], 0
    for n in range(runs):
        time.sleep(1.0)
        after = _last_alert()
        t0 = time.perf_counter()
        for name in names[n * 200 : (n + 1) * 200]:
            (directory / name).write_bytes(os.urandom(4096))
        times.append(_wait_for("documents", after) - t0)
        alert = Alert.objects.filter(rule="documents", pk__gt=after).first()
        named = alert.evidence.get("total", 0)
        time.sleep(2 * POLL)  # the scan that raised it may still be folding in the tail
        Alert.objects.filter(pk__gt=after).update(status=AlertStatus.RESOLVED)
    return times, named


def child(files: int, canary_runs: int, burst_runs: int) -> None:
    started = time.perf_counter()
    common.setup_django()
    from django.conf import settings
    from django.db import connection

    from ajeya.accounts.seed import seed_staff
    from ajeya.core.seed import seed_departments
    from ajeya.defense import documents, watch
    from ajeya.patients.seed import seed_patients

    seed_staff(seed_departments())
    seed_patients(2_000, seed=1)
    directory = Path(tempfile.mkdtemp(prefix="ajeya-bench-store-"))
    settings.AJEYA_REPORTS_ARCHIVE_DIR = directory
    expected = _store(directory, files)
    watch._expected = lambda: {"reports-archive": expected}  # the runs' records, for the bench
    watch.run_rules()  # the seed's own entries: read once, before anything is timed
    t0 = time.perf_counter()
    watch.run_rules()
    quiet_round = time.perf_counter() - t0
    scanner = documents.Scanner()
    scanner.scan({"reports-archive": directory}, {"reports-archive": expected})
    t0 = time.perf_counter()
    scanner.scan({"reports-archive": directory}, {"reports-archive": expected})
    quiet_scan = time.perf_counter() - t0
    setup_seconds = time.perf_counter() - started
    watcher = watch.Watcher()
    watcher.start()
    try:
        canary = _canary_runs(canary_runs)
        burst, named = _burst_runs(directory, expected, burst_runs)
    finally:
        watcher.stop()
        watcher.join(timeout=60)
    print(json.dumps({
        "vendor": connection.vendor,
        "server_version": str(getattr(connection, "pg_version", "") or ""),
        "files": files, "canary": canary, "burst": burst, "burst_files": named,
        "quiet_round": quiet_round, "quiet_scan": quiet_scan,
        "interval": watcher.interval, "scan_every": watcher.scan_every,
        "setup_seconds": round(setup_seconds, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*(int(a) for a in sys.argv[2:5]))
