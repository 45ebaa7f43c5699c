"""Signing keys and checkpoint files, and the CLI around them: bad input is one line."""

from __future__ import annotations

import json
import re

import pytest

from ajeya import cli
from ajeya.ledger import checkpoints
from ajeya.ledger.models import LedgerEntry, VerificationRun
from tests.conftest import run_ajeya
from tests.ledger.conftest import raw
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_keygen_writes_a_private_key_only_the_owner_reads(tmp_path):
    kid = checkpoints.generate_keys(tmp_path / "k", tmp_path / "k.pub")
    assert len(kid) == 16
    assert oct((tmp_path / "k").stat().st_mode & 0o777) == "0o600"
    assert b"PUBLIC KEY" in (tmp_path / "k.pub").read_bytes()
    with pytest.raises(checkpoints.CheckpointError, match="already exists"):
        checkpoints.generate_keys(tmp_path / "k", tmp_path / "other.pub")


def test_a_checkpoint_signs_both_chain_heads(keys, clerk):
    PatientFactory(actor=clerk)
    checkpoint, path = checkpoints.create()
    loaded = checkpoints.load(path)
    head = LedgerEntry.objects.order_by("-seq").first()
    assert loaded.signature_valid
    assert loaded.doc["changes"] == {"seq": head.seq, "hash": head.hash}
    assert loaded.doc["hospital_code"] == "100"
    assert f"#{head.seq} {head.hash}" in checkpoint.paper_text()
    assert checkpoints.newest().name == path.name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is corrupted (not valid JSON)"),
        ('{"format": "something else"}', "is not an Ajeya ledger checkpoint"),
        ('{"format": "ajeya-ledger-checkpoint/1"}', "is corrupted (fields missing)"),
    ],
)
def test_a_damaged_checkpoint_file_is_refused_in_one_line(keys, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(message)):
        checkpoints.load(bad)


def test_a_checkpoint_from_another_hospital_is_refused(keys, settings, clerk):
    PatientFactory(actor=clerk)
    _, path = checkpoints.create()
    settings.AJEYA_HOSPITAL_CODE = "107"
    with pytest.raises(checkpoints.CheckpointError, match="belongs to hospital 100, not this one"):
        checkpoints.load(path)


def test_signing_without_a_key_says_how_to_make_one(settings, tmp_path):
    settings.AJEYA_LEDGER_SIGNING_KEY = tmp_path / "missing.key"
    with pytest.raises(checkpoints.CheckpointError, match="run `ajeya ledger keygen` first"):
        checkpoints.create(tmp_path)


def test_cli_verify_clean_then_tampered(keys, clerk, capsys):
    patient = PatientFactory(actor=clerk)
    assert cli.main(["ledger", "checkpoint", "--no-qr"]) == 0
    assert "AJEYA LEDGER CHECKPOINT 100" in capsys.readouterr().out
    assert cli.main(["verify"]) == 0
    assert ": clean." in capsys.readouterr().out
    raw("UPDATE patients_patient SET district = 'Nowhere' WHERE id = %s", [patient.pk])
    assert cli.main(["verify", "--json"]) == 1
    report = json.loads(_json(capsys))
    assert report["ok"] is False
    assert report["findings"][0]["ident"] == patient.uhid
    runs = list(VerificationRun.objects.order_by("started_at").values_list("ok", flat=True))
    assert runs == [True, False]


def _json(capsys) -> str:
    out = capsys.readouterr().out
    return out[out.index("{") :]


def test_cli_checkpoint_prints_a_qr_code_for_paper(keys, clerk, capsys):
    PatientFactory(actor=clerk)
    assert cli.main(["ledger", "checkpoint"]) == 0
    out = capsys.readouterr().out
    assert "█" in out or "▀" in out


def test_cli_bad_checkpoint_and_missing_key_are_one_line(keys, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{torn")
    assert cli.main(["verify", "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == "ajeya: error: checkpoint file bad.json is corrupted (not valid JSON)\n"
    assert cli.main(["verify", "--public-key", str(tmp_path / "nope.pub")]) == 2
    assert "no ledger public key" in capsys.readouterr().err
    assert not VerificationRun.objects.exists()


def test_cli_keygen_refuses_to_overwrite(keys, capsys):
    assert cli.main(["ledger", "keygen"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_checkpoint_without_a_key_in_a_fresh_process(tmp_path):
    result = run_ajeya("ledger", "checkpoint", AJEYA_VAR_DIR=str(tmp_path), DATABASE_URL="")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("ajeya: error: no ledger signing key at")
    assert "Traceback" not in result.stderr


def test_a_checkpoint_altered_after_it_was_checked_is_checked_again(keys, clerk):
    PatientFactory(actor=clerk)
    _, path = checkpoints.create()
    first, _ = checkpoints.load_all()
    assert [c.signature_valid for c in first] == [True]
    doc = json.loads(path.read_text())
    doc["changes"]["seq"] += 1
    path.write_text(json.dumps(doc))
    again, _ = checkpoints.load_all()
    assert [c.signature_valid for c in again] == [False]


def test_a_damaged_signing_key_is_one_line(keys, capsys):
    keys.AJEYA_LEDGER_SIGNING_KEY.write_text("not a key")
    assert cli.main(["ledger", "checkpoint", "--no-qr"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ajeya: error: ")
    assert "is not a readable Ed25519 private key" in err
    assert err.count("\n") == 1


def test_app_role_grants_are_for_postgresql_only(capsys):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the refusal is SQLite's")
    assert cli.main(["ledger", "grant-app-role", "ajeya_app"]) == 2
    assert "PostgreSQL only" in capsys.readouterr().err
