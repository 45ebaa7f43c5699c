"""Checks every service makes the same way."""

from __future__ import annotations

from ajeya.core.errors import ValidationFailed

MIN_REASON_LENGTH = 5


def require_reason(reason: str | None, *, why: str = "Say why") -> str:
    """A reason is kept in the ledger with edits and cancellations: one of at least
    MIN_REASON_LENGTH letters, whitespace folded."""
    text = " ".join((reason or "").split())
    if len(text) < MIN_REASON_LENGTH:
        raise ValidationFailed({"reason": [f"{why} (at least {MIN_REASON_LENGTH} letters)."]})
    return text
