"""Registration and correction through the service: UHIDs, the ledger, seals, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.core import clock
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.identifiers import is_valid_uhid
from ajeya.core.models import IdentifierSequence
from ajeya.core.roles import Role
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.ledger.registry import state_of
from ajeya.patients import services
from ajeya.patients.models import Patient, PatientNameToken
from tests.patients.factories import PatientFactory, valid_details

pytestmark = pytest.mark.django_db


def test_registration_issues_a_uhid_and_records_one_ledger_entry(clerk):
    patient = services.patient_register(actor=clerk, **valid_details())
    assert is_valid_uhid(patient.uhid)
    entry = LedgerEntry.objects.get(subject_type="patients.patient")
    assert entry.action == LedgerAction.CREATE
    assert entry.subject_id == patient.uhid
    assert entry.actor_username == clerk.username
    assert entry.actor_role == Role.REGISTRATION_CLERK
    assert entry.after["name"] == "Ramesh Kumar"
    patient.refresh_from_db()
    assert patient.seal == entry.state_hash == state_hash(state_of(patient))


def test_uhids_are_consecutive_and_distinct(clerk):
    uhids = [PatientFactory(actor=clerk).uhid for _ in range(5)]
    serials = [int(u[3:11]) for u in uhids]
    assert serials == list(range(serials[0], serials[0] + 5))


def test_age_instead_of_birth_date_gives_an_estimated_date(clerk):
    patient = services.patient_register(
        actor=clerk, **valid_details(date_of_birth=None, age_years=42)
    )
    assert patient.dob_estimated
    assert patient.age == 42
    assert patient.date_of_birth.year == clock.today().year - 42


def test_names_are_indexed_for_search(clerk):
    patient = services.patient_register(actor=clerk, **valid_details(name="  Lakshmi   Devi "))
    assert patient.name == "Lakshmi Devi"
    tokens = set(PatientNameToken.objects.filter(patient=patient).values_list("token", "skeleton"))
    assert tokens == {("lakshmi", "lksm"), ("devi", "dv")}


def test_phone_and_abha_are_stored_in_one_form(clerk):
    patient = services.patient_register(
        actor=clerk, **valid_details(phone="+91 98100-12345", abha_number="91-1234-5678-9012")
    )
    assert patient.phone == "9810012345"
    assert patient.abha_number == "91123456789012"
    assert patient.abha_display == "91-1234-5678-9012"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "cannot be blank"),
        ({"name": "<script>alert(1)</script>"}, "name", "letters, spaces"),
        ({"phone": "12345"}, "phone", "10-digit"),
        ({"pincode": "11AB29"}, "pincode", "6 digits"),
        ({"pincode": "011029"}, "pincode", "6 digits"),
        ({"abha_number": "9112345678901"}, "abha_number", "exactly 14 digits (this has 13)"),
        ({"aadhaar_last4": "123456789012"}, "aadhaar_last4", "never stores the full"),
        ({"date_of_birth": dt.date(2999, 1, 1)}, "date_of_birth", "future"),
        ({"date_of_birth": dt.date(1800, 1, 1)}, "date_of_birth", "older than 130"),
        ({"date_of_birth": None}, "date_of_birth", "date of birth or an age"),
        ({"date_of_birth": None, "age_years": 200}, "age_years", "between 0 and 130"),
        ({"sex": "X"}, "sex", "not a valid choice"),
        ({"category": "scheme"}, "scheme", "Choose the scheme"),
        ({"state": "ZZ"}, "state", "not a valid choice"),
    ],
)
def test_bad_details_are_refused_and_nothing_is_written(clerk, overrides, field, message):
    with pytest.raises(ValidationFailed) as caught:
        services.patient_register(actor=clerk, **valid_details(**overrides))
    assert field in caught.value.errors
    assert any(message in m for m in caught.value.errors[field]), caught.value.errors
    assert not Patient.objects.exists()
    assert not LedgerEntry.objects.filter(subject_type="patients.patient").exists()
    assert not PatientNameToken.objects.exists()


def test_a_duplicate_abha_is_refused_and_its_uhid_is_not_used_up(clerk):
    services.patient_register(actor=clerk, **valid_details(abha_number="91123456789012"))
    next_before = IdentifierSequence.objects.get(name="uhid").next_value
    with pytest.raises(ValidationFailed, match="already has this ABHA"):
        services.patient_register(
            actor=clerk, **valid_details(name="Someone Else", abha_number="91123456789012")
        )
    assert IdentifierSequence.objects.get(name="uhid").next_value == next_before
    assert Patient.objects.count() == 1


@pytest.mark.parametrize("role", [r for r in Role if r != Role.REGISTRATION_CLERK])
def test_only_registration_clerks_register(make_user, role):
    with pytest.raises(PermissionRefused):
        services.patient_register(actor=make_user(role), **valid_details())
    assert not Patient.objects.exists()


def test_a_correction_needs_a_reason_and_keeps_before_and_after(clerk):
    patient = PatientFactory(actor=clerk, name="Ramesh Kumar")
    with pytest.raises(ValidationFailed, match="Say why"):
        services.patient_update(actor=clerk, patient=patient, reason="", name="Ramesh Kumaar")
    updated = services.patient_update(
        actor=clerk, patient=patient, reason="spelling as on ID card", name="Ramesh Kumaar"
    )
    assert updated.version == 2
    entry = LedgerEntry.objects.filter(action=LedgerAction.UPDATE).get()
    assert entry.before["name"] == "Ramesh Kumar"
    assert entry.after["name"] == "Ramesh Kumaar"
    assert entry.reason == "spelling as on ID card"
    updated.refresh_from_db()
    assert updated.seal == entry.state_hash
    assert "kumaar" in set(PatientNameToken.objects.values_list("token", flat=True))
    assert "kumar" not in set(
        PatientNameToken.objects.filter(patient=updated).values_list("token", flat=True)
    )


def test_a_correction_made_on_a_stale_copy_is_refused(clerk):
    patient = PatientFactory(actor=clerk)
    services.patient_update(
        actor=clerk, patient=patient, reason="first correction", district="New Delhi"
    )
    with pytest.raises(Conflict, match="Someone else changed"):
        services.patient_update(
            actor=clerk,
            patient=patient,
            reason="second, from an old page",
            district="East Delhi",
            expected_version=1,
        )
    patient.refresh_from_db()
    assert patient.district == "New Delhi"


def test_an_unchanged_correction_records_nothing(clerk):
    patient = PatientFactory(actor=clerk)
    with pytest.raises(ValidationFailed, match="Nothing was changed"):
        services.patient_update(
            actor=clerk, patient=patient, reason="no-op edit", name=patient.name
        )
    assert LedgerEntry.objects.filter(action=LedgerAction.UPDATE).count() == 0


def test_the_uhid_cannot_be_changed_through_a_correction(clerk):
    patient = PatientFactory(actor=clerk)
    with pytest.raises(ValidationFailed, match="cannot be changed here: uhid"):
        services.patient_update(actor=clerk, patient=patient, reason="try it", uhid="1")


def test_a_bad_correction_leaves_the_record_as_it_was(clerk):
    patient = PatientFactory(actor=clerk)
    with pytest.raises(ValidationFailed):
        services.patient_update(
            actor=clerk, patient=patient, reason="typo fix", name="Ok Name", pincode="abc"
        )
    patient.refresh_from_db()
    assert patient.version == 1
    assert patient.pincode == "110029"


def test_editing_age_reestimates_and_typing_a_date_makes_it_exact(clerk):
    patient = PatientFactory(actor=clerk, date_of_birth=None, age_years=30)
    assert patient.dob_estimated
    patient = services.patient_update(
        actor=clerk,
        patient=patient,
        reason="birth certificate seen",
        date_of_birth=dt.date(1995, 3, 2),
    )
    assert not patient.dob_estimated
    unchanged = services.patient_update(
        actor=clerk,
        patient=patient,
        reason="address moved",
        date_of_birth=dt.date(1995, 3, 2),
        district="Gurugram",
    )
    assert not unchanged.dob_estimated


def test_only_clerks_correct_records(make_user, clerk):
    patient = PatientFactory(actor=clerk)
    with pytest.raises(PermissionRefused):
        services.patient_update(
            actor=make_user(Role.DOCTOR), patient=patient, reason="curious", name="Changed Name"
        )
