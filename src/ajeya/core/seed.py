"""Demo hospital structure: the departments every other seed hangs off."""

from __future__ import annotations

from ajeya.core.models import Department, DepartmentKind
from ajeya.core.services import department_create

DEPARTMENTS = [
    ("MED", "General Medicine", DepartmentKind.CLINICAL),
    ("SURG", "General Surgery", DepartmentKind.CLINICAL),
    ("PAED", "Paediatrics", DepartmentKind.CLINICAL),
    ("OBG", "Obstetrics and Gynaecology", DepartmentKind.CLINICAL),
    ("ORTH", "Orthopaedics", DepartmentKind.CLINICAL),
    ("ENT", "ENT", DepartmentKind.CLINICAL),
    ("OPH", "Ophthalmology", DepartmentKind.CLINICAL),
    ("DERM", "Dermatology", DepartmentKind.CLINICAL),
    ("CARD", "Cardiology", DepartmentKind.CLINICAL),
    ("PSY", "Psychiatry", DepartmentKind.CLINICAL),
    ("EMER", "Emergency Medicine", DepartmentKind.CLINICAL),
    ("LAB", "Laboratory Medicine", DepartmentKind.DIAGNOSTIC),
    ("PATH", "Pathology", DepartmentKind.DIAGNOSTIC),
    ("RAD", "Radiology", DepartmentKind.DIAGNOSTIC),
    ("MRD", "Medical Records and Registration", DepartmentKind.SUPPORT),
    ("ACCT", "Accounts and Billing", DepartmentKind.SUPPORT),
    ("ADMN", "Hospital Administration", DepartmentKind.SUPPORT),
    ("IT", "Computer Facility (IT)", DepartmentKind.SUPPORT),
    ("AUD", "Internal Audit", DepartmentKind.SUPPORT),
]


def seed_departments() -> dict[str, Department]:
    """Create any missing departments; safe to run again."""
    existing = set(Department.objects.values_list("code", flat=True))
    for code, name, kind in DEPARTMENTS:
        if code not in existing:
            department_create(actor=None, code=code, name=name, kind=kind)
    return {d.code: d for d in Department.objects.all()}
