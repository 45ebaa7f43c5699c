"""Run a benchmark by name: `uv run python -m bench registration --db both`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "registration": "bench.registration",
    "seed": "bench.seed",
    "ledger": "bench.ledger",
    "opd": "bench.opd",
    "ipd": "bench.ipd",
    "lab": "bench.lab",
    "billing": "bench.billing",
    "reports": "bench.reports",
    "recovery": "bench.recovery",
    "downtime": "bench.downtime",
    "defense": "bench.defense",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        names = ", ".join(BENCHMARKS)
        print(f"usage: python -m bench NAME [options]   (NAME is one of: {names})", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]])
    return module.main(argv[1:])


raise SystemExit(main(sys.argv[1:]))
