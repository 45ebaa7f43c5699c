"""Reports and dashboards on a big hospital: `uv run python -m bench reports --db both`.

Issue 8's target: every dashboard and standard report answers within 500 ms on a
database of 1,000,000 patients and 5,000,000 OPD visits. The child process seeds the
demo hospital through the services (`ajeya seed`: clinics, wards, staff, lab, billing),
then loads the volume straight into the tables: patients registered over five years, a
year of OPD days (Monday to Saturday, every visit with its token, a fifth booked ahead
with their appointments, a consultation for every patient seen). The bulk rows have no
ledger entries — the benchmark measures reads, and nothing here is verified.

It then times, the median of `--runs` runs each: every standard report for the last 30
days (what the reports page opens with) and for its longest allowed period, and every
dashboard panel for today (read and chart). Each is shown against the same report over
the small demo hospital alone, measured in the same run (the baseline).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from bench import common

IST = ZoneInfo("Asia/Kolkata")
TODAY = dt.date(2026, 11, 30)  # a Monday
NOW = dt.datetime.combine(TODAY, dt.time(16, 0), tzinfo=IST)
TARGET_MS = 500
CHUNK = 50_000


def main(argv: list[str]) -> int:
    parser = common.parser("reports")
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--visits", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each report (median)")
    args = parser.parse_args(argv)
    if min(args.patients, args.visits, args.runs) < 1:
        parser.error("--patients, --visits and --runs must be at least 1")
    if args.visits > 60 * args.patients:
        parser.error("--visits: at most 60 per patient")
    started = time.perf_counter()
    results = common.run_on_databases(
        args.db,
        "bench.reports",
        [str(args.patients), str(args.visits), str(args.runs)],
        f"{args.patients:,} patients, {args.visits:,} OPD visits; {args.runs} runs each",
    )
    return common.report("reports", results, started, _print_run)


# --- printing ---------------------------------------------------------------------------


def _print_run(kind: str, run: dict) -> None:
    seed = run["seed"]
    common.table(
        f"{kind} ({run['server_version'] or run['vendor']}): the database",
        ["what", "rows", "seconds"],
        [[name, f"{n:,}", f"{s:.1f}"] for name, (n, s) in seed["loaded"].items()]
        + [["demo hospital through the services", "", f"{seed['demo_seconds']:.1f}"]],
    )
    rows = []
    for name, m in run["timings"].items():
        big, small = m["big"], m["baseline"]
        verdict = "ok" if big["p50_ms"] <= TARGET_MS else "OVER"
        ratio = big["p50_ms"] / max(small["p50_ms"], 0.01)
        rows.append(
            [name, f"{big['p50_ms']:.0f}", f"{big['max_ms']:.0f}", big["queries"],
             f"{small['p50_ms']:.0f}", f"{ratio:.1f}x", verdict]
        )  # fmt: skip
    common.table(
        f"{kind}: reports and dashboard panels (ms; target ≤ {TARGET_MS} ms on the big database)",
        ["report / panel", "p50", "max", "queries", "demo p50", "ratio", "target"],
        rows,
    )


# --- the child: Django set up, a fresh database ------------------------------------------


class Loader:
    """Rows straight into a table: COPY on PostgreSQL, executemany on SQLite, in one
    transaction per chunk. Every column is given; ids are chosen here."""

    def __init__(self, model, columns: list[str]) -> None:
        from django.db import connection

        self.connection = connection
        self.table = model._meta.db_table
        self.columns = columns
        fields = {f.attname: f for f in model._meta.concrete_fields}
        self.fields = [fields[c] for c in columns]

    def _sqlite_value(self, field, value):
        if value is None:
            return None
        internal = field.get_internal_type()
        if internal == "DateTimeField":
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        if internal in ("DateField", "TimeField"):
            return value.isoformat()
        if internal == "BooleanField":
            return int(value)
        return value

    def load(self, rows: Iterable[tuple]) -> int:
        from django.db import transaction

        count = 0
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                with transaction.atomic():
                    self._write(batch)
                count += len(batch)
                batch = []
        if batch:
            with transaction.atomic():
                self._write(batch)
            count += len(batch)
        return count

    def _write(self, batch: list[tuple]) -> None:
        names = ", ".join(f'"{c}"' for c in self.columns)
        if self.connection.vendor == "postgresql":
            with (
                self.connection.cursor() as cursor,
                cursor.cursor.copy(f'COPY "{self.table}" ({names}) FROM STDIN') as copy,
            ):
                for row in batch:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in self.columns)
        fields = self.fields
        converted = [
            tuple(self._sqlite_value(f, v) for f, v in zip(fields, row, strict=True))
            for row in batch
        ]
        sql = f'INSERT INTO "{self.table}" ({names}) VALUES ({marks})'  # noqa: S608
        self.connection.connection.executemany(sql, converted)


def _next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1


def _utc(day: dt.date, minutes: float) -> dt.datetime:
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=IST)
    return (midnight + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


CATEGORIES = [("general", "", 70), ("bpl", "", 10), ("staff", "", 3), ("scheme", "pmjay", 8),
              ("scheme", "cghs", 5), ("scheme", "esi", 2), ("scheme", "state", 2)]  # fmt: skip


def _patients(first_id: int, count: int, clerk_id: int, rng: random.Random) -> Iterator[tuple]:
    from ajeya.core.identifiers import make_uhid

    weights = [w for *_, w in CATEGORIES]
    start = NOW - dt.timedelta(days=5 * 365)
    for n in range(count):
        serial = first_id + n
        category, scheme, _ = rng.choices(CATEGORIES, weights)[0]
        registered = start + dt.timedelta(seconds=rng.randrange(5 * 365 * 86400))
        yield (
            serial, make_uhid(100_000 + serial), f"Bulk Patient {serial}", f"bulk patient {serial}",
            rng.choice("MF"), dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(25_000)),
            False, f"98{serial:08d}"[-10:], "", "South Delhi", "DL", "110029", "", "", "", "",
            category, scheme, "", registered, clerk_id, registered, 1, "",
        )  # fmt: skip


PATIENT_COLUMNS = [
    "id", "uhid", "name", "name_key", "sex", "date_of_birth", "dob_estimated", "phone",
    "address_line", "district", "state", "pincode", "guardian_name", "guardian_relation",
    "abha_number", "aadhaar_last4", "category", "scheme", "scheme_beneficiary_id",
    "registered_at", "registered_by_id", "updated_at", "version", "seal",
]  # fmt: skip


def _opd_days(visits: int) -> list[dt.date]:
    """Monday to Saturday, back from today, enough days for a year's visits."""
    days, day = [], TODAY
    while len(days) < 313:
        if day.weekday() != 6:
            days.append(day)
        day -= dt.timedelta(days=1)
    return sorted(days)


def _plan_visits(world: dict, visits: int, rng: random.Random):
    """Yield (visit row, appointment row or None, consultation row or None) day by day."""
    days = _opd_days(visits)
    per_day = visits // len(days)
    extra = visits - per_day * len(days)
    clinics, patients = world["clinics"], world["patient_ids"]
    visit_id, appointment_id, consultation_id = world["next_ids"]
    booking_serial = world["booking_serial"]
    for index, day in enumerate(days):
        n = per_day + (1 if index < extra else 0)
        today = day == TODAY
        chosen = rng.sample(patients, n)
        tokens = {c["id"]: 0 for c in clinics}
        slots = {c["id"]: 0 for c in clinics}
        waiting_from = 0.7 * n / len(clinics)  # today: the afternoon's patients still wait
        for k in range(n):
            clinic = clinics[k % len(clinics)]
            cid = clinic["id"]
            tokens[cid] += 1
            token = 1000 + tokens[cid]  # past the demo's tokens on the same days
            arrived = _utc(day, 8 * 60 + rng.random() * 6 * 60)
            if today and tokens[cid] > waiting_from:
                status = "waiting"
            else:
                status = rng.choices(["done", "no_show", "referred"], [90, 7, 3])[0]
            appointment = None
            if rng.random() < 0.2 and day.weekday() in clinic["sessions"]:
                slot = slots[cid]
                slots[cid] += 1
                booking_serial += 1
                appointment = (
                    appointment_id, f"A{booking_serial:08d}", chosen[k], cid,
                    clinic["sessions"][day.weekday()], day,
                    _slot(slot), 100 + slot // 24,  # seats past the demo's
                    "arrived", "counter", "", arrived - dt.timedelta(days=3), None, "", 1, "",
                )  # fmt: skip
                appointment_id += 1
            done = status == "done"
            visit = (
                visit_id, chosen[k], cid, day, token, appointment[0] if appointment else None,
                status, arrived, None, arrived + dt.timedelta(minutes=20) if done else None,
                clinic["doctor"] if done else None, 1 if done else 0, False,
                arrived + dt.timedelta(minutes=30) if done else None, None, "", 1, "",
            )  # fmt: skip
            consultation = None
            if done:
                consultation = (
                    consultation_id, visit_id, clinic["doctor"],
                    arrived + dt.timedelta(minutes=30), "fever", "", "",
                    rng.random() < 0.02, "", None, "",
                )  # fmt: skip
                consultation_id += 1
            visit_id += 1
            yield visit, appointment, consultation


def _slot(n: int) -> dt.time:
    minutes = 9 * 60 + (n % 24) * 15
    return dt.time(minutes // 60, minutes % 60)


VISIT_COLUMNS = [
    "id", "patient_id", "clinic_id", "date", "token", "appointment_id", "status",
    "arrived_at", "checked_in_by_id", "called_at", "called_by_id", "calls", "skipped",
    "finished_at", "transferred_from_id", "note", "version", "seal",
]  # fmt: skip
APPOINTMENT_COLUMNS = [
    "id", "number", "patient_id", "clinic_id", "session_id", "date", "slot_time", "seat",
    "status", "channel", "contact_phone", "booked_at", "booked_by_id", "note", "version",
    "seal",
]  # fmt: skip
CONSULTATION_COLUMNS = [
    "id", "visit_id", "doctor_id", "completed_at", "complaints", "examination", "advice",
    "admit_advised", "admit_note", "follow_up_on", "seal",
]  # fmt: skip


def _world() -> dict:
    from ajeya.accounts.models import User
    from ajeya.appointments.models import Appointment, Clinic, ClinicSession
    from ajeya.core.roles import Role
    from ajeya.opd.models import Consultation, Visit

    doctors = list(User.objects.filter(role=Role.DOCTOR).values_list("id", flat=True))
    clinics = []
    for n, clinic in enumerate(Clinic.objects.order_by("id")):
        sessions = {
            s.weekday: s.id for s in ClinicSession.objects.filter(clinic=clinic).order_by("id")
        }
        clinics.append({"id": clinic.id, "sessions": sessions, "doctor": doctors[n % len(doctors)]})
    return {
        "clinics": clinics,
        "clerk": User.objects.filter(role=Role.REGISTRATION_CLERK).values_list("id", flat=True)[0],
        "next_ids": (_next_id(Visit), _next_id(Appointment), _next_id(Consultation)),
        "booking_serial": 10_000_000,
    }


def _load(patients: int, visits: int) -> dict:
    from rich.progress import Progress

    from ajeya.appointments.models import Appointment
    from ajeya.opd.models import Consultation, Visit
    from ajeya.patients.models import Patient

    rng = random.Random(8)
    world = _world()
    loaded: dict[str, tuple[int, float]] = {}
    first = _next_id(Patient)
    started = time.perf_counter()
    with Progress(console=common.console, transient=True) as progress:
        task = progress.add_task("patients", total=patients)

        def counted(rows, step=CHUNK):
            for n, row in enumerate(rows, 1):
                if n % step == 0:
                    progress.advance(task, step)
                yield row

        n = Loader(Patient, PATIENT_COLUMNS).load(
            counted(_patients(first, patients, world["clerk"], rng))
        )
        loaded["patients"] = (n, time.perf_counter() - started)
        world["patient_ids"] = list(range(first, first + patients))

        started = time.perf_counter()
        progress.update(task, description="visits", total=visits, completed=0)
        appointments: list[tuple] = []
        consultations: list[tuple] = []
        visit_loader = Loader(Visit, VISIT_COLUMNS)
        appointment_loader = Loader(Appointment, APPOINTMENT_COLUMNS)
        consultation_loader = Loader(Consultation, CONSULTATION_COLUMNS)
        counts = [0, 0, 0]

        def visit_rows():
            for visit, appointment, consultation in _plan_visits(world, visits, rng):
                if appointment:
                    appointments.append(appointment)
                if consultation:
                    consultations.append(consultation)
                yield visit

        # Per chunk of visits: their appointments first (a visit points at its
        # appointment), then the visits, then their consultations (each points at its
        # visit), so every chunk commits with its references in place.
        batch: list[tuple] = []
        for row in counted(visit_rows()):
            batch.append(row)
            if len(batch) == CHUNK:
                counts[1] += appointment_loader.load(appointments)
                appointments.clear()
                counts[0] += visit_loader.load(batch)
                batch = []
                counts[2] += consultation_loader.load(consultations)
                consultations.clear()
        counts[1] += appointment_loader.load(appointments)
        counts[0] += visit_loader.load(batch)
        counts[2] += consultation_loader.load(consultations)
        seconds = time.perf_counter() - started
        loaded["visits"] = (counts[0], seconds)
        loaded["appointments"] = (counts[1], seconds)
        loaded["consultations"] = (counts[2], seconds)
    return loaded


def _finish_load() -> None:
    """What a running hospital's database has after a bulk load: statistics (ANALYZE;
    autovacuum does it within minutes) and sequences past the ids chosen here."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for sql in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
                cursor.execute(sql)
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")


def _work() -> dict[str, Callable[[], object]]:
    """Every standard report (last 30 days, and its longest period) and every dashboard
    panel (today), each as it is served: computed, and its chart drawn."""
    from ajeya.core.periods import Period
    from ajeya.reports import dashboard_charts, dashboards, registry

    work: dict[str, Callable[[], object]] = {}
    for slug, report in registry.REPORTS.items():
        for label, days in (("30 days", 30), (f"{report.max_days} days", report.max_days)):
            period = Period(TODAY - dt.timedelta(days=days - 1), TODAY)

            def run(slug=slug, report=report, period=period):
                tables = registry.run(slug, period)
                return report.chart(tables) if report.chart else tables

            work[f"report {slug}, {label}"] = run
    for panel in dashboards.PANELS:

        def show(panel=panel):
            data = panel.read(TODAY)
            draw = dashboard_charts.CHARTS.get(panel.key)
            return draw(data) if draw else data

        work[f"dashboard {panel.key}"] = show
    return work


def _measure(work: dict[str, Callable[[], object]], runs: int) -> dict[str, dict]:
    results = {}
    for name, job in work.items():
        queries = common.count_queries(job)  # also the warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            job()
            times.append(time.perf_counter() - started)
        results[name] = {
            "p50_ms": statistics.median(times) * 1000,
            "max_ms": max(times) * 1000,
            "queries": queries,
        }
    return results


def child(patients: int, visits: int, runs: int) -> None:
    started = time.perf_counter()
    common.setup_django()
    common.freeze_clock(NOW - dt.timedelta(hours=8))  # the demo day: seeded in the morning
    from django.db import connection

    from ajeya.cli import run_seed

    demo_started = time.perf_counter()
    run_seed(patients=300, seed=8)
    demo_seconds = time.perf_counter() - demo_started
    common.freeze_clock(NOW)
    _finish_load()
    work = _work()
    baseline = _measure(work, runs)
    loaded = _load(patients, visits)
    _finish_load()
    # What the worker does every five minutes (reports/tasks.py), here for every closed
    # day of the year at once, as after an upgrade: timed, not part of any report.
    from ajeya.reports import rollup

    counting = time.perf_counter()
    days = rollup.refresh(TODAY - dt.timedelta(days=366), TODAY)
    loaded["closed days counted (OPD rollup)"] = (days, time.perf_counter() - counting)
    _finish_load()
    common.freeze_heap()
    big = _measure(work, runs)
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "server_version": str(getattr(connection, "pg_version", "") or ""),
                "seed": {"loaded": loaded, "demo_seconds": demo_seconds},
                "timings": {k: {"big": big[k], "baseline": baseline[k]} for k in work},
                "child_seconds": round(time.perf_counter() - started, 1),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*(int(a) for a in sys.argv[2:5]))
