"""`ajeya downtime …`: passphrases, writing, exporting and checking snapshots, making
kits — and one readable line with a non-zero exit for every bad input."""

from __future__ import annotations

import io
import re

import pytest

from ajeya.cli import main
from ajeya.downtime.models import Kit, SnapshotKey
from tests.downtime import factories

PASSPHRASE = "CLI-TEST-PASS-PHRASE"


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return " ".join(err.split())


@pytest.fixture
def hospital(db, make_user, clinic, monday_morning):
    return factories.small_hospital(make_user, clinic, PASSPHRASE)


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))


def test_keys_are_made_once_and_shown_once(hospital, capsys):
    SnapshotKey.objects.all().delete()
    assert main(["downtime", "keys", "--all"]) == 0
    shown = capsys.readouterr().out
    assert len(re.findall(r"([2-9A-HJKMNP-Z]{4}-){4}[2-9A-HJKMNP-Z]{4}", shown)) == 2
    assert SnapshotKey.objects.count() == 2
    assert main(["downtime", "keys", "--all"]) == 0
    assert "already has a passphrase" in capsys.readouterr().out
    assert main(["downtime", "keys"]) == 2
    assert "name a location" in _one_line(capsys)


def test_export_then_check_the_file(hospital, tmp_path, capsys, monkeypatch):
    assert main(["downtime", "export", "--ward", "w1", "--to", str(tmp_path)]) == 0
    path = tmp_path / "ward-w1.html"
    assert main(["downtime", "check", str(path)]) == 0
    assert "intact" in capsys.readouterr().out
    _stdin(monkeypatch, PASSPHRASE)
    assert main(["downtime", "check", str(path), "--passphrase-stdin"]) == 0
    assert "opens" in capsys.readouterr().out
    _stdin(monkeypatch, "WRONG-PASSPHRASE-X")
    assert main(["downtime", "check", str(path), "--passphrase-stdin"]) == 1
    assert "Wrong passphrase" in _one_line(capsys)


def test_a_corrupted_snapshot_is_named(hospital, tmp_path, capsys):
    damaged = tmp_path / "damaged.html"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe not a snapshot")
    assert main(["downtime", "check", str(damaged)]) == 1
    assert "not a downtime snapshot (not text)" in _one_line(capsys)
    damaged.write_text("<html>half a file")
    assert main(["downtime", "check", str(damaged)]) == 1
    assert "not an Ajeya downtime snapshot, or cut short" in _one_line(capsys)
    assert main(["downtime", "check", str(tmp_path / "gone.html")]) == 2
    assert "no such file" in _one_line(capsys)


def test_export_refuses_unknown_places(hospital, tmp_path, capsys):
    assert main(["downtime", "export", "--ward", "NOPE", "--to", str(tmp_path)]) == 1
    assert "No active ward with code 'NOPE'" in _one_line(capsys)
    assert main(["downtime", "export", "--ward", "W1", "--to", str(tmp_path / "usb")]) == 2
    assert "is not a directory" in _one_line(capsys)
    assert main(["downtime", "export", "--to", str(tmp_path)]) == 2
    assert "name one location" in _one_line(capsys)


def test_write_names_what_it_could_not_write(hospital, capsys):
    SnapshotKey.objects.filter(location="ward:W1").delete()
    assert main(["downtime", "write"]) == 1
    assert "ward:W1: no passphrase set" in _one_line(capsys)


def test_kit_for_an_unknown_department_is_refused(hospital, tmp_path, capsys):
    code = main(["downtime", "kit", "--department", "XYZ", "--uhids", "5"])
    assert code == 1
    assert "No active department with code 'XYZ'" in _one_line(capsys)
    assert Kit.objects.count() == 0
    assert main(["downtime", "kit", "--department", "MED", "--uhids", "2",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    kit = Kit.objects.get()
    assert (tmp_path / f"downtime-kit-{kit.number}.pdf").read_bytes()[:4] == b"%PDF"
