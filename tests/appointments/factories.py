"""Clinics and sessions made through the real services (ledgered and sealed)."""

from __future__ import annotations

import datetime as dt

from ajeya.appointments import services
from ajeya.core.models import Department
from ajeya.core.services import department_create


def department(code: str = "MED") -> Department:
    return Department.objects.filter(code=code).first() or department_create(
        actor=None, code=code, name=f"Department {code}", kind="clinical"
    )


def clinic(code: str = "MED-1", *, room: str = "12", dept: str = "MED"):
    return services.clinic_create(
        actor=None, code=code, name=f"Clinic {code}", department=department(dept), room=room
    )


def session(
    clinic_obj,
    *,
    weekday: int = 0,
    start: str = "09:00",
    end: str = "10:00",
    slot_minutes: int = 15,
    per_slot: int = 2,
    valid_from: dt.date = dt.date(2026, 1, 1),
    valid_until: dt.date | None = None,
    doctor=None,
):
    return services.session_create(
        actor=None,
        clinic=clinic_obj,
        weekday=weekday,
        start_time=dt.time.fromisoformat(start),
        end_time=dt.time.fromisoformat(end),
        slot_minutes=slot_minutes,
        per_slot=per_slot,
        valid_from=valid_from,
        valid_until=valid_until,
        doctor=doctor,
    )
