"""The demo hospital's laboratory: the starter catalogue and its analyzers; a week of
authorised work (so the turnaround dashboard has a past); today's OPD orders at every
step from collection to authorisation; inpatients' results with a delta and a critical
potassium waiting for the doctor; a haemolysed sample being recollected; and analyzer
messages waiting to be matched.

Everything goes through the services (ledgered and sealed); the week's history is
written with `clock.travel`, so its times are those of the work, not of the seeding.
Safe to run again: the history is made only once.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from ajeya.accounts.models import User
from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.core.roles import Role
from ajeya.ipd.models import Admission, AdmissionStatus
from ajeya.lab import catalogue, selectors, services
from ajeya.lab.models import (
    LabOrder,
    LabTest,
    OrderSource,
    Priority,
    RejectionReason,
    ResultStatus,
    ResultType,
    Sample,
    SampleStatus,
)
from ajeya.patients.models import Patient

WALK_IN_MIX = [
    ["CBC"],
    ["CBC", "ESR"],
    ["KFT"],
    ["LFT", "KFT"],
    ["FBS", "PPBS"],
    ["HBA1C", "FBS"],
    ["LIPID"],
    ["COAG"],
    ["CRP"],
    ["URE"],
    ["HBSAG", "HIV", "HCV"],
    ["ELEC"],
]


def _first(role: Role) -> User | None:
    return User.objects.filter(role=role, is_active=True).order_by("pk").first()


def _value(rng: random.Random, test: LabTest, patient: Patient, on: dt.date, *, abnormal=0.15):
    rng_ = services.reference_range(test, patient, on)
    if test.result_type != ResultType.NUMERIC:
        options = [c for c in test.choices.split("|") if c] or [""]
        normal = rng_.normal_text if rng_ else options[0]
        if test.result_type == ResultType.TEXT or rng.random() > abnormal / 3:
            return normal
        return rng.choice([o for o in options if o != normal] or [normal])
    low = rng_.low if rng_ and rng_.low is not None else None
    high = rng_.high if rng_ and rng_.high is not None else None
    if low is None and high is None:
        low, high = Decimal(1), Decimal(10)
    if low is None:
        low = high * Decimal("0.5")
    if high is None:
        high = low * Decimal("1.6")
    span = float(high - low) or float(high) or 1.0
    if rng.random() < abnormal:
        x = float(high) + span * rng.uniform(0.05, 0.4)
    else:
        x = float(low) + span * rng.uniform(0.05, 0.95)
    return f"{max(x, 0):.{test.decimals}f}"


def _work(rng, order: LabOrder, *, tech, path, start: dt.datetime, upto: str = "authorised"):
    """Take an order's samples through collection, receipt, entry, verification and
    authorisation, at plausible times after `start` (each step under clock.travel),
    stopping at `upto` or before a step would fall in the future."""
    until = clock.now()
    moment = start

    def later(low: int, high: int) -> bool:
        nonlocal moment
        moment += dt.timedelta(minutes=rng.randint(low, high))
        return moment < until

    for sample in list(order.samples.filter(status=SampleStatus.AWAITING)):
        if not later(3, 20):
            break
        with clock.travel(moment):
            services.sample_collect(actor=tech, sample=sample)
        if upto == "collected":
            continue
        if not later(10, 45):
            break
        with clock.travel(moment):
            sample = services.sample_receive(actor=tech, accession=sample.accession)
        if upto == "received":
            continue
        if not later(20, 150):
            break
        on = clock.local(moment).date()
        results = [r for r in selectors.live_results(sample) if r.status == ResultStatus.PENDING]
        with clock.travel(moment):
            services.results_enter(
                actor=tech,
                sample=sample,
                values={r.pk: _value(rng, r.test, order.patient, on) for r in results},
            )
        if upto == "entered":
            continue
        if not later(3, 15):
            break
        with clock.travel(moment):
            services.results_verify(actor=tech, sample=sample)
        if upto == "verified":
            continue
        if not later(10, 90):
            break
        with clock.travel(moment):
            services.results_authorise(actor=path, sample=sample)
    return moment


def seed_lab(*, seed: int = 1, days: int = 7, per_day: int = 4) -> dict[str, int]:
    """The catalogue, always; the rest once."""
    loaded = catalogue.load()
    counts = {"tests": LabTest.objects.count(), "orders": 0, "reports": 0, "loaded": loaded.tests}
    tech, path = _first(Role.LAB_TECHNICIAN), _first(Role.PATHOLOGIST)
    doctor = _first(Role.DOCTOR)
    patients = list(Patient.objects.order_by("pk")[:400])
    if LabOrder.objects.filter(source=OrderSource.WALK_IN).exists():
        return counts
    if not (tech and path and doctor and len(patients) >= 20):
        return counts
    rng = random.Random(seed)
    now = clock.now()
    today = clock.local(now).replace(hour=0, minute=0, second=0, microsecond=0)

    # A week of walk-in work, all authorised: the turnaround dashboard's history.
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        for _ in range(per_day):
            start = day + dt.timedelta(hours=9, minutes=rng.randint(0, 240))
            with clock.travel(start):
                order = services.order_create(
                    actor=tech,
                    patient=rng.choice(patients),
                    tests=rng.choice(WALK_IN_MIX),
                    source=OrderSource.WALK_IN,
                    priority=rng.choices(list(Priority), [80, 15, 5])[0],
                    referring_doctor=rng.choice(["Dr. R. Mehta", "Dr. S. Iyer", "Dr. P. Das"]),
                )
            _work(rng, order, tech=tech, path=path, start=start)
            counts["orders"] += 1

    # Inpatients: yesterday's kidney tests authorised; today's repeat is in progress, and
    # the first inpatient's potassium is critical (an alert for the attending doctor).
    admitted = list(
        Admission.objects.filter(status=AdmissionStatus.ADMITTED)
        .select_related("patient", "attending_doctor")
        .order_by("pk")[:6]
    )
    for n, admission in enumerate(admitted):
        yesterday = max(today - dt.timedelta(hours=14), admission.admitted_at)
        if yesterday + dt.timedelta(hours=4) > now:
            continue
        try:
            with clock.travel(yesterday + dt.timedelta(minutes=30)):
                order = services.order_create(
                    actor=admission.attending_doctor,
                    patient=admission.patient,
                    tests=["KFT", "CBC"],
                    source=OrderSource.IPD,
                    admission=admission,
                    doctor=admission.attending_doctor,
                    priority=Priority.URGENT,
                )
            _work(rng, order, tech=tech, path=path, start=yesterday + dt.timedelta(minutes=30))
            start = now - dt.timedelta(hours=3)
            with clock.travel(start):
                repeat = services.order_create(
                    actor=admission.attending_doctor,
                    patient=admission.patient,
                    tests=["KFT"],
                    source=OrderSource.IPD,
                    admission=admission,
                    doctor=admission.attending_doctor,
                    priority=Priority.STAT if n == 0 else Priority.URGENT,
                )
            counts["orders"] += 2
            if n == 0:
                _critical_potassium(rng, repeat, tech=tech, start=start)
            else:
                _work(
                    rng,
                    repeat,
                    tech=tech,
                    path=path,
                    start=start,
                    upto=rng.choice(["collected", "received", "entered", "verified"]),
                )
        except ApplicationError:
            continue

    # Today's OPD orders (placed by the doctors' consultations) at every step.
    steps = ["awaiting", "collected", "received", "entered", "verified", "authorised"]
    opd_orders = list(
        LabOrder.objects.filter(
            source=OrderSource.OPD, ordered_at__date__gte=today.date()
        ).order_by("pk")
    )
    for n, order in enumerate(opd_orders):
        step = steps[n % len(steps)]
        if step == "awaiting":
            continue
        _work(random.Random(n), order, tech=tech, path=path, start=order.ordered_at, upto=step)

    # A haemolysed sample, rejected: its recollection waits at the collection desk.
    with clock.travel(now - dt.timedelta(minutes=50)):
        order = services.order_create(
            actor=tech,
            patient=patients[3],
            tests=["KFT"],
            source=OrderSource.WALK_IN,
            referring_doctor="Dr. R. Mehta",
        )
    _work(rng, order, tech=tech, path=path, start=now - dt.timedelta(minutes=50), upto="received")
    services.sample_reject(
        actor=tech,
        sample=order.samples.get(),
        reason=RejectionReason.HAEMOLYSED,
        note="grossly haemolysed, recollect",
    )
    counts["orders"] += 1
    _analyzer_messages()
    counts["reports"] = order.reports.model.objects.count()
    return counts


def _critical_potassium(rng, order: LabOrder, *, tech, start: dt.datetime) -> None:
    sample = order.samples.get()
    with clock.travel(start + dt.timedelta(minutes=10)):
        services.sample_collect(actor=tech, sample=sample)
    with clock.travel(start + dt.timedelta(minutes=30)):
        services.sample_receive(actor=tech, accession=sample.accession)
    values = {"UREA": "88", "CREAT": "2.9", "NA": "131", "K": "6.8", "CL": "99", "URIC": "8.1"}
    results = {r.test.code: r for r in selectors.live_results(sample)}
    with clock.travel(start + dt.timedelta(minutes=75)):
        services.results_enter(
            actor=tech, sample=sample, values={results[c].pk: v for c, v in values.items()}
        )
    with clock.travel(start + dt.timedelta(minutes=80)):
        services.results_verify(actor=tech, sample=sample)


def _analyzer_messages() -> None:
    """One result for a tube whose label was not registered (to be matched) and one with
    a code the analyzer mapping lacks (refused, kept)."""
    received = Sample.objects.filter(status=SampleStatus.RECEIVED, section="biochemistry").first()
    stamp = clock.local(clock.now()).strftime("%Y%m%d%H%M%S")
    for control, accession, code in (
        ("DEMO-0001", "2699999990", "GLUR"),
        ("DEMO-0002", received.accession if received else "2699999990", "HBA1C"),
    ):
        raw = "\r".join(
            [
                f"MSH|^~\\&|AU480|LAB|AJEYA|HOSPITAL|{stamp}||ORU^R01^ORU_R01|{control}|P|2.5.1",
                "PID|1||UNKNOWN",
                f"OBR|1||{accession}|{code}",
                f"OBX|1|NM|{code}^{code}||112|mg/dL|||||F",
            ]
        )
        services.analyzer_message_store(
            services.AnalyzerMessage(
                sending_application="AU480",
                sending_facility="LAB",
                control_id=control,
                accession=accession,
                observations=[services.Observation(code=code, value="112", unit="mg/dL")],
                raw=raw,
            )
        )
