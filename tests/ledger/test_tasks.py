"""The worker's scheduled ledger jobs, called as the worker would call them."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.core import clock
from ajeya.ledger import tasks
from ajeya.ledger.models import VerificationRun
from tests.ledger.conftest import raw
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_scheduled_checkpoint_writes_a_signed_file(keys, clerk):
    PatientFactory(actor=clerk)
    name = tasks.ledger_checkpoint.call_local()
    assert (keys.AJEYA_CHECKPOINT_DIR / name).exists()


def test_scheduled_checkpoint_without_a_key_logs_and_skips(settings, tmp_path, caplog):
    settings.AJEYA_LEDGER_SIGNING_KEY = tmp_path / "none.key"
    assert tasks.ledger_checkpoint.call_local() is None
    assert "not signed" in caplog.text


def test_scheduled_verification_records_its_result(keys, clerk):
    patient = PatientFactory(actor=clerk)
    assert tasks.ledger_verify.call_local() is True
    raw("UPDATE patients_patient SET pincode = '999999' WHERE id = %s", [patient.pk])
    assert tasks.ledger_verify.call_local() is False
    latest = VerificationRun.objects.order_by("-started_at").first()
    assert not latest.ok
    assert latest.trigger == "scheduled"
    assert patient.uhid in latest.findings[0]


def test_schedules_follow_the_settings():
    every_15 = clock.every_minutes(15)
    assert every_15(dt.datetime(2026, 1, 1, 10, 30))  # noqa: DTZ001
    assert not every_15(dt.datetime(2026, 1, 1, 10, 31))  # noqa: DTZ001
    every_6h = tasks._every_hours(6)
    assert every_6h(dt.datetime(2026, 1, 1, 12, 7))  # noqa: DTZ001
    assert not every_6h(dt.datetime(2026, 1, 1, 13, 7))  # noqa: DTZ001
