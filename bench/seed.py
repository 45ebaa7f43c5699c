"""`ajeya seed` speed: demo patients per second, against bare bulk inserts.

The seed writes each patient with its name tokens, seal and hash-chained ledger entry.
The baseline bulk-inserts the same number of bare patient rows (no tokens, no ledger)
in the same run and database. Target: 100,000 patients in under a minute on 2 cores.

    uv run python -m bench seed [--patients 100000] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import json
import sys
import time

from bench import common


def main(argv: list[str]) -> int:
    parser = common.parser("seed")
    parser.add_argument("--patients", type=int, default=100_000)
    args = parser.parse_args(argv)
    results = common.run_on_databases(
        args.db, "bench.seed", [str(args.patients)], f"seeding {args.patients:,} patients"
    )
    rows = []
    for kind, run in results["runs"].items():
        rows.append(
            [
                kind,
                f"{run['count']:,}",
                f"{run['seed_seconds']:.1f}",
                f"{run['count'] / run['seed_seconds']:,.0f}",
                f"{run['count'] / run['baseline_seconds']:,.0f}",
                f"{run['baseline_seconds'] / run['seed_seconds']:.3f}",
                f"{run['ledger_entries']:,}",
            ]
        )
    common.table(
        "ajeya seed",
        ["db", "patients", "seconds", "patients/s", "bare rows/s", "ratio", "ledger entries"],
        rows,
    )
    path = common.save("seed", results)
    common.console.print(f"machine: {results['machine']}\nsaved {path}")
    return 0


def child(count: int) -> None:
    common.setup_django()
    from django.db import transaction
    from django.utils import timezone

    from ajeya.ledger.models import LedgerEntry
    from ajeya.patients.models import Patient
    from ajeya.patients.seed import seed_patients

    t0 = time.perf_counter()
    seed_patients(count, seed=1)
    seed_seconds = time.perf_counter() - t0
    entries = LedgerEntry.objects.count()

    now = timezone.now()
    rows = (Patient(**common.bare_patient_fields(50_000_000 + i, now)) for i in range(count))
    t0 = time.perf_counter()
    with transaction.atomic():
        Patient.objects.bulk_create(rows, batch_size=5000)
    baseline_seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "count": count,
                "seed_seconds": seed_seconds,
                "baseline_seconds": baseline_seconds,
                "ledger_entries": entries,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
