"""The demo hospital's OPD: clinics, a holiday, bookings and today's queues, all made
through the services (so `verify` is clean), and safe to run again."""

from __future__ import annotations

import pytest

from ajeya import cli
from ajeya.appointments.models import Appointment, Clinic, ClinicSession, Closure
from ajeya.ledger import verification
from ajeya.opd.models import Consultation, Visit, VisitStatus

pytestmark = pytest.mark.django_db


def test_the_demo_opd_is_busy_verifies_clean_and_seeds_once(clock_at, capsys):
    clock_at(2026, 11, 30, 7, 30)  # a Monday morning before the clinics open
    assert cli.main(["seed", "--patients", "120", "--seed", "3"]) == 0
    assert "11 clinics" in capsys.readouterr().out
    assert Clinic.objects.count() == 11
    assert ClinicSession.objects.count() == 66  # Monday to Saturday for each clinic
    assert Closure.objects.filter(reason__startswith="Christmas").count() == 1
    assert Appointment.objects.count() >= 40
    today = Visit.objects.filter(date="2026-11-30")
    assert today.filter(status=VisitStatus.WAITING).count() >= 10
    assert today.filter(status=VisitStatus.IN_CONSULTATION).count() == 2
    assert Consultation.objects.count() == 4
    assert Consultation.objects.filter(admit_advised=True).count() >= 1
    report = verification.verify(use_checkpoint_dir=False)
    assert report.findings == []
    assert report.rows_rechecked == 0  # the quick pass read every kind of row alike

    # Seeding again adds no second day (one seeded hospital serves both checks).
    counts = (Clinic.objects.count(), Visit.objects.count(), Appointment.objects.count())
    cli.main(["seed", "--patients", "0"])
    assert (Clinic.objects.count(), Visit.objects.count(), Appointment.objects.count()) == counts
