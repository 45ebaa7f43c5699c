"""Patients made through the real service, so every one has its UHID, seal and ledger entry."""

import datetime as dt

import factory

from ajeya.core.roles import Role
from ajeya.patients import services
from ajeya.patients.models import Patient
from tests.accounts.factories import UserFactory


def valid_details(**overrides) -> dict:
    details = {
        "name": "Ramesh Kumar",
        "sex": "M",
        "date_of_birth": dt.date(1980, 5, 17),
        "phone": "9810012345",
        "address_line": "House 12, Sector 4",
        "district": "South Delhi",
        "state": "DL",
        "pincode": "110029",
        "guardian_name": "Suresh Kumar",
        "guardian_relation": "father",
        "category": "general",
    }
    details.update(overrides)
    return details


class PatientFactory(factory.Factory):
    class Meta:
        model = Patient

    name = factory.Sequence(lambda n: f"Patient {chr(65 + n % 26)}{chr(65 + n // 26 % 26)} Test")
    phone = factory.Sequence(lambda n: f"98{n:08d}")

    @classmethod
    def _create(cls, model_class, *args, actor=None, **kwargs):
        actor = actor or UserFactory(username="factory-clerk", role=Role.REGISTRATION_CLERK)
        return services.patient_register(actor=actor, **valid_details(**kwargs))

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("patients exist only through registration; use create()")


def record_allergy(patient, *, actor, **overrides):
    """An allergy recorded through the service (a clinician must be the actor)."""
    details = {"substance": "Penicillin", "reaction": "rash", "severity": "moderate"}
    details.update(overrides)
    return services.allergy_record(actor=actor, patient=patient, **details)
