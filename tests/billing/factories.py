"""Billing made through the real services: the starter tariff, counters, cashiers."""

from __future__ import annotations

from ajeya.billing import tariff
from ajeya.billing.models import Counter
from ajeya.core.roles import Role
from tests.appointments import factories as schedule
from tests.lab.factories import staff

__all__ = ["cashier", "counter", "load_tariff", "staff", "supervisor"]


def load_tariff() -> None:
    """The starter tariff (its departments first: revenue is booked to them)."""
    for code in ("MRD", "LAB", "SURG", "CARD", "ORTH", "MED"):
        schedule.department(code)
    tariff.load()


def counter(code: str = "OPD-1") -> Counter:
    found = Counter.objects.filter(code=code).first()
    return found or tariff.counter_create(
        actor=None, code=code, name=f"Counter {code}", system=True
    )


def cashier(username: str = "cashier-deepak"):
    return staff(Role.BILLING_CLERK, username, "Deepak Cashier")


def supervisor(username: str = "admin-accounts"):
    return staff(Role.HOSPITAL_ADMIN, username, "Accounts Officer")
