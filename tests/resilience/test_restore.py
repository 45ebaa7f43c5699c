"""Backup, ship, restore on a clean machine; and every way a restore must refuse."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path

import orjson
import pytest

from tests.resilience.conftest import ON_POSTGRES, copy_target

# One hospital for the module, built once: its tests run on one worker.
pytestmark = pytest.mark.xdist_group("resilience-backed-up")


def _count(hospital, var: Path, url: str, table: str) -> int:
    if ON_POSTGRES:
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    with sqlite3.connect(var / "ajeya.sqlite3") as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def _tables(var: Path, url: str) -> int:
    if ON_POSTGRES:
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()[0]
    return int((var / "ajeya.sqlite3").exists())


def _documents(var: Path) -> dict[str, str]:
    store = var / "reports-archive"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(store.iterdir())}


def _restore(hospital, place, url, *extra, target=None, key=None):
    return hospital.run(
        "restore", "--from", str(target or hospital.target), "--key", str(key or hospital.keyfile),
        *extra, var=place, database_url=url, check=False,
    )  # fmt: skip


def test_a_clean_machine_gets_everything_back_and_it_verifies(backed_up, tmp_path):
    place, url = backed_up.fresh_place("clean")
    result = _restore(backed_up, place, url, "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["verified"] is True
    assert outcome["replayed_changes"] > 0  # the work after the backup came from shipping
    assert set(outcome["phases"]) == {"fetch", "decrypt", "load", "replay", "verify"}
    for table in ("patients_patient", "ledger_ledgerentry", "billing_payment", "lab_result"):
        live = _count(backed_up, backed_up.var, backed_up.database_url, table)
        assert _count(backed_up, place, url, table) == live, table
    assert _documents(place) == _documents(backed_up.var)
    # The restored server keeps its signing key: `ajeya verify` there checks the
    # restored checkpoints and is clean.
    verify = backed_up.run("verify", var=place, database_url=url, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "clean" in verify.stdout
    # A restore never overwrites a database unless told.
    again = _restore(backed_up, place, url)
    assert again.returncode == 1
    assert "refusing to overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    forced = _restore(backed_up, place, url, "--overwrite")
    assert forced.returncode == 0, forced.stderr


def test_the_next_uhid_after_a_restore_is_the_next_one_not_a_repeat(backed_up, tmp_path):
    place, url = backed_up.fresh_place("uhids")
    assert _restore(backed_up, place, url).returncode == 0
    register = (
        "from ajeya.accounts.models import User\n"
        "from ajeya.patients import services\n"
        "from ajeya.patients.models import Patient\n"
        "newest = max(Patient.objects.values_list('uhid', flat=True))\n"
        "clerk = User.objects.filter(role='registration_clerk').first()\n"
        "p = services.patient_register(actor=clerk, name='Restored Test', sex='F', "
        "district='New Delhi', state='DL', pincode='110029', age_years=30)\n"
        "print(newest, p.uhid)\n"
    )
    child = backed_up.python(register, var=place, database_url=url)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    newest, issued = out.split()
    assert issued > newest


def _refused(backed_up, *phrases: str, target=None, key=None) -> None:
    """A restore that must fail: exit 1, one line naming every phrase, nothing left."""
    place, url = backed_up.fresh_place("refused")
    result = _restore(backed_up, place, url, target=target, key=key)
    assert result.returncode == 1, result.stdout
    said = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in said
    assert len(result.stderr.strip().splitlines()) == 1
    assert _tables(place, url) == 0


def _damage(copy: Path, pattern: str) -> str:
    # The newest match: the oldest segment holds only entries the snapshot already has,
    # and a restore rightly never opens it.
    path = [p for p in sorted(copy.rglob("*")) if re.search(pattern, p.as_posix())][-1]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path.relative_to(copy).as_posix()


@pytest.mark.parametrize(
    ("what", "pattern"),
    [
        ("the database object", r"/db/.*\.age$"),
        ("a document", r"documents/.*\.age$"),
        ("a ledger segment", r"ledger/.*\.age$"),
    ],
)
def test_a_tampered_object_is_refused_by_name_and_nothing_is_left(backed_up, tmp_path, what,
                                                                  pattern):  # fmt: skip
    copy = copy_target(backed_up, tmp_path)
    _refused(backed_up, _damage(copy, pattern), "tampered", target=copy)


def test_a_missing_object_is_named(backed_up, tmp_path):
    copy = copy_target(backed_up, tmp_path)
    gone = next((copy / "documents").rglob("*.age"))
    gone.unlink()
    _refused(backed_up, gone.relative_to(copy).as_posix(), "missing", target=copy)


def test_a_missing_segment_in_the_middle_is_a_gap_not_a_silent_loss(backed_up, tmp_path):
    copy = copy_target(backed_up, tmp_path)
    segments = sorted((copy / "ledger").glob("*.json"))
    assert len(segments) == 3  # up to the backup, then two shipments of new work
    middle = segments[1]
    middle.unlink()
    middle.with_suffix(".age").unlink()
    named = segments[2].relative_to(copy).as_posix()
    _refused(backed_up, "a segment is missing", named, target=copy)


def test_a_replaced_manifest_is_refused(backed_up, tmp_path):
    copy = copy_target(backed_up, tmp_path)
    manifest = sorted((copy / "snapshots").rglob("manifest.json"))[-1]  # the newest
    doc = orjson.loads(manifest.read_bytes())
    doc["objects"][0]["sha256"] = "0" * 64  # point at other bytes, keep the old signature
    manifest.write_bytes(orjson.dumps(doc))
    named = manifest.relative_to(copy).as_posix()
    _refused(backed_up, named, "signature does not verify", "--backup ID", target=copy)


def test_a_wrong_key_is_refused(backed_up, tmp_path):
    # Another hospital's key file: its signer is not ours, so nothing is trusted.
    other = tmp_path / "other"
    other.mkdir()
    backed_up.run("keys", "init", "--out", str(other), var=tmp_path / "other-var",
                  database_url="")  # fmt: skip
    stranger = next(other.iterdir())
    _refused(backed_up, "signature does not verify", key=stranger)
    # Our signer but another private key: the objects will not open.
    lines = backed_up.keyfile.read_text().splitlines()
    theirs = [line for line in stranger.read_text().splitlines() if line.startswith("AGE-")]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("\n".join([*(x for x in lines if not x.startswith("AGE-")), *theirs]))
    _refused(backed_up, "does not open this backup", key=mixed)


def test_bad_key_files_are_one_line(backed_up, tmp_path):
    place, url = backed_up.fresh_place("badkey")
    missing = _restore(backed_up, place, url, key=tmp_path / "nope.txt")
    assert missing.returncode == 2
    assert "no key file" in missing.stderr
    junk = tmp_path / "junk.txt"
    junk.write_text("# nothing here\n")
    result = _restore(backed_up, place, url, key=junk)
    assert result.returncode == 2
    assert "holds no private backup key" in result.stderr


def test_restore_to_a_moment_before_any_backup_says_so(backed_up, tmp_path):
    place, url = backed_up.fresh_place("early")
    result = _restore(backed_up, place, url, "--at", "2020-01-01T10:00")
    assert result.returncode == 1
    assert "no backup holds data from before" in result.stderr
    bad = _restore(backed_up, place, url, "--at", "yesterday")
    assert bad.returncode == 2
    assert "--at 'yesterday'" in bad.stderr


def test_the_server_never_holds_the_private_key(backed_up):
    on_server = [
        p for p in backed_up.var.rglob("*") if p.is_file() and b"AGE-SECRET-KEY" in p.read_bytes()
    ]
    assert on_server == []
    assert (backed_up.var / "keys" / "backup.pub").read_text().startswith("age1")
    assert os.stat(backed_up.keyfile).st_mode & 0o077 == 0


def test_the_drill_restores_compares_and_records(backed_up, tmp_path):
    result = backed_up.run("drill", "--key", str(backed_up.keyfile), check=False)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "Restore drill passed" in said
    assert "every count matches" in said
    show = backed_up.python(
        "from ajeya.resilience import selectors\n"
        "from ajeya.resilience.models import DrillRun\n"
        "run = DrillRun.objects.latest()\n"
        "print(run.ok, sorted(run.phases), selectors.restore_line()[1])\n"
    )
    out, err = show.communicate(timeout=60)
    assert out.split() == [
        "True", "['decrypt',", "'fetch',", "'load',", "'replay',", "'verify']", "True"
    ], err  # fmt: skip
    # The drill of a damaged target fails, names the object and turns the line red.
    copy = copy_target(backed_up, tmp_path)
    name = _damage(copy, r"/db/.*\.age$")
    failed = backed_up.run("drill", "--key", str(backed_up.keyfile), check=False,
                           AJEYA_BACKUP_TARGETS=f"usb={copy}")  # fmt: skip
    assert failed.returncode == 1
    assert "restore drill FAILED" in failed.stderr
    assert name in failed.stderr
    show = backed_up.python(
        "from ajeya.resilience import selectors\nprint(selectors.restore_line())\n"
    )
    out, _ = show.communicate(timeout=60)
    assert "the latest drill FAILED" in out


def test_prune_refuses_to_run_on_the_app_server(backed_up):
    result = backed_up.run("prune", "--from", str(backed_up.target), "--key",
                           str(backed_up.keyfile), "--keep-last", "1", "--dry-run",
                           check=False)  # fmt: skip
    assert result.returncode == 2
    assert "never from the app server" in result.stderr


def test_prune_where_the_backups_live_keeps_what_restores_need(backed_up, tmp_path):
    copy = copy_target(backed_up, tmp_path)
    backups = sorted(p.name for p in (copy / "snapshots").iterdir())
    assert len(backups) == 2  # the demo's, and the one taken before more work
    storage_host = tmp_path / "storage-host"
    storage_host.mkdir()
    dry = backed_up.run("prune", "--from", str(copy), "--key", str(backed_up.keyfile),
                        "--keep-last", "1", "--dry-run", var=storage_host,
                        database_url="")  # fmt: skip
    said = " ".join(dry.stdout.split())
    assert "Keeping 1 backups (1 last); would delete 1 backups" in said
    before = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    backed_up.run("prune", "--from", str(copy), "--key", str(backed_up.keyfile),
                  "--keep-last", "1", var=storage_host, database_url="")  # fmt: skip
    after = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    gone = before - after
    assert {g for g in gone if g.startswith("snapshots/")} == {
        g for g in before if g.startswith(f"snapshots/{backups[0]}/")
    }
    # Segments go only when every entry in them is inside the kept backup; documents
    # stay (the kept backup lists them all).
    assert all(g.startswith(("snapshots/", "ledger/")) for g in gone)
    assert any(g.startswith("ledger/") for g in gone)
    place, url = backed_up.fresh_place("after-prune")
    restored = _restore(backed_up, place, url, target=copy, key=backed_up.keyfile)
    assert restored.returncode == 0, restored.stderr


def _raw(place, url, sql: str) -> None:
    if ON_POSTGRES:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)
        return
    with sqlite3.connect(place / "ajeya.sqlite3") as conn:
        conn.execute(sql)


def test_verify_in_several_processes_finds_what_one_finds(backed_up, tmp_path):
    place, url = backed_up.fresh_place("parallel-verify")
    assert _restore(backed_up, place, url).returncode == 0
    clean = backed_up.run("verify", "--workers", "2", "--json", var=place, database_url=url)
    assert json.loads(clean.stdout)["ok"] is True
    # The intruder: a patient's name changed behind the application's back.
    _raw(place, url, "UPDATE patients_patient SET name = 'Someone Else' WHERE id = "
                     "(SELECT MIN(id) FROM patients_patient)")  # fmt: skip
    reports = []
    for workers in ("1", "2"):
        result = backed_up.run("verify", "--workers", workers, "--json", "--no-save",
                               var=place, database_url=url, check=False)  # fmt: skip
        assert result.returncode == 1
        reports.append(json.loads(result.stdout))
    one, two = reports
    assert one["findings"] == two["findings"]
    assert one["entries_checked"] == two["entries_checked"]
    assert one["rows_checked"] == two["rows_checked"]
    assert any(
        f["table"] == "patients_patient" and "differs from ledger entry" in f["problem"]
        for f in two["findings"]
    )
    bad = backed_up.run("verify", "--workers", "0", var=place, database_url=url, check=False)
    assert bad.returncode == 2
    assert "--workers must be at least 1" in bad.stderr


FORGE = """
import json, sys
from pathlib import Path
import orjson
from ajeya.core import clock
from ajeya.ledger import checkpoints
from ajeya.resilience import keys, sealing, signing
target = Path(sys.argv[1])
signer = checkpoints.load_private_key()  # the intruder holds the server's signing key
recipient = keys.recipient()
stamp = clock.now().strftime('%Y%m%dT%H%M%S%fZ')
if sys.argv[2] == 'segment':
    # A segment claiming the whole future of both chains, with nothing in it: were
    # ranges trusted, every real segment after the backup would be skipped.
    big = 999_999_999_999
    stem = f'ledger/c{big:012d}-a{big:012d}-{stamp}'
    blob, sealed = sealing.seal_bytes(orjson.dumps({'columns': {'changes': [], 'accesses': []},
        'changes': [], 'accesses': [], 'sequences': {'uhid': 1}, 'images': {}}), recipient)
    (target / f'{stem}.age').write_bytes(blob)
    chain = {'after': 0, 'first': 1, 'last': big, 'count': big, 'prev_hash': '0' * 64,
             'last_hash': 'f' * 64, 'last_time': '2000-01-01 00:00:00.000000'}
    meta = {'format': 'ajeya-ledger-segment/1', 'hospital': {'code': '100'},
            'shipped_at': stamp, 'changes': chain, 'accesses': chain, 'consistent': True,
            'object': {'key': f'{stem}.age', **sealed.as_dict()}, 'documents': []}
    (target / f'{stem}.json').write_bytes(signing.sign(meta, signer))
else:
    # The newest manifest again, re-signed, naming a "document" outside the store.
    newest = sorted((target / 'snapshots').rglob('manifest.json'))[-1]
    doc = orjson.loads(newest.read_bytes())
    first = dict(doc['documents'][0])
    first['name'] = '../../escaped.py'
    doc['documents'].append(first)
    newest.write_bytes(signing.sign(doc, signer))
"""


def _forge(backed_up, copy, what: str) -> None:
    child = backed_up.python(
        FORGE.replace("sys.argv[1]", repr(str(copy))).replace("sys.argv[2]", repr(what))
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err


def test_a_forged_segment_claiming_the_chains_future_is_refused(backed_up, tmp_path):
    copy = copy_target(backed_up, tmp_path)
    _forge(backed_up, copy, "segment")
    _refused(backed_up, "its description says #999999999999", target=copy)


def test_a_signed_manifest_cannot_write_outside_the_document_store(backed_up, tmp_path):
    copy = copy_target(backed_up, tmp_path)
    _forge(backed_up, copy, "manifest")
    _refused(backed_up, "not a document name this version writes", target=copy)
    assert not list(tmp_path.rglob("escaped.py"))
