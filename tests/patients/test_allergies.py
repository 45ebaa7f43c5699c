"""Allergies: recorded and removed through the services (sealed, on the ledger, refused
when they should be), read in one query for many patients, and on the patient's pages."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.query import QuerySet
from django.urls import reverse

from ajeya.accounts.models import User
from ajeya.core import clock
from ajeya.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.ledger import verification
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerAction, LedgerEntry
from ajeya.ledger.registry import state_of
from ajeya.patients import selectors, services
from ajeya.patients.models import AllergySeverity, Patient, PatientAllergy
from tests.conftest import verified_client
from tests.patients.factories import PatientFactory, record_allergy

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse-rita", full_name="Rita Das")


@pytest.fixture
def patient(clerk):
    return PatientFactory(actor=clerk, name="Kamala Devi")


def allergy_entries(allergy) -> list[LedgerEntry]:
    return list(
        LedgerEntry.objects.filter(
            subject_type="patients.allergy", subject_id=str(allergy.pk)
        ).order_by("seq")
    )


def assert_sealed(allergy) -> None:
    """The row holds the hash of its state, and its newest ledger entry that same state."""
    row = PatientAllergy.objects.get(pk=allergy.pk)
    digest = state_hash(state_of(row))
    assert row.seal == digest
    assert allergy_entries(row)[-1].state_hash == digest


def nothing_written(before: tuple[int, int]) -> bool:
    return (PatientAllergy.objects.count(), LedgerEntry.objects.count()) == before


def counts() -> tuple[int, int]:
    return PatientAllergy.objects.count(), LedgerEntry.objects.count()


# -- recording ---------------------------------------------------------------------------


def test_recording_an_allergy_seals_it_and_writes_one_create_entry(patient, nurse):
    allergy = services.allergy_record(
        actor=nurse,
        patient=patient,
        substance="  Penicillin \t G ",
        reaction=" rash,   wheeze ",
        severity="severe",
    )
    assert allergy.substance == "Penicillin G"
    assert allergy.reaction == "rash, wheeze"
    assert allergy.severity == AllergySeverity.SEVERE
    assert allergy.recorded_by == nurse
    assert allergy.is_active
    assert allergy.is_serious
    (entry,) = allergy_entries(allergy)
    assert entry.action == LedgerAction.CREATE
    assert entry.actor_username == "nurse-rita"
    assert entry.actor_role == Role.NURSE
    assert entry.after["substance"] == "Penicillin G"
    assert entry.after["patient_id"] == patient.pk
    assert_sealed(allergy)


def test_a_doctor_records_allergies_too(patient, doctor):
    allergy = record_allergy(patient, actor=doctor, substance="Latex", severity="mild")
    assert allergy.reaction == "rash"
    assert not allergy.is_serious
    assert_sealed(allergy)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"substance": ""}, "substance", "Name the substance"),
        ({"substance": "   \n "}, "substance", "Name the substance"),
        ({"substance": "x" * 101}, "substance", "at most 100 characters (it has 101)"),
        ({"reaction": "y" * 201}, "reaction", "at most 200 characters (it has 201)"),
        ({"severity": "deadly"}, "severity", "Choose how severe"),
        ({"severity": ""}, "severity", "Choose how severe"),
        ({"severity": None}, "severity", "Choose how severe"),
    ],
)
def test_bad_input_is_refused_by_field_and_writes_nothing(
    patient, nurse, overrides, field, message
):
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        record_allergy(patient, actor=nurse, **overrides)
    assert message in " ".join(refused.value.errors[field])
    assert nothing_written(before)


def test_a_substance_of_exactly_100_characters_is_kept_whole(patient, nurse):
    allergy = record_allergy(patient, actor=nurse, substance="x" * 100)
    assert len(allergy.substance) == 100


def test_a_second_active_entry_for_a_substance_is_refused_whatever_its_case(patient, nurse):
    record_allergy(patient, actor=nurse, substance="Penicillin")
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        record_allergy(patient, actor=nurse, substance=" PENICILLIN ", severity="severe")
    assert refused.value.errors == {
        "substance": ["An allergy to Penicillin is already recorded for this patient."]
    }
    assert refused.value.code == "duplicate"
    assert nothing_written(before)


def test_the_same_substance_is_fine_for_another_patient_or_once_removed(patient, nurse, clerk):
    first = record_allergy(patient, actor=nurse, substance="Aspirin")
    other = PatientFactory(actor=clerk, name="Asha Rani")
    assert record_allergy(other, actor=nurse, substance="Aspirin").pk != first.pk
    services.allergy_remove(actor=nurse, allergy=first, reason="recorded for the wrong patient")
    again = record_allergy(patient, actor=nurse, substance="aspirin", severity="severe")
    assert again.is_active


def test_a_duplicate_racing_past_the_check_is_refused_by_the_database(patient, nurse, monkeypatch):
    record_allergy(patient, actor=nurse, substance="Peanuts")
    before = counts()
    # As if another nurse's entry committed between this one's check and its insert.
    monkeypatch.setattr(QuerySet, "first", lambda self: None)
    with pytest.raises(ValidationFailed) as refused:
        record_allergy(patient, actor=nurse, substance="peanuts")
    assert "already recorded" in refused.value.human
    assert nothing_written(before)


def test_the_database_itself_allows_one_active_row_per_substance(patient, nurse):
    kept = record_allergy(patient, actor=nurse, substance="Egg")
    duplicate = PatientAllergy(
        patient=patient,
        substance="EGG",
        severity="mild",
        recorded_at=clock.now(),
        recorded_by=nurse,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    kept.removed_at = clock.now()
    kept.save()
    duplicate.save()  # once the first is removed, a new active one is allowed


@pytest.mark.parametrize(
    "role", [Role.REGISTRATION_CLERK, Role.LAB_TECHNICIAN, Role.BILLING_CLERK, Role.AUDITOR]
)
def test_roles_outside_the_ward_may_not_record(patient, make_user, role):
    user = make_user(role, username=f"no-{role}")
    before = counts()
    with pytest.raises(PermissionRefused):
        record_allergy(patient, actor=user)
    assert nothing_written(before)


# -- removing ----------------------------------------------------------------------------


def test_removal_keeps_the_row_and_records_before_after_and_the_reason(patient, nurse, doctor):
    allergy = record_allergy(patient, actor=nurse, substance="Sulfonamides")
    removed = services.allergy_remove(
        actor=doctor, allergy=allergy, reason="  tolerated co-trimoxazole   in 2024 "
    )
    assert removed.removed_by == doctor
    assert removed.removed_reason == "tolerated co-trimoxazole in 2024"
    assert not removed.is_active
    create, update = allergy_entries(allergy)
    assert create.action == LedgerAction.CREATE
    assert update.action == LedgerAction.UPDATE
    assert update.reason == "tolerated co-trimoxazole in 2024"
    assert update.before["removed_at"] is None
    assert update.after["removed_at"] is not None
    assert update.after["removed_by_id"] == doctor.pk
    assert update.before == create.after
    assert_sealed(allergy)


@pytest.mark.parametrize(("reason", "message"), [("", "at least 5"), ("  no ", "at least 5")])
def test_removal_needs_a_reason(patient, nurse, reason, message):
    allergy = record_allergy(patient, actor=nurse)
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        services.allergy_remove(actor=nurse, allergy=allergy, reason=reason)
    assert message in " ".join(refused.value.errors["reason"])
    assert "Say why the allergy is removed" in refused.value.human
    assert nothing_written(before)
    assert PatientAllergy.objects.get(pk=allergy.pk).is_active


def test_a_reason_longer_than_the_column_is_refused(patient, nurse):
    allergy = record_allergy(patient, actor=nurse)
    with pytest.raises(ValidationFailed) as refused:
        services.allergy_remove(actor=nurse, allergy=allergy, reason="z" * 201)
    assert "at most 200" in refused.value.human


def test_removing_twice_is_a_conflict(patient, nurse):
    allergy = record_allergy(patient, actor=nurse)
    services.allergy_remove(actor=nurse, allergy=allergy, reason="entered in error")
    before = counts()
    with pytest.raises(Conflict, match="already removed"):
        services.allergy_remove(actor=nurse, allergy=allergy, reason="entered in error again")
    assert nothing_written(before)


def test_a_clerk_may_not_remove(patient, nurse, clerk):
    allergy = record_allergy(patient, actor=nurse)
    with pytest.raises(PermissionRefused):
        services.allergy_remove(actor=clerk, allergy=allergy, reason="the patient says not")
    assert PatientAllergy.objects.get(pk=allergy.pk).is_active


# -- verification ------------------------------------------------------------------------


def test_verify_is_clean_and_names_an_allergy_changed_behind_the_apps_back(patient, nurse):
    kept = record_allergy(patient, actor=nurse, substance="Latex", severity="mild")
    gone = record_allergy(patient, actor=nurse, substance="Iodinated contrast")
    services.allergy_remove(actor=nurse, allergy=gone, reason="contrast given safely")
    assert verification.verify(use_checkpoint_dir=False).findings == []

    # An intruder hides a severe allergy by downgrading it with raw SQL.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patients_patientallergy SET severity = 'mild' WHERE id = %s", [gone.pk]
        )
        cursor.execute(
            "UPDATE patients_patientallergy SET substance = 'Lat3x' WHERE id = %s", [kept.pk]
        )
    found = verification.verify(use_checkpoint_dir=False).findings
    assert {(f.table, f.ident) for f in found} == {
        ("patients_patientallergy", str(gone.pk)),
        ("patients_patientallergy", str(kept.pk)),
    }


# -- demo data ---------------------------------------------------------------------------


def test_seeded_patients_have_allergies_sealed_and_on_the_ledger(make_user):
    from ajeya.patients.seed import seed_patients

    make_user(Role.NURSE, username="seed-nurse")
    make_user(Role.DOCTOR, username="seed-doctor")
    seed_patients(400, seed=3, anchor=dt.date(2026, 6, 1), batch_size=150)
    per_patient = Counter(PatientAllergy.objects.values_list("patient_id", flat=True))
    assert 0.08 < len(per_patient) / 400 < 0.25
    assert set(per_patient.values()) <= {1, 2}
    assert LedgerEntry.objects.filter(subject_type="patients.allergy").count() == sum(
        per_patient.values()
    )
    assert verification.verify(use_checkpoint_dir=False).findings == []
    # Recording through the service carries on after the seeded ids.
    last_seeded = PatientAllergy.objects.order_by("-id").values_list("id", flat=True)[0]
    nurse = User.objects.get(username="seed-nurse")
    added = record_allergy(Patient.objects.first(), actor=nurse, substance="Quinine")
    assert added.pk == last_seeded + 1


def test_seeding_without_doctors_or_nurses_records_no_allergies():
    from ajeya.patients.seed import seed_patients

    seed_patients(100, seed=3, anchor=dt.date(2026, 6, 1))
    assert not PatientAllergy.objects.exists()


# -- reading -----------------------------------------------------------------------------


def test_active_allergies_for_many_patients_in_one_query(
    patient, nurse, clerk, django_assert_num_queries
):
    none_recorded = PatientFactory(actor=clerk, name="Asha Rani")
    other = PatientFactory(actor=clerk, name="Mohan Lal")
    record_allergy(patient, actor=nurse, substance="Latex", severity="mild")
    record_allergy(patient, actor=nurse, substance="Penicillin", severity="life_threatening")
    removed = record_allergy(patient, actor=nurse, substance="Aspirin", severity="severe")
    record_allergy(patient, actor=nurse, substance="Ibuprofen", severity="severe")
    record_allergy(patient, actor=nurse, substance="Diclofenac", severity="severe")
    services.allergy_remove(actor=nurse, allergy=removed, reason="entered in error")
    record_allergy(other, actor=nurse, substance="egg", severity="moderate")
    record_allergy(other, actor=nurse, substance="Ceftriaxone", severity="moderate")

    with django_assert_num_queries(1):
        found = selectors.active_allergies(
            iter([patient.pk, none_recorded.pk, other.pk, patient.pk])
        )
        recorders = {a.recorded_by.username for rows in found.values() for a in rows}
    assert recorders == {"nurse-rita"}
    assert {k: [a.substance for a in v] for k, v in found.items()} == {
        patient.pk: ["Penicillin", "Diclofenac", "Ibuprofen", "Latex"],
        none_recorded.pk: [],
        other.pk: ["Ceftriaxone", "egg"],
    }


def test_no_patients_asked_about_costs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.active_allergies([]) == {}


def test_the_record_pages_read_active_and_removed_allergies(patient, nurse, clerk):
    record_allergy(patient, actor=nurse, substance="Latex", severity="mild")
    record_allergy(patient, actor=nurse, substance="Peanuts", severity="severe")
    gone = record_allergy(patient, actor=nurse, substance="Egg", severity="mild")
    services.allergy_remove(actor=nurse, allergy=gone, reason="eats eggs daily")
    assert [a.substance for a in selectors.allergies_of(patient)] == ["Peanuts", "Latex"]
    assert [a.substance for a in selectors.allergies_removed(patient)] == ["Egg"]
    assert selectors.allergy_get(patient, gone.pk) == gone
    other = PatientFactory(actor=clerk, name="Asha Rani")
    with pytest.raises(NotFound, match="No allergy"):
        selectors.allergy_get(other, gone.pk)


# -- pages -------------------------------------------------------------------------------


def detail_url(patient) -> str:
    return reverse("patients:detail", args=[patient.uhid])


def allergies_url(patient) -> str:
    return reverse("patients:allergies", args=[patient.uhid])


def add(**overrides) -> dict:
    return {
        "action": "add",
        "substance": "Penicillin",
        "reaction": "rash",
        "severity": "moderate",
        **overrides,
    }


@pytest.fixture
def nurse_client(client, nurse):
    return verified_client(client, nurse)


def test_the_record_says_when_no_allergy_is_recorded(clerk_client, patient):
    page = clerk_client.get(detail_url(patient)).content.decode()
    assert "No allergies recorded." in page
    assert "Record allergy" not in page  # clerks see allergies but do not record them


def test_a_nurse_records_an_allergy_from_the_record(nurse_client, patient):
    page = nurse_client.get(detail_url(patient)).content.decode()
    assert 'id="allergy-form"' in page
    response = nurse_client.post(
        allergies_url(patient), add(substance="Iodinated contrast", severity="life_threatening")
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url(patient)
    page = nurse_client.get(response["Location"]).content.decode()
    assert "Allergy to Iodinated contrast recorded." in page
    assert "Iodinated contrast" in page
    assert "Life-threatening" in page
    assert "severe allergy" in page  # the box turns red
    assert "No allergies recorded." not in page


def test_a_mild_allergy_does_not_turn_the_box_red(nurse_client, patient, nurse):
    record_allergy(patient, actor=nurse, substance="Latex", severity="mild")
    page = nurse_client.get(detail_url(patient)).content.decode()
    assert "Latex" in page
    assert "severe allergy" not in page


def test_refused_input_comes_back_with_what_was_typed(nurse_client, patient):
    response = nurse_client.post(
        allergies_url(patient), add(substance="  ", reaction="hives after dose", severity="")
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Name the substance the patient is allergic to." in page
    assert "Choose how severe the reaction is." in page
    assert 'value="hives after dose"' in page
    assert PatientAllergy.objects.count() == 0


def test_a_duplicate_from_the_page_names_the_allergy_already_there(nurse_client, patient, nurse):
    record_allergy(patient, actor=nurse, substance="Penicillin")
    response = nurse_client.post(allergies_url(patient), add(substance="penicillin"))
    assert response.status_code == 422
    assert "An allergy to Penicillin is already recorded" in response.content.decode()
    assert PatientAllergy.objects.count() == 1


def test_removing_from_the_record_needs_a_reason_and_keeps_the_row(nurse_client, patient, nurse):
    allergy = record_allergy(patient, actor=nurse, substance="Aspirin")
    remove = {"action": "remove", "allergy": allergy.pk}
    short = nurse_client.post(allergies_url(patient), {**remove, "reason": "no"})
    assert short.status_code == 422
    page = short.content.decode()
    assert "Say why the allergy is removed (at least 5 letters)." in page
    assert 'value="no"' in page
    assert PatientAllergy.objects.get(pk=allergy.pk).is_active

    done = nurse_client.post(allergies_url(patient), {**remove, "reason": "entered in error"})
    assert done.status_code == 302
    record = nurse_client.get(done["Location"]).content.decode()
    assert "Allergy to Aspirin removed; the reason is kept." in record
    assert "No allergies recorded." in record
    history = nurse_client.get(allergies_url(patient)).content.decode()
    assert "entered in error" in history
    assert "Rita Das" in history

    again = nurse_client.post(allergies_url(patient), {**remove, "reason": "entered in error"})
    assert again.status_code == 302
    assert "already removed" in nurse_client.get(again["Location"]).content.decode()


def test_another_patients_allergy_cannot_be_removed_through_this_record(
    nurse_client, patient, nurse, clerk
):
    other = PatientFactory(actor=clerk, name="Asha Rani")
    theirs = record_allergy(other, actor=nurse)
    response = nurse_client.post(
        allergies_url(patient), {"action": "remove", "allergy": theirs.pk, "reason": "not hers"}
    )
    assert response.status_code == 404
    assert PatientAllergy.objects.get(pk=theirs.pk).is_active


def test_the_allergies_page_is_an_access_to_the_record(nurse_client, patient):
    assert nurse_client.get(allergies_url(patient)).status_code == 200
    assert AccessEntry.objects.filter(
        patient_uhid=patient.uhid, what=AccessKind.VIEWED, actor_username="nurse-rita"
    ).exists()


def test_a_clerk_cannot_post_allergies(clerk_client, patient):
    before = counts()
    assert clerk_client.post(allergies_url(patient), add()).status_code == 403
    assert clerk_client.get(allergies_url(patient)).status_code == 403
    assert nothing_written(before)
