"""Wards, beds and admissions made through the real services (ledgered and sealed)."""

from __future__ import annotations

import datetime as dt

from ajeya.ipd import services
from ajeya.ipd.models import (
    Admission,
    Bed,
    BedCategory,
    BedStay,
    Discharge,
    DischargeDiagnosis,
    IntakeOutput,
    MedicationDose,
    MedicationOrder,
    NursingNote,
    Observation,
    Room,
    Ward,
)
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import LedgerEntry
from ajeya.ledger.registry import for_model, state_of
from tests.appointments import factories as schedule
from tests.patients.factories import PatientFactory


def ward(
    code: str = "W1",
    *,
    rooms: dict[str, list[str]] | None = None,
    dept: str = "MED",
    name: str | None = None,
) -> Ward:
    """A ward with rooms and beds: `rooms` maps a room number to the categories of its
    beds, e.g. {"1": ["general", "general"], "2": ["icu"]}; beds are labelled
    <ward>-<room>-<n>."""
    made = services.ward_create(
        actor=None,
        code=code,
        name=name or f"Ward {code}",
        department=schedule.department(dept),
        floor="1",
    )
    for number, categories in (rooms or {"1": [BedCategory.GENERAL] * 2}).items():
        room = services.room_create(actor=None, ward=made, number=number)
        for n, category in enumerate(categories, start=1):
            bed(room, f"{code}-{number}-{n}", category)
    return made


def room(ward_obj: Ward, number: str, *, isolation: bool = False) -> Room:
    return services.room_create(actor=None, ward=ward_obj, number=number, isolation=isolation)


def bed(room_obj: Room, label: str, category: str = BedCategory.GENERAL) -> Bed:
    return services.bed_create(actor=None, room=room_obj, label=label, category=category)


def beds(ward_obj: Ward) -> list[Bed]:
    return list(Bed.objects.filter(ward=ward_obj).order_by("label"))


def admit(
    actor,
    bed_obj: Bed,
    *,
    doctor,
    unit,
    patient=None,
    icd10: str = "J18.9",
    admitted_at: dt.datetime | None = None,
    **extra,
) -> Admission:
    """A patient (a new one unless given) admitted into `bed_obj` by `actor`."""
    return services.admission_create(
        actor=actor,
        patient=patient or PatientFactory(),
        bed=bed_obj,
        attending_doctor=doctor,
        unit=unit,
        provisional_icd10=icd10,
        admitted_at=admitted_at,
        **extra,
    )


def discharge(doctor, admission: Admission, **overrides):
    kwargs = {
        "kind": "normal",
        "diagnoses": ["J18.9"],
        "course": "Treated with IV antibiotics; afebrile for 48 hours.",
        "condition": "Stable, walking unaided",
    }
    kwargs.update(overrides)
    return services.discharge_create(actor=doctor, admission=admission, **kwargs)


# -- what a test asserts about what was written -----------------------------------------


def entries(row) -> list[LedgerEntry]:
    ledgered = for_model(type(row))
    return list(
        LedgerEntry.objects.filter(
            subject_type=ledgered.subject_type, subject_id=ledgered.subject_id(row)
        ).order_by("seq")
    )


def assert_sealed(row) -> None:
    """The row as the database holds it carries the hash of its state, and its newest
    ledger entry recorded that same state."""
    row = type(row)._base_manager.get(pk=row.pk)
    digest = state_hash(state_of(row))
    assert row.seal == digest
    assert entries(row)[-1].state_hash == digest


WRITTEN = (
    Ward,
    Room,
    Bed,
    Admission,
    BedStay,
    Observation,
    IntakeOutput,
    NursingNote,
    MedicationOrder,
    MedicationDose,
    Discharge,
    DischargeDiagnosis,
    LedgerEntry,
)


def snapshot() -> dict:
    """Row counts of everything the wards write, and every bed's and admission's state:
    equal before and after a refusal means the refusal wrote nothing."""
    state: dict = {model.__name__: model.objects.count() for model in WRITTEN}
    state["beds"] = list(Bed.objects.order_by("pk").values_list("status", "version"))
    state["admissions"] = list(
        Admission.objects.order_by("pk").values_list("status", "bed_id", "version")
    )
    state["stays"] = list(BedStay.objects.order_by("pk").values_list("ended_at", flat=True))
    return state
