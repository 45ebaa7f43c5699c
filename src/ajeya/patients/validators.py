"""Field rules for patient demographics, used by the model, its forms and its services."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.core.exceptions import ValidationError

from ajeya.core import clock

MAX_AGE_YEARS = 130

_PHONE = re.compile(r"^[6-9]\d{9}$")
_PIN = re.compile(r"^[1-9]\d{5}$")
_ABHA = re.compile(r"^\d{14}$")
_NAME_PUNCTUATION = set(" .'-")


def normalise_phone(value: str) -> str:
    """Accept what clerks type: spaces, dashes, a leading 0, +91 or 91."""
    digits = re.sub(r"[\s\-()]", "", value or "")
    if digits.startswith("+91"):
        digits = digits[3:]
    elif len(digits) == 12 and digits.startswith("91"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    return digits


def validate_phone(value: str) -> None:
    if value and not _PHONE.match(value):
        raise ValidationError(
            "Enter a 10-digit Indian mobile number starting with 6, 7, 8 or 9.", code="phone"
        )


def validate_pincode(value: str) -> None:
    if not _PIN.match(value or ""):
        raise ValidationError("A PIN code is 6 digits and does not start with 0.", code="pincode")


def normalise_abha(value: str) -> str:
    return re.sub(r"[\s\-]", "", value or "")


def validate_abha(value: str) -> None:
    if value and not _ABHA.match(value):
        digits = sum(ch.isdigit() for ch in value)
        raise ValidationError(
            f"An ABHA number has exactly 14 digits (this has {digits}).", code="abha"
        )


def validate_aadhaar_last4(value: str) -> None:
    if not value:
        return
    if len(value) > 4:
        raise ValidationError(
            "Enter only the last four digits of Aadhaar; Ajeya never stores the full number.",
            code="aadhaar_full",
        )
    if not re.fullmatch(r"\d{4}", value):
        raise ValidationError("Enter the last four digits of Aadhaar.", code="aadhaar")


def validate_person_name(value: str) -> None:
    """Letters of any script (with their vowel signs), spaces, and . ' - only."""
    if not value or not value.strip():
        raise ValidationError("Enter a name.", code="required")
    for ch in value:
        if ch in _NAME_PUNCTUATION:
            continue
        category = unicodedata.category(ch)
        if category.startswith("L") or category.startswith("M"):
            continue
        raise ValidationError(
            f"A name may hold letters, spaces and . ' - only, not {ch!r}.", code="name_chars"
        )
    if not any(unicodedata.category(ch).startswith("L") for ch in value):
        raise ValidationError("A name needs at least one letter.", code="name_letters")


def validate_date_of_birth(value: dt.date) -> None:
    today = clock.today()
    if value > today:
        raise ValidationError("The date of birth is in the future.", code="dob_future")
    if value < today.replace(year=today.year - MAX_AGE_YEARS, day=min(today.day, 28)):
        raise ValidationError(
            f"The date of birth makes the patient older than {MAX_AGE_YEARS} years.",
            code="dob_too_old",
        )


def birth_date_from_age(age_years: int, today: dt.date | None = None) -> dt.date:
    """An estimated date of birth: today's day and month, `age_years` back (29 Feb → 28)."""
    today = today or clock.today()
    if not 0 <= age_years <= MAX_AGE_YEARS:
        raise ValidationError(f"Age must be between 0 and {MAX_AGE_YEARS} years.", code="age")
    year = today.year - age_years
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    return today.replace(year=year, day=day)


def age_on(dob: dt.date, when: dt.date) -> int:
    return when.year - dob.year - ((when.month, when.day) < (dob.month, dob.day))
