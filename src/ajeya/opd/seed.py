"""The demo hospital's outpatient department: clinics with weekly sessions, a holiday,
bookings for the coming days, and today's queues with some patients already seen.

Everything goes through the services, so the demo's records are ledgered and sealed
like real ones. Safe to run again: clinics are made once, and a day's activity only
when that day has none.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import Q

from ajeya.accounts.models import User
from ajeya.appointments import selectors as appointment_selectors
from ajeya.appointments import services as appointments
from ajeya.appointments.models import Appointment, Clinic, ClosureKind
from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.core.models import Department
from ajeya.core.roles import Role
from ajeya.opd import services as opd
from ajeya.opd.models import Frequency, Route, Visit
from ajeya.patients.models import Patient

# (code, name, department, room, doctor username or None)
CLINICS = [
    ("MED-1", "General Medicine Unit I", "MED", "12", "doctor"),
    ("MED-2", "General Medicine Unit II", "MED", "14", None),
    ("SURG-1", "General Surgery Unit I", "SURG", "21", "doctor2"),
    ("PAED-1", "Paediatrics", "PAED", "31", None),
    ("OBG-1", "Obstetrics and Gynaecology", "OBG", "33", None),
    ("ORTH-1", "Orthopaedics", "ORTH", "41", None),
    ("ENT-1", "ENT", "ENT", "43", None),
    ("OPH-1", "Ophthalmology", "OPH", "45", None),
    ("DERM-1", "Dermatology", "DERM", "47", None),
    ("CARD-1", "Cardiology", "CARD", "51", None),
    ("PSY-1", "Psychiatry", "PSY", "53", None),
]

# What the demo's doctors see most: (complaint, ICD-10, drug lines, tests)
CASES = [
    (
        "Fever for 3 days with body ache",
        "A97.0",
        [("Paracetamol", "650 mg", "TDS", 5)],
        ["CBC", "Dengue NS1"],
    ),
    (
        "Cough and fever for a week",
        "J18.9",
        [("Amoxicillin", "500 mg", "TDS", 7)],
        ["CBC", "CRP"],
    ),
    ("Burning micturition", "N39.0", [("Nitrofurantoin", "100 mg", "BD", 5)], ["Urine routine"]),
    (
        "Known diabetic, routine review",
        "E11.9",
        [("Metformin", "500 mg", "BD", 30)],
        ["HbA1c", "FBS"],
    ),
    ("Headache and high BP readings", "I10", [("Amlodipine", "5 mg", "OD", 30)], ["Lipid profile"]),
    ("Loose stools since yesterday", "A09.9", [("ORS", "1 sachet in 1 L", "SOS", 3)], []),
]


def _doctor(username: str | None):
    return User.objects.filter(username=username).first() if username else None


def seed_clinics(departments: dict[str, Department]) -> list[Clinic]:
    """Clinics and their Monday-to-Saturday morning sessions; safe to run again."""
    existing = set(Clinic.objects.values_list("code", flat=True))
    start = clock.today() - dt.timedelta(days=30)
    for code, name, dept, room, doctor_name in CLINICS:
        if code in existing or dept not in departments:
            continue
        clinic = appointments.clinic_create(
            actor=None, code=code, name=name, department=departments[dept], room=room
        )
        for weekday in range(6):
            appointments.session_create(
                actor=None,
                clinic=clinic,
                weekday=weekday,
                start_time=dt.time(9, 0),
                end_time=dt.time(13, 0),
                slot_minutes=15,
                per_slot=4,
                valid_from=start,
                doctor=_doctor(doctor_name),
            )
    return list(Clinic.objects.order_by("code"))


def _holiday(today: dt.date) -> dt.date:
    christmas = dt.date(today.year, 12, 25)
    return christmas if christmas > today else dt.date(today.year + 1, 12, 25)


def seed_opd_day(*, seed: int = 1, bookings_per_clinic: int = 6) -> dict[str, int]:
    """Bookings for the next days and today's queues, unless today already has visits."""
    today = clock.today()
    counts = {"bookings": 0, "visits": 0, "consultations": 0}
    if Visit.objects.filter(date=today).exists():
        return counts
    rng = random.Random(seed)
    clerk = User.objects.filter(role=Role.REGISTRATION_CLERK, is_active=True).order_by("pk").first()
    nurse = User.objects.filter(role=Role.NURSE, is_active=True).order_by("pk").first()
    admin = User.objects.filter(role=Role.HOSPITAL_ADMIN, is_active=True).order_by("pk").first()
    patients = list(Patient.objects.order_by("pk")[:400])
    if clerk is None or len(patients) < 40:
        return counts
    holiday = _holiday(today)
    if not appointment_selectors.upcoming_closures(today).filter(start_date=holiday).exists():
        appointments.closure_create(
            actor=admin,
            kind=ClosureKind.HOLIDAY,
            start_date=holiday,
            end_date=holiday,
            reason="Christmas (gazetted holiday)",
        )
    pool = iter(rng.sample(patients, len(patients)))
    clinics = list(Clinic.objects.filter(is_active=True).order_by("code"))
    counts["bookings"] = _book_ahead(rng, clerk, clinics, pool, today, bookings_per_clinic)
    counts.update(_todays_queue(rng, clerk, nurse, clinics, pool, today))
    return counts


def _book_ahead(rng, clerk, clinics, pool, today, per_clinic: int) -> int:
    booked = 0
    for clinic in clinics:
        for offset in range(0, 8):
            day = today + dt.timedelta(days=offset)
            for session_day in appointment_selectors.clinic_day(clinic, day):
                free = [s for s in session_day.slots if s.bookable]
                for slot in rng.sample(free, min(len(free), per_clinic // 2)):
                    try:
                        appointments.appointment_book(
                            actor=clerk,
                            patient=next(pool),
                            session=slot.session,
                            date=day,
                            slot_time=slot.time,
                            channel=rng.choice(["counter", "phone"]),
                        )
                        booked += 1
                    except (ApplicationError, StopIteration):
                        continue
            if booked >= per_clinic * len(clinics):
                return booked
    return booked


def _todays_queue(rng, clerk, nurse, clinics, pool, today) -> dict[str, int]:
    """Check in today's booked patients and some walk-ins; the two named doctors see a few."""
    visits = consultations = 0
    for appointment in Appointment.objects.filter(date=today, status="booked").select_related(
        "patient", "clinic"
    ):
        try:
            opd.visit_check_in(actor=clerk, patient=appointment.patient, appointment=appointment)
            visits += 1
        except ApplicationError:
            continue
    busy = {"MED-1", "MED-2", "SURG-1", "PAED-1"}
    for clinic in (c for c in clinics if c.code in busy):
        for _ in range(rng.randint(5, 9)):
            try:
                opd.visit_check_in(actor=clerk, patient=next(pool), clinic=clinic)
                visits += 1
            except (ApplicationError, StopIteration):
                continue
    for code, doctor_name in (("MED-1", "doctor"), ("SURG-1", "doctor2")):
        clinic, doctor = Clinic.objects.filter(code=code).first(), _doctor(doctor_name)
        if clinic is None or doctor is None:
            continue
        waiting = Visit.objects.filter(clinic=clinic, date=today, status="waiting")
        if nurse is not None:
            for visit in waiting.order_by("token")[:5]:
                opd.vitals_record(
                    actor=nurse,
                    visit=visit,
                    temperature_c=str(round(rng.uniform(36.5, 39.2), 1)),
                    pulse_per_min=rng.randint(68, 110),
                    systolic_mmhg=rng.randint(110, 160),
                    diastolic_mmhg=rng.randint(70, 95),
                    spo2_percent=rng.randint(94, 99),
                    weight_kg=str(rng.randint(45, 85)),
                )
        for n in range(3):
            try:
                visit = opd.visit_call_next(actor=doctor, clinic=clinic)
            except ApplicationError:
                break
            if n == 2:
                break  # the third stays in the room: the worklist shows a called patient
            # Medicine's first patient has pneumonia: the demo always has an admission advice.
            pick = 1 if (code, n) == ("MED-1", 0) else rng.randrange(len(CASES))
            complaint, code_, drugs, tests = CASES[pick]
            opd.consultation_save(
                actor=doctor,
                visit=visit,
                complaints=complaint,
                examination="Conscious, oriented. Chest clear. Abdomen soft.",
                advice="Plenty of oral fluids. Return if worse.",
                diagnoses=[code_],
                prescriptions=[
                    opd.PrescriptionLine(
                        drug=d,
                        dose=dose,
                        route=Route.ORAL,
                        frequency=Frequency(freq),
                        duration_days=days,
                        instructions="after food",
                    )
                    for d, dose, freq, days in drugs
                ],
                order_lines=[opd.OrderLine(test=t) for t in tests],
                admit_advised=code_ == "J18.9",
                admit_note="Pneumonia with low SpO2: admit to medical ward"
                if code_ == "J18.9"
                else "",
            )
            consultations += 1
    return {"visits": visits, "consultations": consultations}


def demo_counts() -> dict[str, int]:
    today = clock.today()
    return {
        "clinics": Clinic.objects.count(),
        "bookings": Appointment.objects.filter(Q(date__gte=today)).count(),
        "visits_today": Visit.objects.filter(date=today).count(),
    }
