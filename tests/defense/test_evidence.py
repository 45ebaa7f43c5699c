"""The evidence bundle: every file there and hashed in the manifest, the timeline in
Timesketch's fields, the indicators a valid STIX 2.1 bundle, and a ledger slice that
re-verifies against its signed checkpoint and fails when one line is changed. Also
`ajeya incident export|list`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import stix2
from stix2validator import ValidationOptions, validate_string

from ajeya.cli import main
from ajeya.core.roles import Role
from ajeya.defense import evidence, incidents
from ajeya.defense.certin import IncidentKind
from ajeya.defense.evidence_slice import verify_slice
from ajeya.ledger import checkpoints
from ajeya.ledger import services as ledger
from ajeya.ledger.models import AccessEntry, AccessKind
from tests.defense.incident_scene import FILE_SHA, OUTSIDE, T0, WARD_PC, at, night, use_keys

pytestmark = pytest.mark.django_db

FILES = {
    "README.txt",
    "manifest.json",
    "manifest.sig",
    "timeline.jsonl",
    "indicators.stix.json",
    "ledger-slice.json",
    "ledger-public.pem",
    "certin-report.txt",
}


@pytest.fixture
def incident(clock_at, settings, tmp_path, make_user):
    use_keys(settings, tmp_path)
    scene = night(clock_at)
    security = make_user(Role.IT_SECURITY, username="sec")
    opened = incidents.incident_open(
        actor=security,
        title="Password guessing and a record opened from outside",
        kind=IncidentKind.UNAUTHORISED_ACCESS,
        detected_at=T0 + dt.timedelta(minutes=30),
        window_start=T0 - dt.timedelta(hours=1),
        window_end=T0 + dt.timedelta(hours=1),
        alerts=[scene.alert],
    )
    opened.scene = scene
    return opened


def _unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    (folder,) = into.iterdir()
    return folder


@pytest.fixture
def bundle(incident, tmp_path) -> Path:
    out = tmp_path / "usb"
    out.mkdir()
    return _unpack(evidence.export(incident, out), tmp_path / "unpacked")


def test_every_file_is_there_and_its_hash_in_the_manifest(bundle, incident):
    assert bundle.name.startswith(f"{incident.number}-evidence-")
    names = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()}
    assert names - {n for n in names if n.startswith("checkpoint/")} == FILES
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert set(manifest["sha256"]) == names - {"manifest.json", "manifest.sig"}
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest, name
    _, key_id, signature = (bundle / "manifest.sig").read_text().split()
    public = checkpoints.load_public_key(bundle / "ledger-public.pem")
    assert key_id == checkpoints.key_id(public)
    public.verify(base64.b64decode(signature), (bundle / "manifest.json").read_bytes())


def test_the_timeline_is_json_lines_with_timesketch_fields(bundle, incident):
    lines = [json.loads(line) for line in (bundle / "timeline.jsonl").read_text().splitlines()]
    assert len(lines) >= 7
    for line in lines:
        assert {"message", "datetime", "timestamp_desc", "timestamp"} <= set(line)
        assert dt.datetime.fromisoformat(line["datetime"]).tzinfo is not None
    failed = next(line for line in lines if line["kind"] == "login_failed")
    assert (failed["ip"], failed["country"], failed["internal"]) == (OUTSIDE, "CN", False)
    assert failed["timestamp_desc"] == "Failed login"
    change = next(line for line in lines if line["source"] == "ledger.changes")
    assert change["seq"] >= 1
    assert next(line for line in lines if line["ip"] == WARD_PC)["internal"] is True


def test_the_indicators_are_a_valid_stix_bundle(bundle):
    text = (bundle / "indicators.stix.json").read_text()
    result = validate_string(text, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    parsed = stix2.parse(text, allow_custom=False)
    by_type: dict[str, list] = {}
    for obj in parsed.objects:
        by_type.setdefault(obj.type, []).append(obj)
    assert [o.value for o in by_type["ipv4-addr"]] == [OUTSIDE]  # the ward PC is not one
    assert by_type["indicator"][0].pattern == f"[ipv4-addr:value = '{OUTSIDE}']"
    assert [a.user_id for a in by_type["user-account"]] == ["admin"]
    assert by_type["file"][0].hashes["SHA-256"] == FILE_SHA
    (identity,) = by_type["identity"]
    assert identity.name == "Ajeya Demo Hospital"
    (grouping,) = by_type["grouping"]
    assert set(grouping.object_refs) == {o.id for o in parsed.objects} - {grouping.id}


def test_the_ledger_slice_re_verifies_against_its_checkpoint(bundle):
    assert verify_slice(bundle) == []
    doc = json.loads((bundle / "ledger-slice.json").read_text())
    checkpoint = json.loads((bundle / doc["checkpoint"]).read_text())
    for name, chain in (("changes", ledger.CHANGES), ("accesses", ledger.ACCESSES)):
        entries = doc["chains"][name]["entries"]
        assert entries, name
        prev = entries[0]["prev_hash"]
        for e in entries:  # the rule, recomputed by hand
            head = ledger.header([e[column] for column in chain.columns])
            assert e["prev_hash"] == prev
            assert ledger.digest(prev, head, e["payload"].encode()) == e["hash"]
            prev = e["hash"]
        assert (entries[-1]["seq"], prev) == (checkpoint[name]["seq"], checkpoint[name]["hash"])


def test_one_changed_line_of_the_slice_is_found(bundle):
    path = bundle / "ledger-slice.json"
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if f'"ip":"{OUTSIDE}"' in line)
    lines[n] = lines[n].replace(f'"ip":"{OUTSIDE}"', '"ip":"10.0.4.99"')
    path.write_text("\n".join(lines) + "\n")
    seq = json.loads(lines[n].rstrip(","))["seq"]
    assert verify_slice(bundle) == [f"accesses #{seq}: its hash does not match its contents"]


def test_a_slice_continues_to_an_existing_checkpoint(incident, tmp_path, clock_at):
    first, _ = checkpoints.create()
    at(clock_at, T0 + dt.timedelta(hours=2))
    checkpoints.create()  # a later one: the earliest covering the window is chosen
    folder = tmp_path / "bundle"
    evidence.write_bundle(incident, folder)
    doc = json.loads((folder / "ledger-slice.json").read_text())
    assert doc["checkpoint"] == f"checkpoint/{first.name}"
    assert (folder / doc["checkpoint"]).read_bytes() == (
        Path(checkpoints.settings.AJEYA_CHECKPOINT_DIR) / first.name
    ).read_bytes()  # copied as it is
    assert verify_slice(folder) == []


def test_the_export_records_the_patients_it_names(bundle, incident):
    exported = AccessEntry.objects.filter(what=AccessKind.EXPORTED)
    assert [e.patient_uhid for e in exported] == [incident.scene.patient.uhid]


def test_the_cli_exports_and_lists(incident, tmp_path, capsys):
    assert main(["incident", "export", incident.number, "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("INC-2026-0001-evidence-*.zip")
    assert str(written) in "".join(capsys.readouterr().out.split())  # however it wraps
    assert main(["incident", "list"]) == 0
    assert "INC-2026-0001" in capsys.readouterr().out


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return " ".join(err.split())


def test_the_cli_refuses_an_unknown_incident_or_missing_directory(incident, tmp_path, capsys):
    assert main(["incident", "export", "INC-1999-0042", "--out", str(tmp_path)]) == 1
    assert "No incident INC-1999-0042." in _one_line(capsys)
    missing = tmp_path / "no-usb"
    assert main(["incident", "export", incident.number, "--out", str(missing)]) == 2
    assert f"{missing} is not a directory" in _one_line(capsys)
