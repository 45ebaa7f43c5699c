"""A kit's numbers, as the live system writes them, and which kit a typed number is in."""

from __future__ import annotations

import re

from django.conf import settings
from django.db.models import F

from ajeya.core import identifiers
from ajeya.core.errors import ValidationFailed
from ajeya.downtime.models import Kit, NumberKind
from ajeya.lab.services import make_accession, normalise_accession

RECEIPT = re.compile(r"^R/([A-Z0-9-]{1,12})/(\d{4}-\d{2})/(\d{6})$")


def receipt_text(counter_code: str, year: str, serial: int) -> str:
    return f"R/{counter_code}/{year}/{serial:06d}"


def numbers(kit: Kit, kind: str) -> list[str]:
    if kind == NumberKind.UHID:
        first, count = kit.uhid_first, kit.uhid_count
        return [identifiers.make_uhid(s) for s in range(first, first + count)]
    if kind == NumberKind.ACCESSION:
        first, count = kit.accession_first, kit.accession_count
        return [make_accession(s, kit.accession_year) for s in range(first, first + count)]
    first, count = kit.receipt_first, kit.receipt_count
    code = kit.counter.code if kit.counter_id else ""
    return [receipt_text(code, kit.receipt_year, s) for s in range(first, first + count)]


def normalise(kind: str, text: str) -> str:
    """The number as stored; ValidationFailed says what is wrong with what was typed."""
    text = (text or "").strip()
    if kind == NumberKind.UHID:
        value = identifiers.normalise_uhid(text)
        if not identifiers.is_valid_uhid(value):
            raise ValidationFailed({"uhid": [f"{text!r} is not a UHID (12 digits, check digit)."]})
        return value
    if kind == NumberKind.ACCESSION:
        return normalise_accession(text)
    value = text.upper().replace(" ", "")
    if not RECEIPT.match(value):
        raise ValidationFailed(
            {"receipt": [f"{text!r} is not a receipt number like R/DT-MED/2026-27/000001."]}
        )
    return value


def kit_of(kind: str, value: str) -> Kit | None:
    """The kit whose block holds this (normalised) number, or None."""
    kits = Kit.objects.select_related("department", "counter")
    if kind == NumberKind.UHID:
        if not value.startswith(settings.AJEYA_HOSPITAL_CODE):
            return None
        serial = int(value[3:-1])
        return (
            kits.annotate(end=F("uhid_first") + F("uhid_count"))
            .filter(uhid_count__gt=0, uhid_first__lte=serial, end__gt=serial)
            .first()
        )
    if kind == NumberKind.ACCESSION:
        serial = int(value[2:-1])
        return (
            kits.annotate(end=F("accession_first") + F("accession_count"))
            .filter(accession_count__gt=0, accession_year=2000 + int(value[:2]))
            .filter(accession_first__lte=serial, end__gt=serial)
            .first()
        )
    code, year, serial_text = RECEIPT.match(value).groups()
    serial = int(serial_text)
    return (
        kits.annotate(end=F("receipt_first") + F("receipt_count"))
        .filter(receipt_count__gt=0, counter__code=code, receipt_year=year)
        .filter(receipt_first__lte=serial, end__gt=serial)
        .first()
    )
