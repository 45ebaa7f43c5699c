"""The `ajeya` command: seeding, creating an administrator, and one-line errors."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys

import pytest

from ajeya import cli
from ajeya.accounts.models import User
from ajeya.core.roles import Role
from ajeya.defense.models import Canary
from ajeya.downtime.models import BackEntry
from ajeya.ledger import services as ledger
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.registry import state_of
from ajeya.patients.models import Patient
from ajeya.patients.seed import seed_patients
from tests.accounts.factories import TEST_PASSWORD
from tests.conftest import run_ajeya

pytestmark = pytest.mark.django_db
ANCHOR = dt.date(2026, 6, 1)
FIELDS = ("name", "sex", "date_of_birth", "phone", "district", "pincode", "category")


def details(patients):
    return [(*(getattr(p, f) for f in FIELDS), bool(p.abha_number)) for p in patients]


def test_seeding_is_deterministic_for_a_seed():
    seed_patients(40, seed=7, anchor=ANCHOR)
    seed_patients(40, seed=7, anchor=ANCHOR)
    seed_patients(40, seed=8, anchor=ANCHOR)
    rows = list(Patient.objects.order_by("id"))
    assert details(rows[:40]) == details(rows[40:80])
    assert details(rows[:40]) != details(rows[80:])
    assert len({p.uhid for p in rows}) == 120


def test_seeded_patients_are_sealed_and_on_the_ledger():
    seed_patients(25, seed=3, anchor=ANCHOR, batch_size=10)
    entries = {e.subject_id: e for e in LedgerEntry.objects.all()}
    assert len(entries) == 25
    prev = ledger.GENESIS_HASH
    for entry in LedgerEntry.objects.order_by("seq"):
        assert entry.prev_hash == prev
        assert entry.hash == ledger.entry_digest(ledger.CHANGES, entry)
        prev = entry.hash
    for patient in Patient.objects.all():
        assert patient.seal == state_hash(state_of(patient)) == entries[patient.uhid].state_hash
        assert patient.name_tokens.count() >= 2


def test_seed_then_register_continues_the_id_sequence(clerk):
    from tests.patients.factories import PatientFactory

    seed_patients(5, seed=1, anchor=ANCHOR)
    patient = PatientFactory(actor=clerk)
    assert patient.pk == Patient.objects.order_by("-id").values_list("id", flat=True)[1] + 1


def test_seed_command_makes_every_role_and_prints_logins(capsys):
    assert cli.main(["seed", "--patients", "30", "--seed", "2"]) == 0
    output = capsys.readouterr().out
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    # 30 seeded, the downtime kit's three paper registrations entered back, two decoys.
    paper = BackEntry.objects.filter(kind="uhid").count()
    decoys = Canary.objects.count()
    assert (Patient.objects.count(), paper, decoys) == (35, 3, 2)
    assert "clerk" in output
    assert "demo-" in output


def test_seed_twice_gives_fresh_passwords_and_no_duplicate_staff(capsys):
    cli.main(["seed", "--patients", "0"])
    first = capsys.readouterr().out
    cli.main(["seed", "--patients", "0"])
    second = capsys.readouterr().out
    assert User.objects.filter(username="clerk").count() == 1
    pick = lambda text: [w for w in text.split() if w.startswith("demo-")]  # noqa: E731
    assert pick(first)
    assert set(pick(first)).isdisjoint(pick(second))


def test_negative_patient_count_is_one_line_and_exit_2(capsys):
    assert cli.main(["seed", "--patients", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "ajeya: error: --patients must be zero or more"


def test_createadmin_reads_the_password_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_PASSWORD + "\n"))
    code = cli.main(
        ["createadmin", "--username", "chief", "--full-name", "Dr Chief", "--password-stdin"]
    )
    assert code == 0
    user = User.objects.get(username="chief")
    assert user.role == Role.HOSPITAL_ADMIN
    assert user.check_password(TEST_PASSWORD)
    assert not user.is_superuser
    assert not user.is_staff
    assert "two-factor" in capsys.readouterr().out


def test_createadmin_refuses_a_weak_password_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("123\n"))
    code = cli.main(["createadmin", "--username", "chief", "--full-name", "X", "--password-stdin"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("ajeya: error: password:")
    assert err.count("\n") == 1
    assert not User.objects.filter(username="chief").exists()


def test_createadmin_without_a_terminal_says_how(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["createadmin", "--username", "chief", "--full-name", "X"]) == 2
    assert "--password-stdin" in capsys.readouterr().err


def test_an_unreachable_database_is_one_readable_line(tmp_path):
    result = run_ajeya(
        "migrate",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing",
        AJEYA_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ajeya: database error:")
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_a_bad_setting_is_one_readable_line(tmp_path):
    result = run_ajeya("migrate", AJEYA_HOSPITAL_CODE="12", AJEYA_VAR_DIR=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ajeya: configuration error: AJEYA_HOSPITAL_CODE must be exactly three digits"
    )


def test_the_secret_key_is_generated_into_var_not_the_repository(tmp_path):
    env = {**os.environ, "AJEYA_VAR_DIR": str(tmp_path)}
    env.pop("AJEYA_SECRET_KEY", None)
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "ajeya.config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    first, second = run(), run()
    key_file = tmp_path / "secret_key"
    assert first == second == key_file.read_text().strip()
    assert len(first) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_seeding_never_touches_an_account_it_did_not_make(make_user, capsys):
    real = make_user(Role.IT_SECURITY, username="itsec")
    cli.main(["seed", "--patients", "0"])
    real.refresh_from_db()
    assert real.check_password(TEST_PASSWORD)
    assert "itsec " not in capsys.readouterr().out.replace("│", " ")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "foo://x", "DATABASE_URL"),
        ("AJEYA_LOG_LEVEL", "verbose", "AJEYA_LOG_LEVEL must be"),
        ("AJEYA_SESSION_IDLE_MINUTES", "-5", "must be at least 1"),
        ("AJEYA_VAR_DIR", "/proc/ajeya-cannot-be-here", "cannot be created"),
        ("AJEYA_HOSPITAL_LOGO", "/no/such/logo.png", "cannot be read"),
        ("AJEYA_HOSPITAL_LOGO", __file__, "is not a PNG or JPEG image"),
    ],
)
def test_bad_settings_are_one_line(variable, value, message):
    result = run_ajeya("migrate", **{variable: value})
    assert result.returncode == 2
    assert result.stderr.startswith("ajeya: configuration error:")
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0
