"""The ledger's cost and its verification speed.

1. Write overhead: patient registrations per second through the service with the ledger
   recording, against the same service with `ledger.services.suspended()`, in
   alternating rounds of one run. Target: at most 15% slower.
2. Verification: chain-check speed over --entries ledger entries (default 1,000,000),
   against merely reading the same rows in the same run. Target: at least 200,000
   entries/s on one core.

    uv run python -m bench ledger [--registrations 6000] [--entries 1000000] [--db ...]
"""

from __future__ import annotations

import json
import sys
import time

from bench import common


def main(argv: list[str]) -> int:
    parser = common.parser("ledger")
    parser.add_argument("--registrations", type=int, default=6000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    results = common.run_on_databases(
        args.db,
        "bench.ledger",
        [str(args.registrations), str(args.entries)],
        f"{args.registrations:,} registrations, {args.entries:,} entries to verify",
    )
    rows = []
    for kind, run in results["runs"].items():
        rows.append(
            [
                kind,
                f"{run['with_ledger_per_s']:.0f}",
                f"{run['without_ledger_per_s']:.0f}",
                f"{run['overhead_pct']:.1f}% (median {run['overhead_median_pct']:.1f}%)",
                f"{run['entries']:,}",
                f"{run['verify_per_s']:,.0f} ({run['verify_per_cpu_s']:,.0f} a CPU-second)",
                f"{run['read_only_per_s']:,.0f}",
                f"{run['hash_only_per_s']:,.0f}",
                f"{run['rows_per_s']:,.0f} ({run['rows_read_only_per_s']:,.0f} read only)",
            ]
        )
    common.table(
        "Ledger",
        [
            "db",
            "reg/s ledger",
            "reg/s no ledger",
            "overhead",
            "entries",
            "verify/s",
            "read-only/s",
            "SHA-256 only/s",
            "rows verified/s",
        ],
        rows,
    )
    path = common.save("ledger", results)
    common.console.print(f"machine: {results['machine']}\nsaved {path}")
    return 0


def _details(n: int) -> dict:
    letters = "".join(chr(97 + (n // 26**k) % 26) for k in range(4))
    return {
        "name": f"Bench Patient {letters}",
        "sex": "F",
        "age_years": 40,
        "phone": f"9{n:09d}",
        "district": "South Delhi",
        "state": "DL",
        "pincode": "110029",
    }


def _registrations(count: int, rounds: int = 12) -> dict:
    """Alternating rounds, in ABBA order so a slow stretch of the machine falls on both
    modes alike; the overhead is given over the totals and as the median of each pair
    of neighbouring rounds (this shared machine's pauses hit single rounds)."""
    import statistics

    from ajeya.accounts import services as accounts
    from ajeya.core.roles import Role
    from ajeya.ledger import services as ledger
    from ajeya.patients import services

    clerk = accounts.user_create(
        actor=None,
        username="benchclerk",
        full_name="Bench Clerk",
        role=Role.REGISTRATION_CLERK,
        password="ledger-bench-7q2x",
    )
    per_round = max(1, count // rounds)
    timings: dict[bool, list[float]] = {True: [], False: []}
    n = 0
    for _ in range(100):  # warm up: imports, caches, the first pages of each index
        n += 1
        services.patient_register(actor=clerk, **_details(n))
    for r in range(rounds):
        for recording in (True, False) if r % 2 == 0 else (False, True):
            t0 = time.perf_counter()
            for _ in range(per_round):
                n += 1
                details = _details(n)
                if recording:
                    services.patient_register(actor=clerk, **details)
                else:
                    with ledger.suspended():
                        services.patient_register(actor=clerk, **details)
            timings[recording].append(time.perf_counter() - t0)
    total = per_round * rounds
    pairs = [w / wo - 1 for w, wo in zip(timings[True], timings[False], strict=True)]
    return {
        "with_ledger_per_s": total / sum(timings[True]),
        "without_ledger_per_s": total / sum(timings[False]),
        "overhead_pct": (sum(timings[True]) / sum(timings[False]) - 1) * 100,
        "overhead_median_pct": statistics.median(pairs) * 100,
        "overhead_rounds_pct": [round(p * 100, 1) for p in pairs],
    }


def _fill(entries: int) -> None:
    from django.db import transaction

    from ajeya.ledger import services as ledger
    from ajeya.ledger.models import LedgerAction, LedgerEntry

    have = LedgerEntry.objects.count()
    state = {
        "id": 0,
        "uhid": "100000000000",
        "name": "Asha Devi",
        "sex": "F",
        "date_of_birth": "1980-01-01",
        "phone": "9810012345",
        "district": "South Delhi",
        "state": "DL",
        "pincode": "110029",
        "category": "general",
        "version": 1,
        "address_line": "House 12, Sector 4",
        "guardian_name": "Mohan Lal",
    }
    batch = 50_000
    while have < entries:
        size = min(batch, entries - have)
        with transaction.atomic():
            ledger.record_many(
                ledger.Change(
                    action=LedgerAction.CREATE,
                    subject_type="bench.row",
                    subject_id=str(have + i),
                    after={**state, "id": have + i},
                )
                for i in range(size)
            )
        have += size


def _read_only(table: str) -> float:
    from django.db import connection

    sql = (
        f"SELECT seq, payload, prev_hash, hash FROM {table} "  # noqa: S608
        "WHERE seq > %s ORDER BY seq LIMIT 20000"
    )
    last, count = 0, 0
    t0 = time.perf_counter()
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last])
            rows = cursor.fetchall()
        if not rows:
            break
        count += len(rows)
        last = rows[-1][0]
    return count / (time.perf_counter() - t0)


def _hash_ceiling(chain) -> float:
    """Entries/s for SHA-256 alone over the very bytes verification hashes."""
    import hashlib

    from ajeya.ledger.verification import chain_pages

    count, seconds = 0, 0.0
    for rows in chain_pages(chain):
        t0 = time.perf_counter()
        for row in rows:
            hashlib.sha256(row[2]).hexdigest()
        seconds += time.perf_counter() - t0
        count += len(rows)
    return count / seconds


def _rows_check() -> dict:
    """The row check (every seeded patient's state against its latest entry) in rows/s,
    against reading the same rows alone in the same run."""
    from django.db import connection

    from ajeya.ledger import verification

    report = verification.Report()
    t0 = time.perf_counter()
    verification.check_rows(report, subject_types=["patients.patient"])
    seconds = time.perf_counter() - t0
    assert report.findings == [], report.findings[:3]
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM patients_patient")
        while cursor.fetchmany(5000):
            pass
    read = time.perf_counter() - t0
    return {
        "rows": report.rows_checked,
        "rows_per_s": report.rows_checked / seconds,
        "rows_read_only_per_s": report.rows_checked / read,
        "rows_rechecked": report.rows_rechecked,
    }


def child(registrations: int, entries: int) -> None:
    common.setup_django()
    from ajeya.ledger import services as ledger
    from ajeya.ledger import verification
    from ajeya.ledger.models import LedgerEntry
    from ajeya.patients.seed import seed_patients

    seed_patients(20_000, seed=1)  # sealed and on the ledger, for the row check
    rows = _rows_check()
    writes = _registrations(registrations)
    _fill(entries)
    total = LedgerEntry.objects.count()
    read_only = _read_only(LedgerEntry._meta.db_table)
    report = verification.Report()
    t0, cpu0 = time.perf_counter(), time.process_time()
    verification.check_chain(ledger.CHANGES, report)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert report.findings == [], report.findings[:3]
    hash_only = _hash_ceiling(ledger.CHANGES)
    print(
        json.dumps(
            {
                **writes,
                "entries": total,
                "verify_seconds": seconds,
                "verify_per_s": total / seconds,
                "verify_per_cpu_s": total / cpu,
                "read_only_per_s": read_only,
                **rows,
                "hash_only_per_s": hash_only,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), int(sys.argv[3]))
