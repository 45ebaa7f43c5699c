"""Each protection, proved by breaking it: `verify` must name what an intruder did.

Every test here fails if its protection is removed (run on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.ledger import checkpoints, verification
from ajeya.ledger import services as ledger
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from ajeya.ledger.registry import state_of
from ajeya.patients.models import Patient
from tests.ledger.conftest import raw
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hospital(clerk, keys):
    """A few registered patients, a correction, some views, and a signed checkpoint."""
    patients = [PatientFactory(actor=clerk, name=f"Asha Devi {c}") for c in "ABCDE"]
    from ajeya.patients import services

    services.patient_update(
        actor=clerk, patient=patients[0], reason="spelling fixed", name="Asha Devii A"
    )
    ledger.patients_accessed(actor=clerk, uhids=[p.uhid for p in patients], what=AccessKind.LISTED)
    return patients


def findings(**kwargs) -> list[str]:
    return [f.line() for f in verification.verify(**kwargs).findings]


def test_an_untouched_hospital_verifies_clean(hospital):
    checkpoints.create()
    report = verification.verify()
    assert report.ok, report.findings
    assert report.entries_checked == LedgerEntry.objects.count() + AccessEntry.objects.count()
    assert report.rows_checked >= len(hospital) + 1  # patients and the clerk's account
    assert report.checkpoint["signature_valid"]


def test_a_patient_row_changed_with_raw_sql_is_found(hospital):
    target = hospital[2]
    raw("UPDATE patients_patient SET name = %s WHERE uhid = %s", ["Someone Else", target.uhid])
    row, index = findings()
    assert row.startswith(f"patients_patient {target.uhid}: differs from ledger entry #")
    assert "name 'Asha Devi C' → 'Someone Else'" in row
    # The search index still holds the old name, and says so too.
    assert index.startswith(f"patients_patientnametoken {target.uhid}: the name search index")


def test_a_change_hidden_by_recomputing_the_seal_is_still_found(hospital):
    target = hospital[1]
    raw("UPDATE patients_patient SET phone = %s WHERE uhid = %s", ["9000000000", target.uhid])
    tampered = Patient.objects.get(pk=target.pk)
    raw(
        "UPDATE patients_patient SET seal = %s WHERE uhid = %s",
        [state_hash(state_of(tampered)), target.uhid],
    )
    (found,) = findings()
    assert "phone" in found
    assert "seal was recomputed" in found


def test_a_row_inserted_behind_the_apps_back_is_found(hospital):
    model = Patient.objects.get(pk=hospital[0].pk)
    model.pk, model.uhid, model.abha_number = None, "100999999990", ""
    model.save()  # an ORM save skips the service: no ledger entry, no seal, no index
    found = findings()
    assert found == [
        "patients_patient 100999999990: has no ledger entry: it was added "
        "behind the application's back",
        "patients_patientnametoken 100999999990: the name search index does not match "
        "the patient's name",
    ]


def test_a_deleted_row_is_found(hospital):
    target = hospital[3]
    raw("DELETE FROM patients_patientnametoken WHERE patient_id = %s", [target.pk])
    raw("DELETE FROM patients_patient WHERE id = %s", [target.pk])
    (found,) = findings()
    assert found.startswith(f"patients_patient {target.uhid}: is missing")


def test_an_authenticator_added_behind_the_apps_back_is_found(hospital, clerk):
    TOTPDevice.objects.create(user=clerk, name="intruder's phone", confirmed=True)
    (found,) = findings()
    assert found.startswith("otp_totp_totpdevice")
    assert "added behind the application's back" in found


def test_the_database_refuses_to_change_or_delete_ledger_entries(hospital):
    for sql in (
        "UPDATE ledger_ledgerentry SET actor_username = 'nobody' WHERE seq = 1",
        "DELETE FROM ledger_ledgerentry WHERE seq = 1",
        "UPDATE ledger_accessentry SET ip = '1.2.3.4' WHERE seq = 1",
        "DELETE FROM ledger_accessentry WHERE seq = 1",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            raw(sql)
    assert LedgerEntry.objects.get(seq=1).actor_username != "nobody"


@pytest.mark.usefixtures("without_guards")
def test_an_edited_entry_is_found(hospital):
    entry = LedgerEntry.objects.filter(action="update").get()
    edited = entry.payload.replace("spelling fixed", "routine update")
    raw("UPDATE ledger_ledgerentry SET payload = %s WHERE seq = %s", [edited, entry.seq])
    found = findings()
    assert (
        f"ledger_ledgerentry #{entry.seq}: was changed after it was written "
        "(its columns or its recorded contents)"
    ) in found
    assert verification.verify().first_bad_seq == entry.seq


@pytest.mark.usefixtures("without_guards")
def test_an_edited_search_column_is_found(hospital):
    raw("UPDATE ledger_ledgerentry SET actor_username = 'someone' WHERE seq = 3")
    (found,) = findings()
    assert found == (
        "ledger_ledgerentry #3: was changed after it was written "
        "(its columns or its recorded contents)"
    )


@pytest.mark.usefixtures("without_guards")
def test_an_entry_deleted_from_the_middle_is_found(hospital):
    middle = LedgerEntry.objects.count() // 2
    raw("DELETE FROM ledger_ledgerentry WHERE seq = %s", [middle])
    found = findings()
    assert f"ledger_ledgerentry #{middle + 1}: entries #{middle} to #{middle} are missing" in found
    assert any(f.startswith(f"ledger_ledgerentry #{middle + 1}: does not link") for f in found)


@pytest.mark.usefixtures("without_guards")
def test_an_access_entry_deleted_is_found(hospital):
    raw("DELETE FROM ledger_accessentry WHERE seq = 2")
    assert "ledger_accessentry #3: entries #2 to #2 are missing" in findings()


@pytest.mark.usefixtures("without_guards")
def test_entries_swapped_in_order_are_found(hospital):
    raw("UPDATE ledger_ledgerentry SET seq = -1 WHERE seq = 2")
    raw("UPDATE ledger_ledgerentry SET seq = 2 WHERE seq = 3")
    raw("UPDATE ledger_ledgerentry SET seq = 3 WHERE seq = -1")
    found = findings()
    changed = "was changed after it was written (its columns or its recorded contents)"
    assert f"ledger_ledgerentry #2: {changed}" in found
    assert f"ledger_ledgerentry #3: {changed}" in found
    assert any(f.startswith("ledger_ledgerentry #3: does not link") for f in found)


@pytest.mark.usefixtures("without_guards")
def test_a_tail_cut_off_after_a_checkpoint_is_found(hospital, clerk):
    checkpoints.create()
    head = LedgerEntry.objects.order_by("-seq").first().seq
    raw("DELETE FROM ledger_ledgerentry WHERE seq > %s", [head - 2])
    # Without the checkpoint the shortened chain would look whole: every link holds.
    unchecked = verification.verify(use_checkpoint_dir=False)
    assert [f for f in unchecked.findings if f.check == "chain"] == []
    found = findings()
    assert any("entries were cut off the end" in f and f"signed #{head}" in f for f in found)


def test_a_forged_checkpoint_is_found(hospital, settings):
    _, path = checkpoints.create()
    text = path.read_text()
    first_hash = LedgerEntry.objects.get(seq=1).hash
    head_hash = LedgerEntry.objects.order_by("-seq").first().hash
    path.write_text(text.replace(head_hash, first_hash))
    (found,) = findings()
    assert "signature does not match the ledger public key" in found


def test_a_checkpoint_signed_with_another_key_is_found(hospital, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    checkpoints.create(private_key=Ed25519PrivateKey.generate())
    (found,) = findings()
    assert "forged or altered" in found


def test_the_app_role_can_only_read_and_append_on_postgresql(hospital):
    if connection.vendor != "postgresql":
        pytest.skip("database roles are a PostgreSQL protection; SQLite has the triggers")
    from ajeya.ledger import guards

    raw("CREATE ROLE ajeya_test_app NOLOGIN")
    raw("GRANT USAGE ON SCHEMA public TO ajeya_test_app")
    for sql in guards.app_role_grants("ajeya_test_app"):
        raw(sql)
    raw("SET ROLE ajeya_test_app")
    try:
        raw("SELECT count(*) FROM ledger_ledgerentry")
        refusals = {
            "ALTER TABLE ledger_ledgerentry DISABLE TRIGGER ALL": "must be owner",
            "DROP TRIGGER ledger_ledgerentry_append_only ON ledger_ledgerentry": "must be owner",
            "TRUNCATE ledger_ledgerentry": "permission denied",
            "UPDATE ledger_ledgerentry SET ip = '10.0.0.1'": "permission denied",
            "DELETE FROM ledger_accessentry": "permission denied",
        }
        for sql, message in refusals.items():
            with pytest.raises(DatabaseError, match=message), transaction.atomic():
                raw(sql)
    finally:
        raw("RESET ROLE")


def test_a_password_hash_written_into_the_database_is_found(hospital, clerk):
    from django.contrib.auth.hashers import make_password

    raw(
        "UPDATE accounts_user SET password = %s WHERE id = %s",
        [make_password("intruder-chosen-1"), clerk.pk],
    )
    (found,) = findings()
    assert found.startswith(f"accounts_user {clerk.pk}: differs from ledger entry #")
    assert "password" in found


def test_logging_in_never_rewrites_the_account_behind_the_ledger(hospital, clerk, client, settings):
    from tests.accounts.factories import TEST_PASSWORD

    # New hasher settings would make Django re-hash at login; the account must stay sealed.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
    assert (
        client.post(
            "/accounts/login/", {"username": clerk.username, "password": TEST_PASSWORD}
        ).status_code
        == 302
    )
    assert findings() == []
