"""An intruder who knows the hash format and rewrites history, weakens two-factor, or
plays with checkpoint files: each must still be found or refused."""

from __future__ import annotations

import shutil

import pytest
from django.db import DatabaseError, connection, transaction

from ajeya import cli
from ajeya.accounts import services as accounts
from ajeya.ledger import checkpoints, tasks, verification
from ajeya.ledger import services as ledger
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerAction, LedgerEntry, VerificationRun
from tests.conftest import enrolled_device
from tests.ledger.conftest import raw
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hospital(clerk, keys):
    patients = [PatientFactory(actor=clerk, name=f"Ravi Kumar {c}") for c in "ABCD"]
    ledger.patients_accessed(actor=clerk, uhids=[p.uhid for p in patients], what=AccessKind.VIEWED)
    return patients


def rehash_from(chain: ledger.Chain, seq: int) -> None:
    """Recompute every hash from `seq` on, as an intruder who knows the format would."""
    prev = chain.model.objects.get(seq=seq - 1).hash if seq > 1 else ledger.GENESIS_HASH
    table = chain.model._meta.db_table
    for entry in chain.model.objects.filter(seq__gte=seq).order_by("seq"):
        entry.prev_hash = prev
        digest = ledger.entry_digest(chain, entry)
        raw(
            f"UPDATE {table} SET prev_hash = %s, hash = %s WHERE seq = %s",  # noqa: S608
            [prev, digest, entry.seq],
        )
        prev = digest


def findings(**kwargs) -> list[str]:
    return [f.line() for f in verification.verify(**kwargs).findings]


@pytest.mark.usefixtures("without_guards")
def test_rewritten_history_with_recomputed_hashes_is_caught_by_the_checkpoint(hospital):
    checkpoints.create()
    first = LedgerEntry.objects.filter(subject_id=hospital[0].uhid).get()
    forged = first.payload.replace("Ravi Kumar A", "Ravi Kumar Z")
    raw("UPDATE ledger_ledgerentry SET payload = %s WHERE seq = %s", [forged, first.seq])
    rehash_from(ledger.CHANGES, first.seq)
    # Every link and hash holds again: only the signed checkpoint shows the rewrite.
    assert verification.verify(use_checkpoint_dir=False).findings == []
    assert any("the chain was rewritten" in f for f in findings())
    # And the next scheduled checkpoint refuses to sign the rewritten chain.
    with pytest.raises(checkpoints.CheckpointError, match="no longer extends checkpoint"):
        checkpoints.create()


@pytest.mark.usefixtures("without_guards")
def test_cutting_the_access_chain_is_not_signed_away(hospital):
    checkpoints.create()
    head = AccessEntry.objects.order_by("-seq").first().seq
    raw("DELETE FROM ledger_accessentry WHERE seq > %s", [head - 2])
    with pytest.raises(checkpoints.CheckpointError, match="ledger_accessentry no longer extends"):
        checkpoints.create()
    assert any("ledger_accessentry" in f and "cut off the end" in f for f in findings())


@pytest.mark.usefixtures("without_guards")
def test_an_old_checkpoint_renamed_to_look_newest_hides_nothing(hospital, keys, clerk):
    _, old = checkpoints.create()
    PatientFactory(actor=clerk, name="Later Patient")
    checkpoints.create()
    head = LedgerEntry.objects.order_by("-seq").first().seq
    raw("DELETE FROM ledger_ledgerentry WHERE seq = %s", [head])
    shutil.copy(old, keys.AJEYA_CHECKPOINT_DIR / "checkpoint-999999999999-forged.json")
    assert checkpoints.newest().doc["changes"]["seq"] == head
    assert any("cut off the end" in f and f"signed #{head}" in f for f in findings())


def test_weakened_two_factor_settings_are_found(hospital, make_user):
    admin = make_user("hospital_admin", username="chief")
    device = enrolled_device(admin)
    raw("UPDATE otp_totp_totpdevice SET digits = 1, tolerance = 20 WHERE id = %s", [device.pk])
    (found,) = findings()
    assert found.startswith(f"otp_totp_totpdevice {device.pk}: differs from ledger entry")
    assert "digits" in found
    assert "tolerance" in found


def test_verify_uses_the_public_key_it_is_given(hospital, tmp_path, capsys):
    checkpoints.create()
    other_private, other_public = tmp_path / "o.key", tmp_path / "o.pub"
    checkpoints.generate_keys(other_private, other_public)
    assert cli.main(["verify", "--public-key", str(other_public)]) == 1
    assert "signature does not match the ledger public key" in capsys.readouterr().out


def test_a_verification_that_cannot_finish_is_recorded_as_failed(hospital, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk read error")

    monkeypatch.setattr(verification, "verify", broken)
    assert tasks.ledger_verify.call_local() is False
    run = VerificationRun.objects.get()
    assert not run.ok
    assert "could not finish: disk read error" in run.findings[0]


def test_an_unlock_after_the_owner_changed_their_password_keeps_the_seal(
    hospital, clerk, make_user
):
    itsec = make_user("it_security", username="itdesk")
    stale = type(clerk).objects.get(pk=clerk.pk)  # IT opened the account page earlier
    accounts.password_change(
        user=clerk, current="correct-horse-battery-7", new="a-brand-new-pass-9"
    )
    accounts.user_unlock(actor=itsec, user=stale, reason="called the desk")
    assert findings() == []


def test_the_dashboard_copy_of_findings_holds_no_patient_values(hospital):
    raw("UPDATE patients_patient SET phone = '9000000001' WHERE id = %s", [hospital[0].pk])
    report = verification.verify()
    assert "9000000001" in report.findings[0].line()
    run = verification.save_run(report, trigger="cli", started_at=report_time())
    assert run.findings == [
        f"patients_patient {hospital[0].uhid}: differs from ledger entry "
        f"#{report.findings[0].problem.split('#')[1].split()[0]} in phone"
    ]
    assert "9000000001" not in str(run.findings)


def report_time():
    from ajeya.core import clock

    return clock.now()


def test_a_forged_seal_alone_is_found(hospital):
    raw("UPDATE patients_patient SET seal = %s WHERE id = %s", ["0" * 64, hospital[1].pk])
    assert findings() == [
        f"patients_patient {hospital[1].uhid}: its seal does not match its contents"
    ]


def test_the_ledger_itself_refuses_an_update_without_a_reason(hospital):
    change = ledger.Change(action=LedgerAction.UPDATE, subject_type="x", subject_id="1", after={})
    with pytest.raises(ValueError, match="reason is required"), transaction.atomic():
        ledger.record(change)


def test_a_value_the_app_never_writes_is_a_finding_not_a_crash(hospital):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's types refuse an impossible date at the door")
    raw("UPDATE patients_patient SET date_of_birth = '2020-13-45' WHERE id = %s", [hospital[2].pk])
    found = findings()
    assert any("cannot be read any further" in f for f in found)


def test_truncating_the_ledger_is_refused_even_for_the_owner(hospital):
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("TRUNCATE ledger_ledgerentry")
    assert LedgerEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_access_entries_make_their_own_transaction(clerk):
    # Outside any transaction, as a view calls it: must not need the caller's.
    assert (
        ledger.patients_accessed(actor=clerk, uhids=["100000000015"], what=AccessKind.VIEWED) == 1
    )
    assert AccessEntry.objects.count() == 1


def test_a_deleted_or_planted_search_token_is_found(hospital):
    target, other = hospital[0], hospital[1]
    raw(
        "DELETE FROM patients_patientnametoken WHERE patient_id = %s AND token = 'ravi'",
        [target.pk],
    )
    raw(
        "INSERT INTO patients_patientnametoken (patient_id, token, skeleton) VALUES (%s, %s, %s)",
        [other.pk, "sharma", "srm"],
    )
    mismatch = "the name search index does not match the patient's name"
    found = findings()
    assert f"patients_patientnametoken {target.uhid}: {mismatch}" in found
    assert f"patients_patientnametoken {other.uhid}: {mismatch}" in found
