"""Departments: created through the service, on the ledger, with their refusals."""

import pytest

from ajeya.core.errors import PermissionRefused, ValidationFailed
from ajeya.core.models import Department
from ajeya.core.roles import Role
from ajeya.core.services import department_create
from ajeya.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


def test_a_department_is_sealed_and_recorded(make_user):
    itsec = make_user(Role.IT_SECURITY)
    department = department_create(actor=itsec, code=" nephro ", name="Nephrology", kind="clinical")
    assert department.code == "NEPHRO"
    entry = LedgerEntry.objects.get(subject_type="core.department")
    assert entry.actor_username == itsec.username
    assert Department.objects.get(pk=department.pk).seal == entry.state_hash


def test_bad_or_refused_departments_change_nothing(make_user):
    department_create(actor=None, code="ENT", name="ENT", kind="clinical")
    with pytest.raises(ValidationFailed, match="Unknown kind"):
        department_create(actor=None, code="X", name="X", kind="canteen")
    with pytest.raises(ValidationFailed, match="code 'ent' exists"):
        department_create(actor=None, code="ent", name="Ear, nose, throat", kind="clinical")
    with pytest.raises(PermissionRefused):
        department_create(actor=make_user(Role.DOCTOR), code="Y", name="Y", kind="support")
    assert list(Department.objects.values_list("code", flat=True)) == ["ENT"]
    assert LedgerEntry.objects.filter(subject_type="core.department").count() == 1


def test_every_minutes_fires_on_the_nth_minute_of_the_day():
    import datetime as dt

    from ajeya.core import clock

    due = clock.every_minutes(5)
    assert due(dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC))
    assert due(dt.datetime(2026, 11, 30, 13, 35, tzinfo=dt.UTC))
    assert not due(dt.datetime(2026, 11, 30, 13, 36, tzinfo=dt.UTC))
