"""Which tables the ledger covers, and what a row's "state" is for each.

Apps register their ledgered models in `AppConfig.ready()`. The registry gives one
definition of a row's state, used three ways: by services when they record a change,
by the seal on the row, and by `ajeya verify` when it re-hashes every row.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

from ajeya.ledger.canonical import canonical_json, state_hash


@dataclass(frozen=True)
class Ledgered:
    model: type[models.Model]
    subject_type: str
    subject_attname: str  # the column that names the row in the ledger (uhid, id)
    fields: tuple[str, ...]  # attnames that make up the state
    transforms: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    sealed: bool = True  # the row keeps its state hash in a `seal` column

    def state_from_values(self, values: dict[str, Any]) -> dict:
        return {
            name: self.transforms[name](values[name]) if name in self.transforms else values[name]
            for name in self.fields
        }

    def __post_init__(self) -> None:
        # A decimal is hashed at its column's scale: 70.5 in memory is 70.50 once stored.
        for f in self.model._meta.concrete_fields:
            if isinstance(f, models.DecimalField) and f.attname in self.fields:
                self.transforms.setdefault(f.attname, _at_scale(f.decimal_places))

    def state(self, instance: models.Model) -> dict:
        """The row's state; `instance` is a model object, or any object with the
        columns' attribute names (the rows of `core.rows`)."""
        values = dict(zip(self.fields, self._read(instance), strict=True))
        for name, transform in self.transforms.items():
            if name in values:
                values[name] = transform(values[name])
        return canonical_json(values)

    @functools.cached_property
    def _read(self) -> Callable[[Any], tuple]:
        """The state's columns read in one C call (a third of `state` was the reading)."""
        getter = operator.attrgetter(*self.fields)
        return getter if len(self.fields) > 1 else lambda instance: (getter(instance),)

    def subject_id(self, instance: models.Model) -> str:
        return str(getattr(instance, self.subject_attname))


def _at_scale(places: int) -> Callable[[Any], Any]:
    exponent = Decimal(1).scaleb(-places)

    def quantize(value: Any) -> Any:
        return None if value is None else Decimal(value).quantize(exponent)

    return quantize


REGISTRY: dict[str, Ledgered] = {}
_BY_MODEL: dict[type[models.Model], Ledgered] = {}


def register(
    model: type[models.Model],
    subject_type: str,
    *,
    subject_attname: str = "id",
    fields: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = ("seal",),
    transforms: dict[str, Callable[[Any], Any]] | None = None,
    sealed: bool = True,
) -> Ledgered:
    """Put a model under the ledger. By default its state is every concrete column
    but the seal."""
    if fields is None:
        fields = tuple(f.attname for f in model._meta.concrete_fields if f.name not in exclude)
    entry = Ledgered(model, subject_type, subject_attname, fields, transforms or {}, sealed)
    REGISTRY[subject_type] = entry
    _BY_MODEL[model] = entry
    return entry


def for_model(model: type[models.Model]) -> Ledgered:
    try:
        return _BY_MODEL[model]
    except KeyError:
        raise LookupError(f"{model.__name__} is not registered with the ledger") from None


def state_of(instance: models.Model) -> dict:
    return for_model(instance._meta.model).state(instance)


def seal(instance: models.Model) -> dict:
    """Set the row's seal to the hash of its state; return the state for the ledger."""
    state = state_of(instance)
    instance.seal = state_hash(state)
    return state


# Checks of data derived from ledgered rows (search indexes and the like): each yields
# (table, row identifier, problem) for what no longer matches the rows it derives from.
DerivedCheck = Callable[[], Iterable[tuple[str, str, str]]]
DERIVED_CHECKS: list[DerivedCheck] = []


def register_derived_check(check: DerivedCheck) -> DerivedCheck:
    DERIVED_CHECKS.append(check)
    return check


# Rebuilders of derived data, by subject type: a restore that replays shipped entries
# calls each with the subject ids it wrote, so indexes match their rows again.
Rebuild = Callable[[list[str]], None]
REBUILDERS: dict[str, Rebuild] = {}


def register_rebuild(subject_type: str, rebuild: Rebuild) -> Rebuild:
    REBUILDERS[subject_type] = rebuild
    return rebuild
