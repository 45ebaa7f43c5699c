"""Pricing a service: which rate class a patient pays, the tariff price on a day, and a
charge's amounts (rounded by core.money's rules)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from ajeya.billing.models import SCHEME_RATE_CLASSES, RateClass, TariffItem, TariffPrice
from ajeya.core import money

PRIVATE_BEDS = frozenset({"private", "semi_private"})


def rate_class_for(patient, *, bed_category: str | None = None) -> RateClass:
    """Scheme patients pay their scheme's rates, BPL and staff theirs; a general patient
    in a private or semi-private bed pays private-ward rates."""
    if patient.category == "scheme" and patient.scheme in RateClass.values:
        return RateClass(patient.scheme)
    if patient.category == "bpl":
        return RateClass.BPL
    if patient.category == "staff":
        return RateClass.STAFF
    if bed_category in PRIVATE_BEDS:
        return RateClass.PRIVATE
    return RateClass.GENERAL


@dataclass(frozen=True)
class Price:
    amount: Decimal
    scheme_share: Decimal
    rate_class: str  # the class actually charged (after any fallback)


def _period(item: TariffItem, rate_class: str, day: dt.date) -> TariffPrice | None:
    return (
        TariffPrice.objects.filter(item=item, rate_class=rate_class, effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))
        .first()
    )


def price_on(item: TariffItem, rate_class: str, day: dt.date) -> Price | None:
    """The item's price for the class on `day`, with the documented fallbacks: a class
    without a price pays general; BPL without a price pays nothing; a scheme without a
    price does not cover the item (general rate, patient pays). None: no price at all."""
    found = _period(item, rate_class, day)
    if found is not None:
        share = found.scheme_share if rate_class in SCHEME_RATE_CLASSES else money.ZERO
        return Price(found.amount, share, rate_class)
    if rate_class == RateClass.BPL:
        return Price(money.ZERO, money.ZERO, RateClass.BPL)
    if rate_class != RateClass.GENERAL:
        general = _period(item, RateClass.GENERAL, day)
        if general is not None:
            return Price(general.amount, money.ZERO, RateClass.GENERAL)
    return None


@dataclass(frozen=True)
class Amounts:
    unit_price: Decimal
    amount: Decimal
    tax: Decimal
    scheme_amount: Decimal
    patient_amount: Decimal


def amounts(
    *, unit_price: Decimal, quantity: Decimal, tax_rate: Decimal, scheme_share: Decimal
) -> Amounts:
    amount = money.line_amount(quantity, unit_price)
    tax = money.percent_of(amount, tax_rate)
    scheme, patient = money.split(amount + tax, scheme_share)
    return Amounts(unit_price, amount, tax, scheme, patient)


def negated(a: Amounts) -> Amounts:
    return Amounts(a.unit_price, -a.amount, -a.tax, -a.scheme_amount, -a.patient_amount)
