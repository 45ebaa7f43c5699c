"""Downtime snapshots of a 2,500-bed hospital at full occupancy: every ward's and OPD
department's encrypted file, and how long writing them all takes (target: 60 s on a
2-core machine).

Not timed: the wards and beds of `bench ipd` (--beds in wards of --ward-size), every bed
filled through the admission service, then, straight into the tables (the snapshot
reads them; how they were written does not matter to it): four drugs charted per
inpatient with two doses each, an allergy for one patient in six, and per inpatient a
lab order of two panels with every test's result authorised (one in twenty critical)
and one panel still awaited. Every location shares one passphrase (its key is derived
once). On a Monday at 07:00 IST, the clock frozen.

Timed, --runs times (default 3), the median reported:
1. `snapshots.write()`: the whole job the worker runs every five minutes.
2. Its parts, separately: reading the hospital (`census.hospital()`), rendering every
   location's page, and sealing them (gzip + AES-GCM).
3. Baseline in the same run: writing the same bytes with a plain `write_bytes` (what
   the disk alone costs), and the total over it.
One file is opened again with the passphrase, as the ward PC does, to check it.

    uv run python -m bench downtime [--beds 2500] [--ward-size 50] [--runs 3]
                                    [--db sqlite|postgres|both]
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.ipd import DAY, IST, _admit_all, _setup

PASSPHRASE = "BNCH-DOWN-TIME-2500-BEDS"
TARGET_SECONDS = 60


def main(argv: list[str]) -> int:
    parser = common.parser("downtime")
    parser.add_argument("--beds", type=int, default=2_500)
    parser.add_argument("--ward-size", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.beds < 2 or args.ward_size < 1 or args.runs < 1:
        parser.error("--beds must be at least 2; the others at least 1")
    started = time.perf_counter()
    results = common.run_on_databases(
        args.db,
        "bench.downtime",
        [str(args.beds), str(args.ward_size), str(args.runs)],
        f"{args.beds:,} beds in wards of {args.ward_size}, all occupied; {args.runs} runs",
    )
    return common.report("downtime", results, started, _print_run)


def _print_run(kind: str, run: dict) -> None:
    t = run["timings"]
    total = t["write"]
    rows = [
        ["write(): every location", f"{total:.2f}", f"{total / TARGET_SECONDS:.0%} of 60 s"],
        ["  read the hospital", f"{t['census']:.2f}", f"{t['census'] / total:.0%}"],
        ["  render the pages", f"{t['render']:.2f}", f"{t['render'] / total:.0%}"],
        ["  seal (gzip + AES-GCM)", f"{t['seal']:.2f}", f"{t['seal'] / total:.0%}"],
        ["baseline: write the bytes", f"{t['plain_write']:.3f}",
         f"write() is {total / max(t['plain_write'], 1e-6):,.0f} x"],
    ]  # fmt: skip
    common.table(
        f"Downtime snapshots on {kind} {run['server_version']}".rstrip(),
        ["what (median of runs)", "seconds", "share / ratio"],
        rows,
    )
    common.console.print(
        f"{kind}: {run['files']} files ({run['wards']} wards, {run['departments']} OPD), "
        f"{run['bytes'] / 1e6:,.1f} MB in all, largest {run['largest'] / 1e3:,.0f} kB, "
        f"a ward's file {run['ward_bytes'] / 1e3:,.0f} kB; {run['inpatients']:,} inpatients, "
        f"{run['medications']:,} drugs, {run['results']:,} results; setup "
        f"{run['setup_seconds']:.0f} s; opened again: {run['opened']}"
    )


# --- child ---------------------------------------------------------------------------------


def _fill(world: dict) -> dict:
    """Drugs, doses, allergies and lab results for every inpatient, straight in."""
    from ajeya.ipd.models import Admission, MedicationDose, MedicationOrder
    from ajeya.lab import catalogue
    from ajeya.lab.models import Panel
    from ajeya.patients.models import AllergySeverity, PatientAllergy

    catalogue.load()
    rng = random.Random(7)
    now = dt.datetime.combine(DAY, dt.time(7), tzinfo=IST)
    doctor = world["doctor"]
    admissions = list(Admission.objects.select_related("patient"))
    drugs = [("Ceftriaxone", "1 g", "iv", "BD"), ("Paracetamol", "650 mg", "oral", "TDS"),
             ("Pantoprazole", "40 mg", "iv", "OD"), ("Insulin regular", "6 units", "sc", "QID"),
             ("Ondansetron", "4 mg", "iv", "SOS")]  # fmt: skip
    orders = []
    for a in admissions:
        for drug, dose, route, freq in rng.sample(drugs, 4):
            orders.append(MedicationOrder(admission=a, drug=drug, dose=dose, route=route,
                                          frequency=freq, ordered_at=now - dt.timedelta(days=1),
                                          ordered_by=doctor))  # fmt: skip
    MedicationOrder.objects.bulk_create(orders, batch_size=2000)
    doses = [MedicationDose(order=o, recorded_at=now - dt.timedelta(hours=h), recorded_by=doctor,
                            outcome="given") for o in orders for h in (3, 15)]  # fmt: skip
    MedicationDose.objects.bulk_create(doses, batch_size=2000)
    PatientAllergy.objects.bulk_create(
        [
            PatientAllergy(
                patient=a.patient,
                substance="Penicillin",
                reaction="rash",
                severity=AllergySeverity.SEVERE,
                recorded_at=now,
                recorded_by=doctor,
            )
            for a in admissions[::6]
        ],
        batch_size=2000,
        ignore_conflicts=True,  # the demo seed gives some patients allergies already
    )
    wanted = ["CBC", "KFT", "LFT"]  # the first two authorised, the last awaited
    panels = sorted(
        Panel.objects.prefetch_related("items__test").filter(code__in=wanted),
        key=lambda p: wanted.index(p.code),
    )
    results = _lab(admissions, panels, doctor, now, rng)
    return {"inpatients": len(admissions), "medications": len(orders), "results": results}


def _lab(admissions, panels, doctor, now, rng) -> int:
    from ajeya.lab.models import LabOrder, OrderItem, Result, Sample
    from ajeya.lab.services import make_accession

    done, waiting = panels[:2], panels[2]
    lab_orders = [
        LabOrder(number=f"LB{n:09d}", patient=a.patient, source="ipd", priority="routine",
                 ordered_at=now - dt.timedelta(hours=10), ordered_by=doctor, doctor=doctor,
                 admission=a)
        for n, a in enumerate(admissions)
    ]  # fmt: skip
    LabOrder.objects.bulk_create(lab_orders, batch_size=2000)
    samples, items, results = [], [], []
    for n, order in enumerate(lab_orders):
        for k, panel in enumerate([*done, waiting]):
            test = panel.items.all()[0].test
            sample = Sample(accession=make_accession(n * 3 + k + 1, DAY.year), order=order,
                            specimen=test.specimen, container=test.container,
                            section=panel.section, status="received")  # fmt: skip
            samples.append(sample)
            authorised = panel is not waiting
            item = OrderItem(order=order, panel=panel, sample=sample,
                             status="authorised" if authorised else "ordered")  # fmt: skip
            items.append(item)
            if authorised:
                for member in panel.items.all():
                    critical = rng.random() < 0.05
                    results.append(Result(item=item, test=member.test, position=member.position,
                                          status="authorised", value=f"{rng.uniform(1, 99):.1f}",
                                          unit="", flag="HH" if critical else "",
                                          verified_at=now - dt.timedelta(hours=5),
                                          authorised_at=now - dt.timedelta(hours=4)))  # fmt: skip
    Sample.objects.bulk_create(samples, batch_size=2000)
    for item in items:
        item.sample_id = item.sample.pk
    OrderItem.objects.bulk_create(items, batch_size=2000)
    for r in results:
        r.item_id = r.item.pk
    Result.objects.bulk_create(results, batch_size=2000)
    return len(results)


def _keys() -> None:
    from ajeya.downtime import envelope, snapshots
    from ajeya.downtime.models import SnapshotKey

    salt = envelope.new_salt()
    key = envelope.derive_key(PASSPHRASE, salt)
    SnapshotKey.objects.bulk_create(
        SnapshotKey(location=loc.id, salt=salt, iterations=envelope.ITERATIONS, key=key,
                    made_at=dt.datetime.now(dt.UTC))
        for loc in snapshots.all_locations()
    )  # fmt: skip


def _parts(directory: Path) -> dict:
    """The job's parts one by one, and the disk alone writing the same bytes."""
    from ajeya.downtime import census, envelope, snapshots
    from ajeya.downtime.models import SnapshotKey

    t0 = time.perf_counter()
    hospital = census.hospital()
    t1 = time.perf_counter()
    beds = snapshots.beds_html(hospital)
    pages = [(loc, snapshots._inner(hospital, loc, beds)[0]) for loc in snapshots.all_locations()]
    t2 = time.perf_counter()
    key = SnapshotKey.objects.first()
    for loc, page in pages:
        envelope.seal(page, key=bytes(key.key), salt=bytes(key.salt), iterations=key.iterations,
                      location=loc.id, title=loc.title, made_at="", made_at_text="")  # fmt: skip
    t3 = time.perf_counter()
    files = [p.read_bytes() for p in sorted(directory.rglob("*.html"))]
    with tempfile.TemporaryDirectory() as plain:
        t4 = time.perf_counter()
        for n, data in enumerate(files):
            (Path(plain) / f"{n}.html").write_bytes(data)
        t5 = time.perf_counter()
    return {"census": t1 - t0, "render": t2 - t1, "seal": t3 - t2, "plain_write": t5 - t4}


def child(beds: int, ward_size: int, runs: int) -> None:
    started = time.perf_counter()
    common.setup_django()
    common.freeze_clock(dt.datetime.combine(DAY, dt.time(7, 0), tzinfo=IST))
    from django.db import connection

    from ajeya.downtime import envelope, snapshots

    world = _setup(beds, ward_size)
    _admit_all(world)
    del world["beds"], world["patients"]
    filled = _fill(world)
    _keys()
    setup_seconds = time.perf_counter() - started
    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as out:
        directory = Path(out)
        snapshots.write(directory=directory)  # warm-up: templates compiled, caches
        for _ in range(runs):
            common.freeze_heap()
            t0 = time.perf_counter()
            written = snapshots.write(directory=directory)
            timings.setdefault("write", []).append(time.perf_counter() - t0)
            for name, seconds in _parts(directory).items():
                timings.setdefault(name, []).append(seconds)
        failed = [w.error for w in written if w.error]
        if failed:
            raise SystemExit(f"snapshots not written: {failed[:3]}")
        ward = next(w for w in written if w.location.id == "ward:W001")
        _, inner = envelope.open_document(ward.path.read_text(), PASSPHRASE)
        opened = f"{ward.location.id}, {inner.count('<tr data-row>')} rows"
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "server_version": str(getattr(connection, "pg_version", "") or ""),
                "files": len(written),
                "wards": sum(1 for w in written if w.location.kind == "ward"),
                "departments": sum(1 for w in written if w.location.kind == "opd"),
                "bytes": sum(w.size for w in written),
                "largest": max(w.size for w in written),
                "ward_bytes": ward.size,
                "opened": opened,
                **filled,
                "timings": {k: statistics.median(v) for k, v in timings.items()},
                "all_timings": timings,
                "setup_seconds": round(setup_seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*(int(a) for a in sys.argv[2:5]))
