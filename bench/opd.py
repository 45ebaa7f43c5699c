"""OPD at a busy hospital's scale: booking throughput, tokens, and the queue pages.

On a Monday at 07:00 IST (the clock frozen), with --clinics clinics (default 200) each
running one session 08:00-14:00 of 10-minute slots (2 patients a slot, more if needed
to seat --bookings):

1. Booking: --bookings (default 10,000) `appointment_book` calls by a clerk, spread at
   random over the clinics' slots: bookings/s, p50/p99. The baseline is the same number
   of bare `Appointment.objects.create` rows (distinct seats, on a later Monday: no
   service, no seat lock, no ledger), timed in alternating rounds of the same run.
2. Check-in: --check-ins (default 1,000) of those appointments through
   `visit_check_in` (each issues a token): tokens/s. Every booking of the busiest
   clinic is checked in, the rest earliest slot first across the other clinics; then
   that clinic's doctor records some vitals, sends 5 patients on, sets 3 aside and has
   one in the room, so every part of the worklist has rows.
3. Pages, through Django's test client: the doctor's worklist of the busiest clinic
   (which also writes an access-log entry per patient shown), the waiting-hall display
   of all clinics, and the display's htmx fragment (what the TV fetches every 5 s):
   p50/p99 over --requests requests each, and the queries one request makes.

The objects the benchmark itself holds (10,000 patients and bookings) are moved out of
the garbage collector's sight (`gc.freeze`) before each timed part: a server process
does not hold them, and their gen-2 sweeps would otherwise show up in the p99s.

    uv run python -m bench opd [--clinics 200] [--bookings 10000] [--check-ins 1000]
                               [--requests 200] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import sys
import time
from zoneinfo import ZoneInfo

from bench import common

PASSWORD = "opd-bench-password-4k9z"  # throw-away accounts in a throw-away database
IST = ZoneInfo("Asia/Kolkata")
DAY = dt.date(2026, 1, 5)  # a Monday
OPENS, CLOSES, SLOT_MINUTES = dt.time(8, 0), dt.time(14, 0), 10
ROUNDS = 10  # booking and baseline alternate in this many rounds
WARM_UP = 50  # bookings (a week later) before the timed ones


def main(argv: list[str]) -> int:
    parser = common.parser("opd")
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--bookings", type=int, default=10_000)
    parser.add_argument("--check-ins", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    args = parser.parse_args(argv)
    if args.check_ins > args.bookings:
        parser.error("--check-ins cannot exceed --bookings")
    started = time.perf_counter()
    results = common.run_on_databases(
        args.db,
        "bench.opd",
        [str(args.clinics), str(args.bookings), str(args.check_ins), str(args.requests)],
        f"{args.clinics} clinics, {args.bookings:,} bookings, {args.check_ins:,} check-ins, "
        f"{args.requests} requests a page",
    )
    return common.report("opd", results, started, _print_run)


def _print_run(kind: str, run: dict) -> None:
    book, bare = run["booking"], run["bare_insert"]
    rows = [
        _row("book (service)", book, f"{book['per_second'] / bare['per_second']:.3f}"),
        _row("bare ORM insert", bare, "1"),
        _row("check-in (token)", run["check_in"], ""),
    ]
    failures = []
    for name, label in (
        ("worklist", f"worklist, {run['busy_visits']} visits"),
        ("display", f"display, {run['clinics']} clinics"),
        ("display_htmx", "display, htmx"),
    ):
        if "error" in run[name]:
            rows.append([f"{label}: FAILED", "", "", "", "", "", ""])
            failures.append(f"{label}: {run[name]['error']}")
        else:
            rows.append(_row(label, run[name], ""))
    common.table(
        f"OPD on {kind} {run['server_version']}".rstrip(),
        ["what", "count", "per s", "p50 ms", "p99 ms", "queries", "vs bare"],
        rows,
    )
    common.console.print(
        f"{kind}: setup {run['setup_seconds']:.1f} s, run {run['child_seconds']:.1f} s; "
        f"{run['bookings']:,} bookings in {run['clinics']} clinics "
        f"({run['per_slot']} a slot, {run['seats']:,} seats)"
    )
    for failure in failures:
        common.console.print(f"[red]{failure}[/]")


def _row(label: str, m: dict, ratio: str) -> list:
    return [
        label,
        f"{m['count']:,}",
        f"{m['per_second']:,.0f}",
        f"{m['p50_ms']:.1f}",
        f"{m['p99_ms']:.1f}",
        m.get("queries", ""),
        ratio,
    ]


# --- child: runs with Django set up against the benchmark database --------------------


def _setup(clinic_count: int, bookings: int) -> dict:
    from ajeya.appointments import services as appointments
    from ajeya.appointments.models import ClinicSession
    from ajeya.core.roles import Role
    from ajeya.core.seed import seed_departments
    from ajeya.patients.models import Patient
    from ajeya.patients.seed import seed_patients

    departments = list(seed_departments().values())
    clerk = common.staff("benchclerk", "Bench Clerk", Role.REGISTRATION_CLERK, PASSWORD)
    doctor = common.staff("benchdoctor", "Bench Doctor", Role.DOCTOR, PASSWORD)
    slots_per_session = (
        (dt.datetime.combine(DAY, CLOSES) - dt.datetime.combine(DAY, OPENS)).seconds // 60
    ) // SLOT_MINUTES
    per_slot = max(2, math.ceil(bookings / (clinic_count * slots_per_session)))
    for n in range(clinic_count):
        clinic = appointments.clinic_create(
            actor=None,
            code=f"C{n:03d}",
            name=f"Clinic {n:03d}",
            department=departments[n % len(departments)],
            room=f"R{n:03d}",
        )
        appointments.session_create(
            actor=None,
            clinic=clinic,
            weekday=DAY.weekday(),
            start_time=OPENS,
            end_time=CLOSES,
            slot_minutes=SLOT_MINUTES,
            per_slot=per_slot,
            valid_from=DAY - dt.timedelta(days=28),
        )
    seed_patients(bookings, seed=1)
    sessions = list(ClinicSession.objects.select_related("clinic").order_by("clinic__code"))
    patients = list(Patient.objects.order_by("id")[:bookings])
    slot_times = sessions[0].slot_times()
    # Every seat of the day, shuffled: booking i takes plan[i] (its seat is the service's
    # choice; the baseline uses the planned seat, distinct by construction).
    plan = [
        (session, t, seat)
        for session in sessions
        for t in slot_times
        for seat in range(1, per_slot + 1)
    ]
    random.Random(1).shuffle(plan)
    return {
        "clerk": clerk,
        "doctor": doctor,
        "sessions": sessions,
        "patients": patients,
        "plan": plan[:bookings],
        "per_slot": per_slot,
        "seats": len(plan),
    }


def _booking(world: dict) -> tuple[dict, dict]:
    from ajeya.appointments import services as appointments
    from ajeya.appointments.models import Appointment
    from ajeya.core import clock

    clerk, patients, plan = world["clerk"], world["patients"], world["plan"]
    warm_day, bare_day = DAY + dt.timedelta(days=7), DAY + dt.timedelta(days=14)

    def book(i: int, day: dt.date) -> Appointment:
        session, slot_time, _ = plan[i]
        return appointments.appointment_book(
            actor=clerk, patient=patients[i], session=session, date=day, slot_time=slot_time
        )

    for i in range(WARM_UP - 1):  # imports, caches, the first pages of each index
        book(i, warm_day)
    queries = common.count_queries(lambda: book(WARM_UP - 1, warm_day))

    service: list[float] = []
    bare: list[float] = []
    now = clock.now()
    count = len(plan)
    step = math.ceil(count / ROUNDS)
    for start in range(0, count, step):
        for i in range(start, min(count, start + step)):
            t0 = time.perf_counter()
            book(i, DAY)
            service.append(time.perf_counter() - t0)
        for i in range(start, min(count, start + step)):
            session, slot_time, seat = plan[i]
            t0 = time.perf_counter()
            Appointment.objects.create(
                number=f"B{i:08d}",
                patient=patients[i],
                clinic=session.clinic,
                session=session,
                date=bare_day,
                slot_time=slot_time,
                seat=seat,
                channel="counter",
                booked_at=now,
                booked_by=clerk,
            )
            bare.append(time.perf_counter() - t0)
    return common.latency_summary(service, queries), common.latency_summary(bare, 1)


def _check_in(world: dict, count: int) -> tuple[dict, object, int]:
    from collections import Counter

    from ajeya.appointments.models import Appointment
    from ajeya.opd import services as opd

    clerk = world["clerk"]
    booked = list(Appointment.objects.filter(date=DAY).select_related("patient", "clinic"))
    busy_id, _ = Counter(a.clinic_id for a in booked).most_common(1)[0]
    busy = [a for a in booked if a.clinic_id == busy_id]
    others = sorted(
        (a for a in booked if a.clinic_id != busy_id),
        key=lambda a: (a.slot_time, a.seat, a.clinic_id),
    )
    chosen = sorted(busy + others[: max(0, count - len(busy))], key=lambda a: a.slot_time)
    queries = common.count_queries(
        lambda: opd.visit_check_in(actor=clerk, patient=chosen[0].patient, appointment=chosen[0])
    )
    latencies = []
    for appointment in chosen[1:]:
        t0 = time.perf_counter()
        opd.visit_check_in(actor=clerk, patient=appointment.patient, appointment=appointment)
        latencies.append(time.perf_counter() - t0)
    return common.latency_summary(latencies, queries), busy[0].clinic, len(busy)


def _doctor_works(world: dict, clinic) -> None:
    """Some of every part of the worklist: vitals, seen (sent on), set aside, in the room."""
    from ajeya.appointments.models import Clinic
    from ajeya.core import clock
    from ajeya.opd import services as opd
    from ajeya.opd.models import Visit, VisitStatus

    doctor = world["doctor"]
    waiting = Visit.objects.filter(clinic=clinic, date=clock.today(), status=VisitStatus.WAITING)
    for visit in waiting.order_by("-token")[:10]:
        opd.vitals_record(
            actor=doctor,
            visit=visit,
            temperature_c="37.2",
            pulse_per_min="84",
            systolic_mmhg="128",
            diastolic_mmhg="82",
        )
    elsewhere = Clinic.objects.exclude(pk=clinic.pk).order_by("code").first()
    for _ in range(5):
        visit = opd.visit_call_next(actor=doctor, clinic=clinic)
        opd.visit_transfer(actor=doctor, visit=visit, to_clinic=elsewhere, reason="bench: sent on")
    for _ in range(3):
        visit = opd.visit_call_next(actor=doctor, clinic=clinic)
        opd.visit_skip(actor=doctor, visit=visit)
    opd.visit_call_next(actor=doctor, clinic=clinic)


def _page(client, url: str, requests: int, **headers) -> dict:
    def get():
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            where = response.get("Location", "")
            raise RuntimeError(f"status {response.status_code} {where}".rstrip())
        return response

    for _ in range(3):
        get()
    queries = common.count_queries(get)
    latencies = []
    for _ in range(requests):
        t0 = time.perf_counter()
        get()
        latencies.append(time.perf_counter() - t0)
    result = common.latency_summary(latencies, queries)
    result["bytes"] = len(get().content)
    return result


def _pages(world: dict, clinic, requests: int) -> dict:
    from django.test import Client
    from django.urls import reverse

    doctor_client = Client()
    doctor_client.force_login(world["doctor"])
    hall = Client()  # the TV: nobody logged in
    display = reverse("opd:display")
    pages = {
        "worklist": (doctor_client, reverse("opd:worklist", args=[clinic.code]), {}),
        "display": (hall, display, {}),
        "display_htmx": (hall, display, {"HX-Request": "true"}),
    }
    results = {}
    for name, (client, url, headers) in pages.items():
        try:
            results[name] = _page(client, url, requests, **headers)
        except Exception as exc:  # a page that fails is a finding, not the end of the run
            results[name] = {"error": f"GET {url}: {type(exc).__name__}: {exc}"}
    full, fragment = results["display"], results["display_htmx"]
    if "bytes" in full and "bytes" in fragment and fragment["bytes"] >= full["bytes"]:
        raise SystemExit("the htmx request got the whole page, not the fragment")
    return results


def child(clinics: int, bookings: int, check_ins: int, requests: int) -> None:
    started = time.perf_counter()
    common.setup_django()
    common.freeze_clock(dt.datetime.combine(DAY, dt.time(7, 0), tzinfo=IST))
    from django.db import connection

    from ajeya.appointments.models import Appointment
    from ajeya.opd.models import Visit

    world = _setup(clinics, bookings)
    setup_seconds = time.perf_counter() - started
    common.freeze_heap()
    booking, bare = _booking(world)
    common.freeze_heap()
    check_in, busy_clinic, busy_count = _check_in(world, check_ins)
    _doctor_works(world, busy_clinic)
    busy_visits = Visit.objects.filter(clinic=busy_clinic, date=DAY).count()
    common.freeze_heap()
    pages = _pages(world, busy_clinic, requests)
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "server_version": str(getattr(connection, "pg_version", "") or ""),
                "clinics": clinics,
                "bookings": Appointment.objects.filter(date=DAY).count(),
                "per_slot": world["per_slot"],
                "seats": world["seats"],
                "busy_clinic": busy_clinic.code,
                "busy_bookings": busy_count,
                "busy_visits": busy_visits,
                "visits_today": Visit.objects.filter(date=DAY).count(),
                "booking": booking,
                "bare_insert": bare,
                "check_in": check_in,
                **pages,
                "setup_seconds": round(setup_seconds, 1),
                "child_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*(int(a) for a in sys.argv[2:6]))
