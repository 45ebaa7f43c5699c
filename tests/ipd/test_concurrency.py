"""Clerks and nurses at the same moment on PostgreSQL: one bed holds one patient, and
one patient lies in one bed."""

from __future__ import annotations

import pytest
from django.db import connection

from ajeya.core.errors import Conflict
from ajeya.core.roles import Role
from ajeya.ipd import services
from ajeya.ipd.models import Admission, AdmissionStatus, Bed, BedStatus, BedStay
from tests.appointments import factories as schedule
from tests.conftest import run_concurrently
from tests.ipd import factories
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time by design")


def _race(work, threads: int) -> tuple[list, list[BaseException]]:
    results: list = []
    errors = run_concurrently(lambda n: results.append(work(n)), threads)
    return results, errors


@pytest.mark.parametrize("clerks", [2, 6])
def test_clerks_admitting_into_the_same_bed_at_once_admit_one(clock_at, make_user, clerks):
    clock_at(2026, 11, 30, 9, 0)
    desks = [make_user(Role.REGISTRATION_CLERK, username=f"desk{n}") for n in range(clerks)]
    doctor = make_user(Role.DOCTOR, username="dr-asha")
    unit = schedule.clinic()
    bed = factories.beds(factories.ward("W1", rooms={"1": ["icu"]}))[0]
    patients = [PatientFactory(actor=desks[0]) for _ in range(clerks)]

    admitted, refused = _race(
        lambda n: factories.admit(desks[n], bed, doctor=doctor, unit=unit, patient=patients[n]),
        clerks,
    )

    assert len(admitted) == 1
    assert len(refused) == clerks - 1
    assert all(isinstance(e, Conflict) and e.code == "bed_taken" for e in refused), refused
    [admission] = Admission.objects.all()
    assert (admission.pk, admission.bed_id) == (admitted[0].pk, bed.pk)
    assert BedStay.objects.filter(bed=bed, ended_at__isnull=True).count() == 1
    assert BedStay.objects.count() == 1
    bed.refresh_from_db()
    assert (bed.status, bed.version) == (BedStatus.OCCUPIED, 2)


def test_one_patient_admitted_by_two_clerks_into_two_beds_is_admitted_once(clock_at, make_user):
    clock_at(2026, 11, 30, 9, 0)
    desks = [make_user(Role.REGISTRATION_CLERK, username=f"desk{n}") for n in range(2)]
    doctor = make_user(Role.DOCTOR, username="dr-asha")
    unit = schedule.clinic()
    beds = factories.beds(factories.ward("W1", rooms={"1": ["general", "general"]}))
    patient = PatientFactory(actor=desks[0], name="Mohan Das")

    admitted, refused = _race(
        lambda n: factories.admit(desks[n], beds[n], doctor=doctor, unit=unit, patient=patient),
        2,
    )

    assert len(admitted) == 1
    [error] = refused
    assert isinstance(error, Conflict), error
    assert error.code in {"bed_taken", "already_admitted"}
    [admission] = Admission.objects.filter(patient=patient, status=AdmissionStatus.ADMITTED)
    assert BedStay.objects.filter(admission__patient=patient, ended_at__isnull=True).count() == 1
    statuses = dict(Bed.objects.filter(ward=beds[0].ward).values_list("pk", "status"))
    assert sorted(statuses.values()) == [BedStatus.FREE, BedStatus.OCCUPIED]
    assert statuses[admission.bed_id] == BedStatus.OCCUPIED


def test_nurses_moving_two_patients_into_the_same_bed_move_one(clock_at, make_user):
    clock_at(2026, 11, 30, 9, 0)
    clerk = make_user(Role.REGISTRATION_CLERK, username="desk0")
    nurses = [make_user(Role.NURSE, username=f"nurse{n}") for n in range(2)]
    doctor = make_user(Role.DOCTOR, username="dr-asha")
    unit = schedule.clinic()
    a, b, icu = factories.beds(factories.ward("W1", rooms={"1": ["general"] * 2, "2": ["icu"]}))
    inpatients = [factories.admit(clerk, bed, doctor=doctor, unit=unit) for bed in (a, b)]
    clock_at(2026, 11, 30, 12, 0)

    moved, refused = _race(
        lambda n: services.admission_transfer(
            actor=nurses[n], admission=inpatients[n], to_bed=icu, reason="needs ICU care"
        ),
        2,
    )

    assert len(moved) == 1
    [error] = refused
    assert isinstance(error, Conflict), error
    assert error.code == "bed_taken"
    assert BedStay.objects.filter(bed=icu, ended_at__isnull=True).count() == 1
    assert Admission.objects.filter(bed=icu).count() == 1
    left = a if moved[0].pk == inpatients[0].pk else b
    stayed = b if left is a else a
    assert [Bed.objects.get(pk=bed.pk).status for bed in (left, stayed, icu)] == [
        BedStatus.CLEANING,
        BedStatus.OCCUPIED,
        BedStatus.OCCUPIED,
    ]


def test_a_chart_write_at_the_moment_of_discharge_never_lands_on_a_closed_chart(
    clock_at, make_user
):
    """Discharge and nurses charting at once: each write either lands before the
    discharge or is refused; none lands on the discharged chart. A dose and the drug's
    stop likewise: no dose after the stop."""
    from ajeya.ipd.models import MedicationDose, Observation

    clock_at(2026, 11, 30, 9, 0)
    clerk = make_user(Role.REGISTRATION_CLERK, username="desk")
    doctor = make_user(Role.DOCTOR, username="dr-asha")
    nurses = [make_user(Role.NURSE, username=f"sister{n}") for n in range(3)]
    bed = factories.beds(factories.ward("W1", rooms={"1": ["general"]}))[0]
    admission = factories.admit(clerk, bed, doctor=doctor, unit=schedule.clinic())
    order = services.medication_order(
        actor=doctor,
        admission=admission,
        drug="Ceftriaxone",
        dose="1 g",
        route="iv",
        frequency="BD",
    )
    clock_at(2026, 11, 30, 12, 0)
    work = [
        lambda: factories.discharge(doctor, admission),
        lambda: services.observation_record(actor=nurses[0], admission=admission, pulse_per_min=88),
        lambda: services.note_record(actor=nurses[1], admission=admission, text="comfortable"),
        lambda: services.dose_record(actor=nurses[2], order=order, outcome="given"),
    ]
    done, refused = _race(lambda n: work[n](), len(work))
    assert all(isinstance(e, Conflict) and e.code in ("discharged", "stopped") for e in refused)
    assert Admission.objects.get().status == AdmissionStatus.DISCHARGED
    # Whatever landed, landed before the discharge: the ledger's order is commit order.
    from ajeya.ledger import verification
    from ajeya.ledger.models import LedgerEntry

    assert len(done) + len(refused) == len(work)
    discharged = LedgerEntry.objects.get(subject_type="ipd.discharge").seq
    charted = LedgerEntry.objects.filter(
        subject_type__in=["ipd.observation", "ipd.nursing_note", "ipd.medication_dose"]
    ).values_list("seq", flat=True)
    assert all(seq < discharged for seq in charted)
    assert len(charted) == Observation.objects.count() + MedicationDose.objects.count() + (
        admission.notes.count()
    )

    assert verification.verify(use_checkpoint_dir=False).findings == []
