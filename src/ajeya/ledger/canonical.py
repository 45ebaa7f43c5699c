"""The canonical bytes of a ledger entry or a row's state: the thing that gets hashed.

JSON with sorted keys, no spaces, UTF-8, and a fixed text form for the types JSON
lacks (dates, times, decimals, UUIDs), so the same state always hashes the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

from django.db import models


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in ledger state")
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} into ledger state")


def canonical_bytes(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode("utf-8")


def canonical_json(obj: Any) -> Any:
    """The value as the JSON column will hold it (dates as text, and so on)."""
    return json.loads(canonical_bytes(obj))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state_of(instance: models.Model, exclude: frozenset[str] = frozenset({"seal"})) -> dict:
    """A row's state: every concrete field by column name, the seal itself left out."""
    state = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude:
            continue
        state[field.attname] = field.value_from_object(instance)
    return canonical_json(state)


def state_hash(state: dict) -> str:
    return sha256_hex(canonical_bytes(state))
