"""The demo laboratory (`ajeya seed`) and `ajeya lab catalogue`: made through the
services, so `verify` is clean, and safe to run again."""

from __future__ import annotations

import pytest

from ajeya import cli
from ajeya.lab.models import (
    CriticalAlert,
    InboundMessage,
    LabOrder,
    LabTest,
    MessageStatus,
    OrderSource,
    Report,
    ResultStatus,
    Sample,
    SampleStatus,
)
from ajeya.ledger import verification

pytestmark = pytest.mark.django_db


def test_the_demo_laboratory_has_a_week_of_work_and_today_and_seeds_once(clock_at, capsys):
    clock_at(2026, 11, 30, 13, 0)  # after a morning of OPD
    assert cli.main(["seed", "--patients", "120", "--seed", "3"]) == 0
    assert "lab tests in the catalogue" in capsys.readouterr().out
    assert LabTest.objects.count() == 51
    walk_ins = LabOrder.objects.filter(source=OrderSource.WALK_IN)
    assert walk_ins.count() >= 7 * 4
    # The week's work is dated across the week, not at the moment of seeding.
    days = {o.ordered_at.date() for o in walk_ins}
    assert len(days) >= 7
    assert Report.objects.filter(is_final=True).count() >= 20
    assert LabOrder.objects.filter(source=OrderSource.IPD).exists()
    assert LabOrder.objects.filter(source=OrderSource.OPD).exists()  # from OPD consultations
    alert = CriticalAlert.objects.get()
    assert (alert.result.test.code, alert.acknowledged_at) == ("K", None)
    assert alert.result.status == ResultStatus.VERIFIED
    rejected = Sample.objects.get(status=SampleStatus.REJECTED)
    assert rejected.recollection.status == SampleStatus.AWAITING
    statuses = set(InboundMessage.objects.values_list("status", flat=True))
    assert statuses == {MessageStatus.UNMATCHED, MessageStatus.ERROR}
    report = verification.verify(use_checkpoint_dir=False)
    assert report.findings == []
    assert report.rows_rechecked == 0  # the quick pass read every kind of row alike

    # Seeding again adds no second history (today's OPD may add orders; no walk-ins).
    counts = (walk_ins.count(), Report.objects.count(), LabTest.objects.count())
    assert cli.main(["seed", "--patients", "0", "--seed", "3"]) == 0
    assert (walk_ins.count(), Report.objects.count(), LabTest.objects.count()) == counts


def test_lab_catalogue_command_loads_the_starter_then_nothing_new(capsys):
    assert cli.main(["lab", "catalogue"]) == 0
    assert "51 new tests" in capsys.readouterr().out
    assert cli.main(["lab", "catalogue"]) == 0
    assert "0 new tests, 0 new panels" in capsys.readouterr().out


def test_lab_catalogue_command_names_a_bad_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "extra.toml"
    bad.write_text('[[test]]\ncode = "X1"\nname = "X"\nsection = "astrology"\n')
    assert cli.main(["lab", "catalogue", str(bad)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("ajeya: error:")
    assert "unknown section 'astrology'" in error
    assert "\n" not in error
    assert not LabTest.objects.exists()
    assert cli.main(["lab", "catalogue", str(tmp_path / "missing.toml")]) == 1
    assert "No catalogue file at" in capsys.readouterr().err
