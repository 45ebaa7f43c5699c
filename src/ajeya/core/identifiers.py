"""Identifiers with check digits, and the lock-protected counters that issue them.

UHIDs use the Verhoeff scheme, which catches every single-digit error and every
swap of two adjacent digits — the two mistakes a clerk typing a number makes most.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ajeya.core.locking import locked
from ajeya.core.models import IdentifierSequence

_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_check_digit(digits: str) -> str:
    if not digits.isdigit():
        raise ValueError("Verhoeff works on decimal digits only")
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[c])


def verhoeff_valid(number: str) -> bool:
    if not number.isdigit() or len(number) < 2:
        return False
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


UHID_SEQUENCE = "uhid"
UHID_SERIAL_DIGITS = 8
UHID_LENGTH = 3 + UHID_SERIAL_DIGITS + 1


def make_uhid(serial: int, hospital_code: str | None = None) -> str:
    """Hospital code (3 digits) + serial (8 digits) + Verhoeff check digit: 12 digits."""
    if not 1 <= serial < 10**UHID_SERIAL_DIGITS:
        raise ValueError(f"UHID serial {serial} is out of range")
    body = f"{hospital_code or settings.AJEYA_HOSPITAL_CODE}{serial:0{UHID_SERIAL_DIGITS}d}"
    return body + verhoeff_check_digit(body)


def normalise_uhid(text: str) -> str:
    """Strip the spaces and dashes people type or print between digit groups."""
    return "".join(ch for ch in text if ch not in " -")


def is_valid_uhid(text: str) -> bool:
    value = normalise_uhid(text)
    return len(value) == UHID_LENGTH and verhoeff_valid(value)


def format_uhid(uhid: str) -> str:
    """Groups of 3-4-4-1 digits for reading aloud and printing: 100 0000 0042 7."""
    return f"{uhid[:3]} {uhid[3:7]} {uhid[7:11]} {uhid[11:]}"


def allocate(name: str, count: int = 1) -> int:
    """Reserve `count` consecutive serials of sequence `name`; return the first.

    Must run inside the caller's transaction so a rolled-back write gives its serial
    back; the row lock serialises concurrent callers on PostgreSQL, and SQLite's
    IMMEDIATE transactions serialise writers already.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate() must be called inside transaction.atomic()")
    IdentifierSequence.objects.get_or_create(name=name)
    seq = locked(IdentifierSequence.objects).get(name=name)
    first = seq.next_value
    seq.next_value = first + count
    seq.save(update_fields=["next_value"])
    return first
