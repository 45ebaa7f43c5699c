"""The demo hospital's wards: beds of every category, two weeks of admissions and
discharges (so the census has a history), today's inpatients with charts, a bed being
cleaned, one reserved and one blocked.

Everything goes through the services (ledgered and sealed). Safe to run again: wards
are made once, and the history only when no one has been admitted yet.
"""

from __future__ import annotations

import datetime as dt
import random

from ajeya.accounts.models import User
from ajeya.appointments.models import Clinic
from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.core.models import Department
from ajeya.core.roles import Role
from ajeya.ipd import services
from ajeya.ipd.models import Admission, AdmissionStatus, Bed, BedStatus, Ward
from ajeya.patients.models import Patient

# (code, name, department, floor, category, rooms, beds a room)
WARDS = [
    ("MW", "Medical ward", "MED", "Ground floor, Block A", "general", 6, 4),
    ("SW", "Surgical ward", "SURG", "First floor, Block A", "general", 4, 4),
    ("PW", "Paediatric ward", "PAED", "First floor, Block B", "general", 3, 4),
    ("SPW", "Semi-private ward", "MED", "Second floor, Block A", "semi_private", 4, 2),
    ("PVT", "Private wing", "MED", "Third floor, Block A", "private", 6, 1),
    ("ICU", "Medical ICU", "MED", "Second floor, Block C", "icu", 1, 8),
    ("HDU", "High dependency unit", "SURG", "Second floor, Block C", "hdu", 1, 6),
]
CASES = [
    ("J18.9", "Community-acquired pneumonia"),
    ("A97.0", "Dengue"),
    ("K35.8", "Acute appendicitis"),
    ("I21.9", "Acute myocardial infarction"),
    ("E11.9", "Uncontrolled diabetes"),
    ("A09.9", "Acute gastroenteritis with dehydration"),
    ("N39.0", "Urinary tract infection"),
]


def seed_wards(departments: dict[str, Department]) -> list[Ward]:
    existing = set(Ward.objects.values_list("code", flat=True))
    for code, name, dept, floor, category, rooms, per_room in WARDS:
        if code in existing or dept not in departments:
            continue
        ward = services.ward_create(
            actor=None, code=code, name=name, department=departments[dept], floor=floor
        )
        n = 0
        for r in range(1, rooms + 1):
            room = services.room_create(actor=None, ward=ward, number=str(r))
            for _ in range(per_room):
                n += 1
                services.bed_create(actor=None, room=room, label=f"{code}-{n}", category=category)
    return list(Ward.objects.order_by("code"))


def seed_ipd_history(*, seed: int = 1, days: int = 14) -> dict[str, int]:
    """Admissions over the last `days` days, most discharged after 2 to 6 days."""
    counts = {"admissions": 0, "discharges": 0, "inpatients": 0}
    if Admission.objects.exists():
        return counts
    rng = random.Random(seed)
    clerk = User.objects.filter(role=Role.REGISTRATION_CLERK, is_active=True).order_by("pk").first()
    doctors = list(User.objects.filter(role=Role.DOCTOR, is_active=True).order_by("pk"))
    nurse = User.objects.filter(role=Role.NURSE, is_active=True).order_by("pk").first()
    units = {
        c.department.code: c for c in Clinic.objects.select_related("department").order_by("code")
    }
    beds = list(Bed.objects.select_related("ward__department").order_by("pk"))
    patients = list(Patient.objects.order_by("-pk")[:300])
    if not (clerk and doctors and nurse and units and beds and len(patients) > 60):
        return counts
    rng.shuffle(patients)
    pool = iter(patients)
    now = clock.now()
    due: list[tuple[dt.datetime, Admission]] = []
    start = now - dt.timedelta(days=days)
    for day in range(days + 1):
        moment = start + dt.timedelta(days=day, hours=3)  # 08:30 IST
        for when, admission in sorted((d for d in due if d[0] <= moment), key=lambda d: d[0]):
            _discharge(rng, admission, when, doctors, nurse)
            due.remove((when, admission))
            counts["discharges"] += 1
        free = [
            b for b in Bed.objects.filter(status=BedStatus.FREE).select_related("ward__department")
        ]
        rng.shuffle(free)
        for bed in free[: rng.randint(4, 9)]:
            unit = units.get(bed.ward.department.code) or next(iter(units.values()))
            code, _ = rng.choice(CASES)
            when = moment + dt.timedelta(minutes=rng.randint(0, 600))
            if when > now:
                continue
            try:
                admission = services.admission_create(
                    actor=clerk,
                    patient=next(pool),
                    bed=bed,
                    attending_doctor=rng.choice(doctors),
                    unit=unit,
                    provisional_icd10=code,
                    source=rng.choice(["emergency", "direct"]),
                    admitted_at=when,
                )
            except (ApplicationError, StopIteration):
                continue
            counts["admissions"] += 1
            leave = when + dt.timedelta(days=rng.randint(2, 6), hours=rng.randint(0, 6))
            if leave < now:
                due.append((leave, admission))
            else:
                _chart(rng, admission, nurse, doctors[0], now)
    for when, admission in sorted(due, key=lambda d: d[0]):
        _discharge(rng, admission, when, doctors, nurse)
        counts["discharges"] += 1
    _housekeeping(rng, nurse)
    counts["inpatients"] = Admission.objects.filter(status=AdmissionStatus.ADMITTED).count()
    return counts


def _discharge(rng, admission, when, doctors, nurse) -> None:
    kind = (
        "death"
        if rng.random() < 0.03
        else rng.choices(["normal", "lama", "referred"], [90, 6, 4])[0]
    )
    code = admission.provisional_icd10
    died = kind == "death"
    services.discharge_create(
        actor=rng.choice(doctors),
        admission=admission,
        kind=kind,
        diagnoses=[code],
        discharged_at=when,
        death_at=when - dt.timedelta(minutes=30) if died else None,
        cause_underlying_icd10=code if died else "",
        cause_immediate="Cardiorespiratory arrest" if died else "",
        course="Did not respond to treatment." if died else "Treated as per protocol; improved.",
        condition="Deceased" if died else "Stable, afebrile, ambulant",
        medications="" if died else "As advised",
        follow_up="" if died else "Medicine OPD after 1 week",
        referred_to="Safdarjung Hospital, New Delhi" if kind == "referred" else "",
    )
    bed = Bed.objects.get(pk=admission.bed_id)
    services.bed_set_status(actor=nurse, bed=bed, status=BedStatus.FREE)


def _chart(rng, admission, nurse, doctor, now) -> None:
    """Today's inpatients: observations every 6 hours, a drug, a dose, a note."""
    moment = admission.admitted_at + dt.timedelta(hours=1)
    while moment < now:
        services.observation_record(
            actor=nurse,
            admission=admission,
            recorded_at=moment,
            temperature_c=str(round(rng.uniform(36.6, 39.0), 1)),
            pulse_per_min=rng.randint(70, 112),
            systolic_mmhg=rng.randint(105, 150),
            diastolic_mmhg=rng.randint(65, 92),
            spo2_percent=rng.randint(93, 99),
        )
        moment += dt.timedelta(hours=6)
    order = services.medication_order(
        actor=doctor,
        admission=admission,
        drug="Ceftriaxone",
        dose="1 g",
        route="iv",
        frequency="BD",
    )
    services.dose_record(actor=nurse, order=order, outcome="given")
    services.fluid_record(
        actor=nurse,
        admission=admission,
        direction="intake",
        route="iv",
        volume_ml=1000,
        note="RL",
    )
    services.note_record(
        actor=nurse, admission=admission, text="Patient comfortable. Vitals stable."
    )


def _housekeeping(rng, nurse) -> None:
    free = list(Bed.objects.filter(status=BedStatus.FREE).order_by("pk")[:3])
    if len(free) == 3:
        services.bed_set_status(
            actor=nurse, bed=free[0], status=BedStatus.BLOCKED, note="oxygen point leaking"
        )
        services.bed_set_status(
            actor=nurse, bed=free[1], status=BedStatus.RESERVED, note="post-op from OT 2"
        )
