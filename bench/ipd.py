"""The wards at a big hospital's scale: the bed board of a 2,500-bed hospital, full.

On a Monday at 07:00 IST (the clock frozen), --beds beds (default 2,500) in wards of
--ward-size beds (default 50, rooms of 10): one ward in ten is an ICU, one an HDU, one
private, two semi-private and the rest general. One more ward has no beds (the empty
board below). Not timed: the wards, rooms and beds (through the services), a unit
(an OPD clinic), a doctor and a clerk, and as many demo patients as beds.

1. Admission: every bed is filled by the clerk through `admission_create` (bed lock,
   IP number, stay, bed status, all on the ledger): admissions/s, p50/p99, and the
   queries one admission makes. The first admission is the warm-up and counts no time.
2. Pages, through Django's test client, logged in as the doctor: the hospital-wide
   bed board, its htmx fragment (what the board fetches every 10 s), one ward's board,
   and the `bed_board()` selector alone: p50/p99 over --board-requests requests each
   for the whole hospital (default 30: a request is most of a second) and --requests
   (default 100) for the rest, the queries one request makes, and the page's size.
   Two baselines in the same run: a bare `list(Bed.objects.all())` (the rows, no
   patients, no template) and the htmx fragment of the ward with no beds (the same
   view and template with no tiles: what the login, session and page cost without the
   board). The fragment over the empty one is what the 2,500 tiles cost.

The objects the benchmark itself holds (2,500 patients, beds and admissions) are moved
out of the garbage collector's sight (`gc.freeze`) before each timed part: a server
process does not hold them, and their gen-2 sweeps would otherwise show up in the p99s.

    uv run python -m bench ipd [--beds 2500] [--ward-size 50] [--requests 100]
                               [--board-requests 30] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from collections import Counter
from zoneinfo import ZoneInfo

from bench import common

PASSWORD = "ipd-bench-password-8r3w"  # throw-away accounts in a throw-away database
IST = ZoneInfo("Asia/Kolkata")
DAY = dt.date(2026, 1, 5)  # a Monday
ROOM_SIZE = 10
EMPTY_WARD = "EMPTY"
# Ward n's category is PATTERN[n % 10]: 10% ICU, 10% HDU, 10% private, 20% semi-private.
PATTERN = ["icu", "hdu", "private", "semi_private", "semi_private"] + ["general"] * 5


def main(argv: list[str]) -> int:
    parser = common.parser("ipd")
    parser.add_argument("--beds", type=int, default=2_500)
    parser.add_argument("--ward-size", type=int, default=50, help="beds a ward")
    parser.add_argument(
        "--requests", type=int, default=100, help="requests to one ward and the baselines"
    )
    parser.add_argument(
        "--board-requests",
        type=int,
        default=30,
        help="requests to the whole-hospital board, its fragment and the selector",
    )
    args = parser.parse_args(argv)
    if args.beds < 2 or min(args.ward_size, args.requests, args.board_requests) < 1:
        parser.error("--beds must be at least 2; the others at least 1")
    started = time.perf_counter()
    results = common.run_on_databases(
        args.db,
        "bench.ipd",
        [str(args.beds), str(args.ward_size), str(args.requests), str(args.board_requests)],
        f"{args.beds:,} beds in wards of {args.ward_size}, all occupied; "
        f"{args.board_requests} requests to the whole board, {args.requests} to the others",
    )
    return common.report("ipd", results, started, _print_run)


def _print_run(kind: str, run: dict) -> None:
    admit = run["admission"]
    common.table(
        f"IPD admission on {kind} {run['server_version']}".rstrip(),
        ["what", "count", "per s", "p50 ms", "p99 ms", "queries"],
        [
            [
                "admit (service)",
                f"{admit['count']:,}",
                f"{admit['per_second']:,.0f}",
                f"{admit['p50_ms']:.1f}",
                f"{admit['p99_ms']:.1f}",
                admit["queries"],
            ]
        ],
    )
    empty = run["pages"]["empty_htmx"]
    rows, failures = [], []
    labels = {
        "board": f"board, {run['beds']:,} beds",
        "board_htmx": "board, htmx fragment",
        "ward": f"one ward, {run['ward_beds']} beds",
        "selector": "bed_board() alone",
        "bare_beds": "bare Bed list",
        "empty_htmx": "htmx, ward of 0 beds",
    }
    for name, label in labels.items():
        m = run["pages"][name]
        if "error" in m:
            rows.append([f"{label}: FAILED", "", "", "", "", "", ""])
            failures.append(f"{label}: {m['error']}")
            continue
        ratio = ""
        if "p50_ms" in empty:
            times = m["p50_ms"] / empty["p50_ms"]
            ratio = f"{times:.1f} x" if times < 10 else f"{times:.0f} x"
        rows.append(
            [
                label,
                f"{m['count']:,}",
                f"{m['p50_ms']:.1f}",
                f"{m['p99_ms']:.1f}",
                m.get("queries", ""),
                f"{m['bytes'] / 1024:,.0f}" if "bytes" in m else "",
                ratio,
            ]
        )
    common.table(
        f"Bed board on {kind} {run['server_version']}".rstrip(),
        ["what", "requests", "p50 ms", "p99 ms", "queries", "KiB", "p50 vs empty"],
        rows,
    )
    fragment = run["pages"]["board_htmx"]
    if "p50_ms" in fragment and "p50_ms" in empty:
        per_tile = (fragment["p50_ms"] - empty["p50_ms"]) * 1000 / run["beds"]
        common.console.print(f"{kind}: the board costs {per_tile:.0f} µs a bed (htmx p50)")
    common.console.print(
        f"{kind}: setup {run['setup_seconds']:.1f} s (of it admitting {admit['seconds']:.1f} s), "
        f"run {run['child_seconds']:.1f} s; {run['wards']} wards, {run['beds']:,} beds, "
        f"{run['occupied']:,} occupied, categories {run['categories']}"
    )
    for failure in failures:
        common.console.print(f"[red]{failure}[/]")


# --- child: runs with Django set up against the benchmark database --------------------


def _setup(bed_count: int, ward_size: int) -> dict:
    from ajeya.appointments import services as appointments
    from ajeya.core.roles import Role
    from ajeya.core.seed import seed_departments
    from ajeya.ipd import services as ipd
    from ajeya.ipd.models import Bed
    from ajeya.patients.models import Patient
    from ajeya.patients.seed import seed_patients

    departments = seed_departments()
    clinical = [departments[c] for c in ("MED", "SURG", "PAED", "OBG", "ORTH", "CARD")]
    clerk = common.staff("benchclerk", "Bench Clerk", Role.REGISTRATION_CLERK, PASSWORD)
    doctor = common.staff("benchdoctor", "Bench Doctor", Role.DOCTOR, PASSWORD)
    unit = appointments.clinic_create(
        actor=None, code="MED-1", name="Medicine Unit 1", department=departments["MED"], room="1"
    )
    wards = math.ceil(bed_count / ward_size)
    made = 0
    for n in range(wards):
        category = PATTERN[n % len(PATTERN)]
        ward = ipd.ward_create(
            actor=None,
            code=f"W{n + 1:03d}",
            name=f"{category.replace('_', '-').capitalize()} ward {n + 1}",
            department=clinical[n % len(clinical)],
            floor=str(n // 5),
        )
        in_ward = min(ward_size, bed_count - made)
        room = None
        for b in range(in_ward):
            if b % ROOM_SIZE == 0:
                room = ipd.room_create(actor=None, ward=ward, number=f"{b // ROOM_SIZE + 1}")
            label = f"{ward.code}-{b + 1:02d}"
            ipd.bed_create(actor=None, room=room, label=label, category=category)
        made += in_ward
    ipd.ward_create(actor=None, code=EMPTY_WARD, name="Empty ward", department=clinical[0])
    seed_patients(bed_count, seed=1)
    return {
        "clerk": clerk,
        "doctor": doctor,
        "unit": unit,
        "wards": wards,
        "beds": list(Bed.objects.order_by("id")),
        "patients": list(Patient.objects.order_by("id")[:bed_count]),
    }


def _admit_all(world: dict) -> dict:
    """Every bed filled through the service, the clerk admitting, one patient a bed."""
    from ajeya.ipd import services as ipd
    from ajeya.ipd.models import AdmissionSource

    def admit(i: int) -> None:
        ipd.admission_create(
            actor=world["clerk"],
            patient=world["patients"][i],
            bed=world["beds"][i],
            attending_doctor=world["doctor"],
            unit=world["unit"],
            provisional_icd10="J18.9",
            source=AdmissionSource.EMERGENCY,
        )

    queries = common.count_queries(lambda: admit(0))  # also the warm-up: imports, caches
    latencies = []
    for i in range(1, len(world["beds"])):
        t0 = time.perf_counter()
        admit(i)
        latencies.append(time.perf_counter() - t0)
    return common.latency_summary(latencies, queries)


def _timed(work, requests: int) -> dict:
    work()  # warm-up: imports, template compilation, caches
    seen = []
    queries = common.count_queries(lambda: seen.append(work()))
    latencies = []
    for _ in range(requests):
        t0 = time.perf_counter()
        work()
        latencies.append(time.perf_counter() - t0)
    result = common.latency_summary(latencies, queries)
    if hasattr(seen[0], "content"):
        result["bytes"] = len(seen[0].content)
    return result


def _pages(world: dict, requests: int, board_requests: int) -> dict:
    from django.test import Client
    from django.urls import reverse

    from ajeya.ipd import selectors
    from ajeya.ipd.models import Bed

    client = Client()
    client.force_login(world["doctor"])  # doctors need no second factor

    def page(url: str, **headers):
        def get():
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                where = response.get("Location", "")
                raise RuntimeError(f"status {response.status_code} {where}".rstrip())
            return response

        return get

    board, ward = reverse("ipd:board"), reverse("ipd:ward", args=["W001"])
    empty = reverse("ipd:ward", args=[EMPTY_WARD])
    htmx = {"HX-Request": "true"}
    work = {
        "board": page(board),
        "board_htmx": page(board, **htmx),
        "ward": page(ward),
        "selector": selectors.bed_board,
        "bare_beds": lambda: list(Bed.objects.all()),
        "empty_htmx": page(empty, **htmx),
    }
    whole = {"board", "board_htmx", "selector"}
    results = {}
    for name, get in work.items():
        try:
            common.freeze_heap()
            results[name] = _timed(get, board_requests if name in whole else requests)
        except Exception as exc:  # a page that fails is a finding, not the end of the run
            results[name] = {"error": f"{name}: {type(exc).__name__}: {exc}"}
    full, fragment = results["board"], results["board_htmx"]
    if "bytes" in full and "bytes" in fragment and fragment["bytes"] >= full["bytes"]:
        raise SystemExit("the htmx request got the whole page, not the fragment")
    tiles = results["empty_htmx"]
    if "bytes" in tiles and tiles["bytes"] > 2048:
        raise SystemExit("the empty ward's fragment is not empty")
    return results


def child(beds: int, ward_size: int, requests: int, board_requests: int) -> None:
    started = time.perf_counter()
    common.setup_django()
    common.freeze_clock(dt.datetime.combine(DAY, dt.time(7, 0), tzinfo=IST))
    from django.db import connection

    from ajeya.ipd.models import Admission, Bed, BedStatus

    world = _setup(beds, ward_size)
    common.freeze_heap()
    admission = _admit_all(world)
    setup_seconds = time.perf_counter() - started
    occupied = Bed.objects.filter(status=BedStatus.OCCUPIED).count()
    if occupied != beds or Admission.objects.count() != beds:
        raise SystemExit(f"only {occupied} of {beds} beds are occupied")
    categories = dict(sorted(Counter(Bed.objects.values_list("category", flat=True)).items()))
    ward_beds = Bed.objects.filter(ward__code="W001").count()
    del world["beds"], world["patients"]
    pages = _pages(world, requests, board_requests)
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "server_version": str(getattr(connection, "pg_version", "") or ""),
                "wards": world["wards"],
                "beds": beds,
                "ward_beds": ward_beds,
                "occupied": occupied,
                "categories": categories,
                "admission": admission,
                "pages": pages,
                "setup_seconds": round(setup_seconds, 1),
                "child_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*(int(a) for a in sys.argv[2:6]))
