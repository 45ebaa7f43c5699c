"""The demo hospital's wards: beds of every category, two weeks of admissions through
the services (so `verify` is clean), and safe to run again."""

from __future__ import annotations

import pytest

from ajeya import cli
from ajeya.ipd.models import Admission, AdmissionStatus, Bed, BedCategory, BedStatus, Discharge
from ajeya.ledger import verification

pytestmark = pytest.mark.django_db


def test_the_demo_wards_have_a_history_verify_clean_and_seed_once(clock_at, capsys):
    clock_at(2026, 11, 30, 7, 30)
    assert cli.main(["seed", "--patients", "200", "--seed", "4"]) == 0
    assert "7 wards" in capsys.readouterr().out
    assert set(Bed.objects.values_list("category", flat=True)) == set(BedCategory.values)
    admitted = Admission.objects.filter(status=AdmissionStatus.ADMITTED)
    assert admitted.count() >= 10
    assert Discharge.objects.count() >= 20
    assert Bed.objects.filter(status=BedStatus.OCCUPIED).count() == admitted.count()
    assert Bed.objects.filter(status=BedStatus.BLOCKED).count() == 1
    assert Bed.objects.filter(status=BedStatus.RESERVED).count() == 1
    assert all(a.observations.exists() for a in admitted)
    report = verification.verify(use_checkpoint_dir=False)
    assert report.findings == []
    assert report.rows_rechecked == 0  # the quick pass read every kind of row alike

    # Seeding again adds no second history (one seeded hospital serves both checks:
    # seeding is the slowest thing the suite does).
    counts = (Bed.objects.count(), Admission.objects.count())
    cli.main(["seed", "--patients", "0"])
    assert (Bed.objects.count(), Admission.objects.count()) == counts
