"""Registrations per second through the full HTTP stack, against bare ORM inserts.

A logged-in clerk POSTs the registration form to gunicorn (2 workers) over loopback,
exactly as a browser does: CSRF, session, two-factor middleware, form validation,
the duplicate check, the service with its UHID allocation, seal and ledger entry,
then the redirect. The baseline is the same number of bare `Patient.objects.create`
calls (one autocommit each, no service, no ledger) in the same run and database.

    uv run python -m bench registration [--n 300] [--clients 4] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

from bench import common

PASSWORD = "bench-clerk-password-1"  # a throw-away account in a throw-away database


def main(argv: list[str]) -> int:
    parser = common.parser("registration")
    parser.add_argument("--n", type=int, default=300, help="registrations per client")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clerks")
    args = parser.parse_args(argv)
    results = common.run_on_databases(
        args.db,
        "bench.registration",
        [str(args.n), str(args.clients)],
        f"{args.clients} clients x {args.n} registrations",
    )
    rows = []
    for kind, run in results["runs"].items():
        for mode in ("sequential", "concurrent"):
            m = run[mode]
            rows.append(
                [
                    kind,
                    mode,
                    m["count"],
                    f"{m['per_second']:.0f}",
                    f"{m['p50_ms']:.1f}",
                    f"{m['p99_ms']:.1f}",
                    f"{run['orm_per_second']:.0f}",
                    f"{m['per_second'] / run['orm_per_second']:.3f}",
                ]
            )
    common.table(
        "Patient registration",
        ["db", "mode", "count", "HTTP reg/s", "p50 ms", "p99 ms", "ORM insert/s", "ratio"],
        rows,
    )
    path = common.save("registration", results)
    common.console.print(f"machine: {results['machine']}\nsaved {path}")
    return 0


# --- child: runs with Django set up against the benchmark database --------------------


def _details(rng: random.Random, n: int) -> dict:
    first = rng.choice(["Asha", "Vijay", "Meena", "Arun", "Farah", "Kiran", "Ravi", "Usha"])
    # Surnames built from the counter keep the duplicate check honest but quiet.
    letters = "".join(chr(65 + (n // 26**k) % 26) for k in range(4))
    return {
        "name": f"{first} {letters.title()}wala",
        "sex": rng.choice("MF"),
        "date_of_birth": "",
        "age_years": str(rng.randint(1, 90)),
        "phone": f"{rng.randint(6, 9)}{n:09d}",
        "address_line": "House 1, Main Road",
        "district": "South Delhi",
        "state": "DL",
        "pincode": "110029",
        "guardian_name": "",
        "guardian_relation": "",
        "abha_number": "",
        "aadhaar_last4": "",
        "category": "general",
        "scheme": "",
        "scheme_beneficiary_id": "",
    }


def _clerk_session(base: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=30)
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        data={
            "username": "benchclerk",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    return client


def _register_many(base: str, start: int, count: int, latencies: list[float], seed: int) -> int:
    client = _clerk_session(base)
    rng = random.Random(seed)
    stopped = 0
    for n in range(start, start + count):
        data = {**_details(rng, n), "csrfmiddlewaretoken": client.cookies["csrftoken"]}
        t0 = time.perf_counter()
        response = client.post("/patients/register/", data=data)
        if response.status_code == 200 and "already have" in response.text:
            stopped += 1  # the duplicate check stopped it: confirm, as a clerk would
            response = client.post("/patients/register/", data={**data, "confirm_new": "on"})
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 302:
            raise SystemExit(f"registration {n} failed: {response.status_code}")
    client.close()
    return stopped


def _summary(latencies: list[float], elapsed: float) -> dict:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "seconds": round(elapsed, 3),
        "per_second": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def _orm_baseline(count: int) -> float:
    from django.utils import timezone

    from ajeya.patients.models import Patient

    now = timezone.now()
    t0 = time.perf_counter()
    for i in range(count):
        Patient.objects.create(**common.bare_patient_fields(90_000_000 + i, now))
    return count / (time.perf_counter() - t0)


def child(n: int, clients: int) -> None:
    common.setup_django()
    from ajeya.accounts import services
    from ajeya.core.roles import Role

    services.user_create(
        actor=None,
        username="benchclerk",
        full_name="Bench Clerk",
        role=Role.REGISTRATION_CLERK,
        password=PASSWORD,
    )
    port = common.free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ajeya.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "--log-level",
            "warning",
        ],
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base)
        latencies: list[float] = []
        t0 = time.perf_counter()
        _register_many(base, 0, n, latencies, seed=1)
        sequential = _summary(latencies, time.perf_counter() - t0)

        latencies = []
        threads = [
            threading.Thread(target=_register_many, args=(base, (c + 1) * 100_000, n, latencies, c))
            for c in range(clients)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent = _summary(latencies, time.perf_counter() - t0)
    finally:
        server.terminate()
        server.wait(timeout=30)
    orm = _orm_baseline(n)
    from django.db import connection

    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "server_version": str(getattr(connection, "pg_version", "") or ""),
                "sequential": sequential,
                "concurrent": concurrent | {"clients": clients},
                "orm_per_second": orm,
            }
        )
    )


def _wait_for(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/accounts/login/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 30 s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), int(sys.argv[3]))
