"""Demo hospital structure: the departments every other seed hangs off."""

from __future__ import annotations

from django.db import transaction

from ajeya.core.models import Department, DepartmentKind

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
    with transaction.atomic():
        for code, name, kind in DEPARTMENTS:
            Department.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    return {d.code: d for d in Department.objects.all()}
