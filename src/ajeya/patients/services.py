"""Every write to patient records: registration, corrections and allergies, each on the
ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ajeya.core import clock, identifiers
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerAction
from ajeya.ledger.registry import seal, state_of
from ajeya.patients import names, validators
from ajeya.patients.models import (
    AllergySeverity,
    MergeStatus,
    Patient,
    PatientAllergy,
    PatientCategory,
    PatientMerge,
    PatientNameToken,
)

SUBJECT = "patients.patient"

# The demographics a clerk enters and may later correct.
DEMOGRAPHIC_FIELDS = (
    "name",
    "sex",
    "date_of_birth",
    "dob_estimated",
    "phone",
    "address_line",
    "district",
    "state",
    "pincode",
    "guardian_name",
    "guardian_relation",
    "abha_number",
    "aadhaar_last4",
    "category",
    "scheme",
    "scheme_beneficiary_id",
)


def _normalise(details: dict[str, Any]) -> dict[str, Any]:
    out = dict(details)
    for key in ("address_line", "district", "scheme_beneficiary_id"):
        if key in out and out[key] is not None:
            out[key] = " ".join(str(out[key]).split())
    for key in ("name", "guardian_name"):
        if out.get(key):
            out[key] = names.clean_display_name(out[key])
    if "phone" in out:
        out["phone"] = validators.normalise_phone(out["phone"] or "")
    if "abha_number" in out:
        out["abha_number"] = validators.normalise_abha(out["abha_number"] or "")
    if out.get("category") and out["category"] != PatientCategory.SCHEME:
        out["scheme"] = ""
        out["scheme_beneficiary_id"] = ""
    return out


def _resolve_birth_date(
    date_of_birth: dt.date | None, age_years: int | None
) -> tuple[dt.date, bool]:
    if date_of_birth is not None:
        return date_of_birth, False
    if age_years is None:
        raise ValidationFailed({"date_of_birth": ["Enter a date of birth or an age in years."]})
    try:
        return validators.birth_date_from_age(age_years), True
    except ValidationError as exc:
        raise ValidationFailed({"age_years": list(exc.messages)}) from None


def _birth_date_change(
    current: Patient, date_of_birth: dt.date | None, age_years: int | None
) -> dict[str, Any]:
    """A typed date replaces the estimate; an age given alone re-estimates it."""
    if date_of_birth is not None and date_of_birth != current.date_of_birth:
        return {"date_of_birth": date_of_birth, "dob_estimated": False}
    if date_of_birth is None and age_years is not None and age_years != current.age:
        dob, _ = _resolve_birth_date(None, age_years)
        return {"date_of_birth": dob, "dob_estimated": True}
    return {}


def _full_clean(patient: Patient) -> None:
    if patient.category == PatientCategory.SCHEME and not patient.scheme:
        raise ValidationFailed({"scheme": ["Choose the scheme for a scheme patient."]})
    try:
        # Constraints are left to the database, which decides races too (_unique_failure).
        patient.full_clean(
            exclude=["uhid", "seal", "name_key", "registered_at", "updated_at"],
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise ValidationFailed(exc.message_dict) from None


def _index_name(patient: Patient, *, replace: bool) -> None:
    if replace:
        PatientNameToken.objects.filter(patient=patient).delete()
    PatientNameToken.objects.bulk_create(name_tokens_for(patient))


def reindex_names(uhids: list[str]) -> None:
    """Rebuild the name search index of these patients (after a restore's replay)."""
    patients = list(Patient.objects.filter(uhid__in=uhids))
    PatientNameToken.objects.filter(patient__in=patients).delete()
    PatientNameToken.objects.bulk_create(
        [token for patient in patients for token in name_tokens_for(patient)]
    )


def name_tokens_for(patient: Patient) -> list[PatientNameToken]:
    return [
        PatientNameToken(patient=patient, token=token, skeleton=names.skeleton(token))
        for token in dict.fromkeys(names.tokens(patient.name))
    ]


def _unique_failure(exc: IntegrityError, uhid: str = "") -> ValidationFailed:
    if "abha" in str(exc).lower():
        return ValidationFailed({"abha_number": ["Another patient already has this ABHA number."]})
    if "uhid" in str(exc).lower():
        return ValidationFailed({"uhid": [f"UHID {uhid} is already a patient's."]})
    raise exc


def patient_register(
    *,
    actor,
    name: str,
    sex: str,
    district: str,
    state: str,
    pincode: str,
    date_of_birth: dt.date | None = None,
    age_years: int | None = None,
    phone: str = "",
    address_line: str = "",
    guardian_name: str = "",
    guardian_relation: str = "",
    abha_number: str = "",
    aadhaar_last4: str = "",
    category: str = PatientCategory.GENERAL,
    scheme: str = "",
    scheme_beneficiary_id: str = "",
    preallocated_uhid: str = "",
    registered_at: dt.datetime | None = None,
    reason: str = "",
) -> Patient:
    """Register a new patient and issue the UHID; one ledger entry, all or nothing.

    A paper form back-entered after a downtime brings its pre-printed UHID (reserved by
    a kit, checked by `downtime.services`), the time written on paper, and its
    provenance as the ledger reason."""
    require_perm(actor, Perm.PATIENT_REGISTER)
    dob, estimated = _resolve_birth_date(date_of_birth, age_years)
    details = _normalise(
        {
            "name": name,
            "sex": sex,
            "date_of_birth": dob,
            "dob_estimated": estimated,
            "phone": phone,
            "address_line": address_line,
            "district": district,
            "state": state,
            "pincode": pincode,
            "guardian_name": guardian_name,
            "guardian_relation": guardian_relation,
            "abha_number": abha_number,
            "aadhaar_last4": aadhaar_last4,
            "category": category,
            "scheme": scheme,
            "scheme_beneficiary_id": scheme_beneficiary_id,
        }
    )
    now = clock.now()
    patient = Patient(
        **details, registered_at=registered_at or now, updated_at=now, registered_by=actor
    )
    patient.name_key = names.name_key(patient.name)
    _full_clean(patient)
    try:
        with transaction.atomic():
            if preallocated_uhid:
                patient.uhid = preallocated_uhid
            else:
                serial = identifiers.allocate(identifiers.UHID_SEQUENCE)
                patient.uhid = identifiers.make_uhid(serial)
            patient.save(force_insert=True)
            after = seal(patient)
            Patient.objects.filter(pk=patient.pk).update(seal=patient.seal)
            _index_name(patient, replace=False)
            ledger.record(
                ledger.Change(
                    action=LedgerAction.CREATE,
                    subject_type=SUBJECT,
                    subject_id=patient.uhid,
                    after=after,
                    actor=actor,
                    reason=reason,
                    state_hash=patient.seal,
                )
            )
    except IntegrityError as exc:
        raise _unique_failure(exc, uhid=patient.uhid) from None
    return patient


def patient_update(
    *,
    actor,
    patient: Patient,
    reason: str,
    expected_version: int | None = None,
    age_years: int | None = None,
    **changes: Any,
) -> Patient:
    """Correct demographics. A reason is required; the ledger keeps before and after."""
    require_perm(actor, Perm.PATIENT_EDIT)
    unknown = set(changes) - set(DEMOGRAPHIC_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}."
        )
    reason = require_reason(reason, why="Say why the record is being changed")
    changes = _normalise(changes)
    with transaction.atomic():
        current = locked(Patient.objects).get(pk=patient.pk)
        if expected_version is not None and current.version != expected_version:
            raise Conflict(
                "Someone else changed this patient while you were editing. "
                "Open the record again to see their change, then make yours."
            )
        changes.update(_birth_date_change(current, changes.pop("date_of_birth", None), age_years))
        before = state_of(current)
        changed = {k: v for k, v in changes.items() if getattr(current, k) != v}
        if not changed:
            raise ValidationFailed("Nothing was changed.", code="unchanged")
        for key, value in changed.items():
            setattr(current, key, value)
        current.name_key = names.name_key(current.name)
        _full_clean(current)
        current.version += 1
        current.updated_at = clock.now()
        after = seal(current)
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError as exc:
            raise _unique_failure(exc) from None
        if "name" in changed:
            _index_name(current, replace=True)
        ledger.record(
            ledger.Change(
                action=LedgerAction.UPDATE,
                subject_type=SUBJECT,
                subject_id=current.uhid,
                before=before,
                after=after,
                reason=reason,
                actor=actor,
            )
        )
    return current


# -- allergies -------------------------------------------------------------------------

SUBSTANCE_MAX = PatientAllergy._meta.get_field("substance").max_length
REACTION_MAX = PatientAllergy._meta.get_field("reaction").max_length
REMOVED_REASON_MAX = PatientAllergy._meta.get_field("removed_reason").max_length
ACTIVE_ALLERGY_CONSTRAINT = "allergy_active_substance_unique"


def _duplicate_allergy(substance: str) -> ValidationFailed:
    return ValidationFailed(
        {"substance": [f"An allergy to {substance} is already recorded for this patient."]},
        code="duplicate",
    )


def allergy_record(
    *, actor, patient: Patient, substance: str, reaction: str = "", severity: str
) -> PatientAllergy:
    """Record an allergy. One active entry per substance (ignoring case) and patient."""
    require_perm(actor, Perm.PATIENT_ALLERGY)
    substance = " ".join((substance or "").split())
    reaction = " ".join((reaction or "").split())
    errors: dict[str, list[str]] = {}
    if not substance:
        errors["substance"] = ["Name the substance the patient is allergic to."]
    elif len(substance) > SUBSTANCE_MAX:
        errors["substance"] = [
            f"Keep the substance to at most {SUBSTANCE_MAX} characters (it has {len(substance)})."
        ]
    if len(reaction) > REACTION_MAX:
        errors["reaction"] = [
            f"Keep the reaction to at most {REACTION_MAX} characters (it has {len(reaction)})."
        ]
    if severity not in AllergySeverity.values:
        errors["severity"] = ["Choose how severe the reaction is."]
    if errors:
        raise ValidationFailed(errors)
    allergy = PatientAllergy(
        patient=patient,
        substance=substance,
        reaction=reaction,
        severity=AllergySeverity(severity).value,
        recorded_at=clock.now(),
        recorded_by=actor,
    )
    active = PatientAllergy.objects.filter(patient_id=patient.pk, removed_at__isnull=True)
    try:
        with transaction.atomic():
            existing = active.filter(substance__iexact=substance).first()
            if existing is not None:
                raise _duplicate_allergy(existing.substance)
            ledger.create_sealed(allergy, actor=actor)
    except IntegrityError as exc:
        # The same substance recorded a moment ago by someone else: the partial unique
        # index decides the race.
        if ACTIVE_ALLERGY_CONSTRAINT not in str(exc):
            raise
        raise _duplicate_allergy(substance) from None
    return allergy


def allergy_remove(*, actor, allergy: PatientAllergy, reason: str) -> PatientAllergy:
    """Take an allergy off the patient's active list (recorded in error, disproved).
    The row stays; the ledger keeps it as it was, who removed it and why."""
    require_perm(actor, Perm.PATIENT_ALLERGY)
    reason = require_reason(reason, why="Say why the allergy is removed")
    if len(reason) > REMOVED_REASON_MAX:
        raise ValidationFailed(
            {"reason": [f"Keep the reason to at most {REMOVED_REASON_MAX} characters."]}
        )
    with transaction.atomic():
        current = locked(PatientAllergy.objects).get(pk=allergy.pk)
        if current.removed_at is not None:
            raise Conflict(f"The allergy to {current.substance} was already removed.")
        before = state_of(current)
        current.removed_at = clock.now()
        current.removed_by = actor
        current.removed_reason = reason
        ledger.save_sealed(current, actor=actor, before=before, reason=reason)
    return current


# -- merges: one person registered twice ------------------------------------------------

MERGE_TEXT_MAX = 300


def _merged_into(patient: Patient) -> PatientMerge | None:
    return (
        PatientMerge.objects.filter(duplicate=patient)
        .exclude(status=MergeStatus.REJECTED)
        .select_related("survivor")
        .first()
    )


def merge_request(*, actor, duplicate: Patient, survivor: Patient, reason: str) -> PatientMerge:
    """Ask for `duplicate` (say, a paper registration during a downtime) to be merged
    into `survivor`, the record the person already had. Another person reviews it."""
    require_perm(actor, Perm.PATIENT_EDIT)
    reason = require_reason(reason, why="Say why these are the same person")[:MERGE_TEXT_MAX]
    if duplicate.pk == survivor.pk:
        raise ValidationFailed({"survivor": ["A record cannot be merged into itself."]})
    with transaction.atomic():
        locked(Patient.objects).filter(pk__in=[duplicate.pk, survivor.pk]).count()
        open_ = _merged_into(duplicate)
        if open_ is not None:
            raise Conflict(
                f"{duplicate.uhid_display} is already {open_.get_status_display().lower()} "
                f"into {open_.survivor.uhid_display}."
            )
        onward = _merged_into(survivor)
        if onward is not None:
            raise ValidationFailed(
                {"survivor": [f"{survivor.uhid_display} is itself merged into "
                              f"{onward.survivor.uhid_display}: merge into that record."]}
            )  # fmt: skip
        merge = PatientMerge(duplicate=duplicate, survivor=survivor, reason=reason,
                             requested_at=clock.now(), requested_by=actor)  # fmt: skip
        ledger.create_sealed(merge, actor=actor, reason=reason)
    return merge


def merge_decide(*, actor, merge: PatientMerge, approve: bool, note: str = "") -> PatientMerge:
    """The review: someone other than who asked approves or rejects; a rejection says why."""
    require_perm(actor, Perm.PATIENT_MERGE)
    note = " ".join((note or "").split())[:MERGE_TEXT_MAX]
    if not approve:
        note = require_reason(note, why="Say why the merge is rejected")
    with transaction.atomic():
        current = locked(PatientMerge.objects).select_related("survivor").get(pk=merge.pk)
        if current.status != MergeStatus.REQUESTED:
            raise Conflict(f"This merge was already {current.get_status_display().lower()}.")
        if current.requested_by_id == actor.pk:
            raise Conflict("You asked for this merge: another person must review it.")
        if approve and _merged_into(current.survivor) is not None:
            raise Conflict(
                f"{current.survivor.uhid_display} has since been merged into another record: "
                "reject this and ask again."
            )
        before = state_of(current)
        current.status = MergeStatus.APPROVED if approve else MergeStatus.REJECTED
        current.decided_at = clock.now()
        current.decided_by = actor
        current.decision_note = note
        ledger.save_sealed(current, actor=actor, before=before, reason=note or "merge approved")
    return current
