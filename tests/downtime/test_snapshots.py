"""Downtime snapshots: what a ward's and an OPD department's file holds, that it is
sealed so only the passphrase opens it, written whole, and refused when damaged."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from ajeya.core import clock
from ajeya.core.errors import NotFound, ValidationFailed
from ajeya.downtime import census, envelope, snapshots
from ajeya.downtime.models import SnapshotState
from ajeya.ledger.models import AccessEntry
from ajeya.opd.models import Frequency
from tests.downtime import factories
from tests.ipd import factories as wards

PASSPHRASE = "TEST-WARD-PASS-2026"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.fixture
def hospital(db, make_user, clinic, monday_morning):
    return factories.small_hospital(make_user, clinic, PASSPHRASE)


def _open(path) -> str:
    return envelope.open_document(path.read_text(), PASSPHRASE)[1]


def test_the_census_holds_what_a_ward_needs(hospital):
    h = census.hospital()
    (patient,) = h.wards["W1"].inpatients
    assert (patient.name, patient.bed) == ("Kamala Devi", hospital["admission"].bed.label)
    assert [a.substance for a in patient.allergies] == ["Penicillin"]
    drugs = {m.drug: m for m in patient.medications}
    # Given at 08:00 IST (BD: 08:00 and 20:00), so the next dose is at 20:00 today.
    assert clock.local(drugs["Ceftriaxone"].next_due).time() == dt.time(20, 0)
    assert drugs["Paracetamol"].next_due is None  # SOS: when needed
    potassium = next(r for r in patient.results if r.test.startswith("Potassium"))
    assert potassium.critical
    assert patient.has_critical
    assert {p.panel for p in patient.pending} >= {"Complete blood count"}
    assert [b.label for b in h.beds] == [b.label for b in wards.beds(hospital["ward"])]


def test_next_dose_follows_the_drug_round():
    ordered = dt.datetime(2026, 11, 30, 10, 0, tzinfo=IST)
    due = census.next_due(Frequency.TDS, ordered, ordered_at=ordered, given=False)
    assert due == dt.datetime(2026, 11, 30, 14, 0, tzinfo=IST)
    late = dt.datetime(2026, 11, 30, 21, 0, tzinfo=IST)
    assert census.next_due(Frequency.QID, late, ordered_at=ordered, given=True) == dt.datetime(
        2026, 12, 1, 0, 0, tzinfo=IST
    )
    assert census.next_due(Frequency.STAT, late, ordered_at=ordered, given=False) == ordered
    assert census.next_due(Frequency.STAT, late, ordered_at=ordered, given=True) is None
    weekly = census.next_due(Frequency.WEEKLY, late, ordered_at=ordered, given=True)
    assert (weekly.date(), weekly.weekday()) == (dt.date(2026, 12, 7), ordered.weekday())


def test_every_location_gets_a_sealed_file_that_the_passphrase_opens(hospital, tmp_path):
    written = snapshots.write(directory=tmp_path)
    assert {w.location.id for w in written} == {"ward:W1", "opd:MED"}
    ward = next(w for w in written if w.location.id == "ward:W1")
    text = ward.path.read_text()
    # Nothing readable without the passphrase: no name, no UHID, no drug.
    for secret in ("Kamala", hospital["patient"].uhid, "Ceftriaxone", "Penicillin"):
        assert secret not in text
    inner = _open(ward.path)
    for shown in ("Kamala Devi", "Ceftriaxone", "Penicillin", "CRITICAL"):
        assert shown in inner
    assert ward.path == tmp_path / "ward-w1" / "ward-w1.html"
    opd = _open(next(w.path for w in written if w.location.id == "opd:MED"))
    assert "Every bed in the hospital" in opd
    state = SnapshotState.objects.get(location="ward:W1")
    assert (state.size, state.patients, state.error) == (ward.size, 1, "")


def test_an_overdue_dose_is_marked(hospital, tmp_path, clock_at):
    clock_at(2026, 11, 30, 21, 0)  # the 20:00 Ceftriaxone was not charted
    written = snapshots.write(directory=tmp_path)
    inner = _open(next(w.path for w in written if w.location.id == "ward:W1"))
    assert re.search(r"30 Nov 20:00 OVERDUE", inner)


def test_a_location_without_a_passphrase_is_named_not_skipped_silently(hospital, tmp_path):
    from ajeya.downtime.models import SnapshotKey

    SnapshotKey.objects.filter(location="ward:W1").delete()
    written = {w.location.id: w for w in snapshots.write(directory=tmp_path)}
    assert "no passphrase" in written["ward:W1"].error
    assert not (tmp_path / "ward-w1").exists()
    assert SnapshotState.objects.get(location="ward:W1").error.startswith("no passphrase")


def test_the_wrong_passphrase_and_a_damaged_file_are_told_apart(hospital, tmp_path):
    (w, *_) = snapshots.write([snapshots.find_location(ward="W1")], directory=tmp_path)
    text = w.path.read_text()
    with pytest.raises(ValidationFailed, match="Wrong passphrase"):
        envelope.open_document(text, "NOT-THE-RIGHT-ONE")
    with pytest.raises(ValidationFailed, match="cut short"):
        envelope.open_document(text[: len(text) // 2], PASSPHRASE)
    body = re.search(r'id="snapshot-body">([^<]*)<', text).group(1)
    flipped = body[:100] + ("A" if body[100] != "A" else "B") + body[101:]
    with pytest.raises(ValidationFailed, match="do not match the checksum"):
        envelope.open_document(text.replace(body, flipped), PASSPHRASE)


def test_a_relabelled_file_does_not_open(hospital, tmp_path):
    """Making an old file look fresh (its visible time edited) breaks the seal."""
    (w, *_) = snapshots.write([snapshots.find_location(ward="W1")], directory=tmp_path)
    text = w.path.read_text()
    header, _ = envelope.read_header(text)
    fresher = text.replace(header.made_at, "2030-01-01T00:00:00+00:00")
    with pytest.raises(ValidationFailed, match="Wrong passphrase"):
        envelope.open_document(fresher, PASSPHRASE)


def test_a_hand_export_writes_one_file_and_logs_who_it_names(hospital, tmp_path):
    before = AccessEntry.objects.filter(what="exported").count()
    (w,) = snapshots.export(snapshots.find_location(ward="W1"), tmp_path)
    assert w.path == tmp_path / "ward-w1.html"
    exported = AccessEntry.objects.filter(what="exported")
    assert exported.count() == before + 1
    assert exported.last().patient_uhid == hospital["patient"].uhid


def test_unknown_locations_are_refused(hospital):
    with pytest.raises(NotFound, match="No active ward with code 'NOPE'"):
        snapshots.find_location(ward="nope")
    with pytest.raises(NotFound, match="department with an active OPD clinic"):
        snapshots.find_location(department="XYZ")


def test_a_short_passphrase_is_refused(db):
    with pytest.raises(ValidationFailed, match="at least 12"):
        snapshots.key_set("ward:W1", "short")


def test_new_keys_only_where_missing_unless_rotating(hospital):
    locations = snapshots.all_locations()
    assert snapshots.keys_make(locations) == {}
    made = snapshots.keys_make(locations, rotate=True)
    assert set(made) == {loc.id for loc in locations}
    group = "[2-9A-HJKMNP-Z]{4}"
    assert all(re.fullmatch(rf"({group}-){{4}}{group}", p) for p in made.values())


def test_writing_never_leaves_half_a_file(hospital, tmp_path, monkeypatch):
    (w, *_) = snapshots.write([snapshots.find_location(ward="W1")], directory=tmp_path)
    good = w.path.read_bytes()

    def full_disk(fd, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshots.os, "fsync", full_disk)
    (failed,) = snapshots.write([snapshots.find_location(ward="W1")], directory=tmp_path)
    assert "No space left" in failed.error
    assert w.path.read_bytes() == good  # the last good file is still there, whole
    assert [p.name for p in w.path.parent.iterdir()] == ["ward-w1.html"]
