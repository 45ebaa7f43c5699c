"""Writes to the hospital's structure (departments), each recorded in the ledger."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ajeya.core.errors import ValidationFailed
from ajeya.core.models import Department, DepartmentKind
from ajeya.core.roles import Perm, require_perm
from ajeya.ledger import services as ledger


def department_create(*, actor, code: str, name: str, kind: str) -> Department:
    """Add a department. `actor=None` is the bootstrap path (seeding, the CLI)."""
    if actor is not None:
        require_perm(actor, Perm.STAFF_MANAGE)
    if kind not in DepartmentKind.values:
        raise ValidationFailed({"kind": [f"Unknown kind {kind!r}."]})
    try:
        with transaction.atomic():
            department = Department(code=code.strip().upper(), name=name.strip(), kind=kind)
            ledger.create_sealed(department, actor=actor)
    except IntegrityError:
        raise ValidationFailed({"code": [f"A department with code {code!r} exists."]}) from None
    return department
