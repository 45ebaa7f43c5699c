"""The demo billing (`ajeya seed`) and the billing commands: made through the services,
so `verify` is clean, and safe to run again."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya import cli
from ajeya.accounts.seed import seed_staff
from ajeya.billing import selectors
from ajeya.billing.models import Account, Bill, Charge, Counter, Payment, PaymentKind
from ajeya.billing.seed import seed_billing
from ajeya.core import clock
from ajeya.core.roles import Role
from ajeya.core.seed import seed_departments
from ajeya.ledger import verification
from tests.appointments import factories as schedule
from tests.ipd import factories as ipd
from tests.lab import factories as lab
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def _small_hospital():
    seed_staff(seed_departments())
    doctor = lab.staff(Role.DOCTOR, "dr-seed")
    unit = schedule.clinic("MED-1")
    ward = ipd.ward("W1", rooms={"1": ["general", "private"]})
    general, private = ipd.beds(ward)
    start = clock.now() - dt.timedelta(days=3)
    gone = ipd.admit(doctor, general, doctor=doctor, unit=unit, admitted_at=start)
    ipd.discharge(doctor, gone)
    ipd.admit(doctor, private, doctor=doctor, unit=unit, admitted_at=start)
    lab.load_catalogue()
    lab.walk_in(("CBC", "LFT"), patient=PatientFactory())
    return gone


def test_demo_billing_bills_the_counter_day_and_adjusts_deposits_once():
    discharged = _small_hospital()
    counts = seed_billing(seed=2)
    assert set(Counter.objects.values_list("code", flat=True)) == {
        "OPD-1", "OPD-2", "IPD-1", "LAB-1",
    }  # fmt: skip
    assert counts["unpriced"] == 0
    assert Charge.objects.filter(code="BED-GEN").count() == 3  # three midnights
    final = Bill.objects.get(account__admission=discharged)
    account = final.account
    deposit = Payment.objects.get(account=account, kind=PaymentKind.DEPOSIT)
    # The advance was paid an hour after admission, and the final bill used it.
    assert deposit.paid_at == discharged.admitted_at + dt.timedelta(hours=1)
    assert selectors.balance(account).patient_due <= 0
    assert Bill.objects.filter(kind="opd").exists()  # the walk-in's lab tests, paid
    report = verification.verify(use_checkpoint_dir=False)
    assert report.findings == []
    assert report.rows_rechecked == 0  # the quick pass read every kind of row alike

    again = seed_billing(seed=2)
    assert (again["bills"], Bill.objects.count()) == (0, counts["bills"])


def test_billing_tariff_command_loads_the_starter_then_nothing_new(capsys):
    seed_departments()
    assert cli.main(["billing", "tariff"]) == 0
    assert "new tariff items" in capsys.readouterr().out
    assert cli.main(["billing", "tariff"]) == 0
    assert "0 new tariff items, 0 new price periods" in capsys.readouterr().out


def test_billing_tariff_command_names_a_bad_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "tariff.toml"
    bad.write_text(
        '[[item]]\ncode = "X"\nname = "X"\nkind = "magic"\nprices = { general = "-1" }\n'
    )
    assert cli.main(["billing", "tariff", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "magic" in err
    assert "negative" in err
    assert "Traceback" not in err


def test_billing_capture_command_posts_once(capsys):
    seed_departments()
    cli.main(["billing", "tariff"])
    PatientFactory()
    assert cli.main(["billing", "capture"]) == 0
    assert "1 charges posted" in capsys.readouterr().out
    assert cli.main(["billing", "capture"]) == 0
    assert "0 charges posted" in capsys.readouterr().out
    assert Account.objects.count() == 1
    assert cli.main(["billing", "capture", "--days", "0"]) == 2
