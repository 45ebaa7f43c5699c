"""Every write to patient records: registration and corrections, each on the ledger."""

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
from ajeya.patients.models import Patient, PatientCategory, PatientNameToken

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


def _unique_failure(exc: IntegrityError) -> ValidationFailed:
    if "abha" in str(exc).lower():
        return ValidationFailed({"abha_number": ["Another patient already has this ABHA number."]})
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
) -> Patient:
    """Register a new patient and issue the UHID; one ledger entry, all or nothing."""
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
    patient = Patient(**details, registered_at=now, updated_at=now, registered_by=actor)
    patient.name_key = names.name_key(patient.name)
    _full_clean(patient)
    try:
        with transaction.atomic():
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
                )
            )
    except IntegrityError as exc:
        raise _unique_failure(exc) from None
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
