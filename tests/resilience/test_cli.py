"""The recovery commands refuse bad input in one line, with the exit code, before any
work: no targets, no key, a key or directory that is not there, no retention rule."""

from __future__ import annotations

import pytest

from ajeya.cli import main
from ajeya.ledger import checkpoints


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return " ".join(err.split())


@pytest.fixture
def no_targets(settings, tmp_path):
    settings.AJEYA_BACKUP_TARGETS = {}
    settings.AJEYA_BACKUP_PUBLIC_KEY = tmp_path / "keys" / "backup.pub"
    return settings


def test_ship_without_targets_says_what_to_set(db, no_targets, capsys):
    assert main(["ship"]) == 1
    assert "no backup targets: set AJEYA_BACKUP_TARGETS" in _one_line(capsys)


def test_backup_without_the_public_key_says_what_to_run(db, no_targets, tmp_path, capsys):
    no_targets.AJEYA_BACKUP_TARGETS = {"usb": {"name": "usb", "where": str(tmp_path)}}
    assert main(["backup"]) == 2
    assert "run `ajeya keys init --out DIR` first" in _one_line(capsys)


def test_keys_init_into_a_missing_directory_is_refused(db, no_targets, tmp_path, capsys):
    assert main(["keys", "init", "--out", str(tmp_path / "no-usb")]) == 2
    assert "is not a directory" in _one_line(capsys)
    assert not no_targets.AJEYA_BACKUP_PUBLIC_KEY.exists()


def test_drill_with_a_missing_key_file_is_refused(db, no_targets, tmp_path, capsys):
    assert main(["drill", "--key", str(tmp_path / "nope.txt")]) == 2
    assert "no key file at" in _one_line(capsys)


def test_restore_from_a_missing_directory_is_refused(db, no_targets, tmp_path, capsys):
    checkpoints.generate_keys(tmp_path / "s.key", tmp_path / "s.pub")
    from ajeya.resilience import keys

    no_targets.AJEYA_LEDGER_SIGNING_KEY = tmp_path / "s.key"
    no_targets.AJEYA_LEDGER_PUBLIC_KEY = tmp_path / "s.pub"
    made = keys.init(tmp_path)
    code = main(["restore", "--from", str(tmp_path / "gone"), "--key", str(made.private_path)])
    assert code == 1
    assert f"{tmp_path / 'gone'} is not a directory" in _one_line(capsys)


def test_prune_without_a_rule_keeps_everything(db, no_targets, tmp_path, capsys):
    checkpoints.generate_keys(tmp_path / "s.key", tmp_path / "s.pub")
    code = main(["prune", "--from", str(tmp_path), "--key", str(tmp_path / "s.pub")])
    assert code == 2
    assert "no retention rule given" in _one_line(capsys)
