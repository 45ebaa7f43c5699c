"""The wards through their services: beds and housekeeping, admission, transfers, the
nursing chart, medication and discharge — what they write, what they refuse, and that
a refusal writes nothing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.ipd import hooks, services
from ajeya.ipd.models import (
    Admission,
    AdmissionSource,
    AdmissionStatus,
    BedCategory,
    BedStatus,
    BedStay,
    DischargeDiagnosis,
    DischargeType,
    DoseOutcome,
    IntakeOutput,
    MedicationDose,
    NursingNote,
    Observation,
)
from ajeya.ledger.models import LedgerAction
from tests.conftest import IST
from tests.ipd import factories
from tests.ipd.factories import assert_sealed, entries, snapshot
from tests.opd import factories as opd
from tests.patients.factories import PatientFactory

ADMITTED_AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=IST)


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse-lata", full_name="Lata Menon")


@pytest.fixture
def admin(make_user):
    return make_user(Role.HOSPITAL_ADMIN, username="admin-1")


@pytest.fixture
def other_doctor(make_user):
    return make_user(Role.DOCTOR, username="dr-vikram", full_name="Dr. Vikram Sen")


@pytest.fixture
def ward(db):
    """W1: room 1 with two general beds, room 2 with an ICU bed."""
    return factories.ward("W1", rooms={"1": ["general", "general"], "2": ["icu"]})


@pytest.fixture
def beds(ward):
    return {b.label: b for b in factories.beds(ward)}


@pytest.fixture
def patient(clerk):
    return PatientFactory(actor=clerk, name="Mohan Das")


@pytest.fixture
def admitted(clock_at, clerk, doctor, clinic, beds, patient):
    """Mohan Das admitted into W1-1-1 at 09:00 IST on Monday 30 November 2026."""
    clock_at(2026, 11, 30, 9, 0)
    return factories.admit(clerk, beds["W1-1-1"], doctor=doctor, unit=clinic, patient=patient)


def refreshed(row):
    row.refresh_from_db()
    return row


def admit_advised(clerk, doctor, clinic, patient, **overrides):
    visit = opd.called(clerk, doctor, clinic, patient)
    kwargs = {"admit_advised": True, "admit_note": "Admit to medical ward for IV antibiotics"}
    kwargs.update(overrides)
    return opd.consult(doctor, visit, **kwargs)


# -- beds and housekeeping ------------------------------------------------------------


def test_beds_are_created_free_and_ledgered(db, monday_morning):
    ward = factories.ward("w3", rooms={"1": ["general"], "2": ["icu", "hdu"]})
    assert ward.code == "W3"
    made = factories.beds(ward)
    assert [(b.label, b.room.number, b.category) for b in made] == [
        ("W3-1-1", "1", BedCategory.GENERAL),
        ("W3-2-1", "2", BedCategory.ICU),
        ("W3-2-2", "2", BedCategory.HDU),
    ]
    for bed in made:
        assert (bed.status, bed.status_note, bed.version) == (BedStatus.FREE, "", 1)
        assert bed.status_since == monday_morning
        assert bed.ward == ward
        [entry] = entries(bed)
        assert entry.action == LedgerAction.CREATE
        assert entry.after["status"] == "free"
        assert_sealed(bed)
    lower = factories.bed(made[0].room, " w3-1-x ")
    assert lower.label == "W3-1-X"


def test_a_bed_of_unknown_category_or_a_repeated_label_is_refused(ward):
    room = factories.beds(ward)[0].room
    before = snapshot()
    with pytest.raises(ValidationFailed, match="Unknown bed category 'suite'"):
        factories.bed(room, "W1-9-9", "suite")
    with pytest.raises(ValidationFailed, match="A bed labelled W1-1-1 exists"):
        factories.bed(room, "w1-1-1")
    assert snapshot() == before


def test_reserving_and_blocking_a_free_bed_need_a_note(monday_morning, nurse, beds):
    bed = beds["W1-1-1"]
    before = snapshot()
    for status in (BedStatus.RESERVED, BedStatus.BLOCKED):
        with pytest.raises(ValidationFailed) as refused:
            services.bed_set_status(actor=nurse, bed=bed, status=status, note="  ")
        assert refused.value.errors == {"note": ["Say why (and for whom, for a reservation)."]}
    assert snapshot() == before

    reserved = services.bed_set_status(
        actor=nurse, bed=bed, status=BedStatus.RESERVED, note=" for Mr Iyer from OT "
    )
    assert (reserved.status, reserved.status_note, reserved.version) == (
        BedStatus.RESERVED,
        "for Mr Iyer from OT",
        2,
    )
    entry = entries(bed)[-1]
    assert entry.action == LedgerAction.UPDATE
    assert entry.actor_id == nurse.pk
    assert (entry.before["status"], entry.after["status"]) == ("free", "reserved")
    assert entry.data["reason"] == "reserved: for Mr Iyer from OT"
    assert_sealed(bed)

    released = services.bed_set_status(actor=nurse, bed=bed, status=BedStatus.FREE)
    assert (released.status, released.version) == (BedStatus.FREE, 3)
    assert entries(bed)[-1].data["reason"] == "released"

    blocked = services.bed_set_status(
        actor=nurse, bed=bed, status=BedStatus.BLOCKED, note="oxygen port leaking"
    )
    assert blocked.status == BedStatus.BLOCKED
    assert entries(bed)[-1].data["reason"] == "blocked: oxygen port leaking"
    assert_sealed(bed)


def test_a_blocked_bed_can_only_be_freed(monday_morning, admin, beds):
    bed = beds["W1-2-1"]
    services.bed_set_status(actor=admin, bed=bed, status=BedStatus.BLOCKED, note="ventilator")
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        services.bed_set_status(actor=admin, bed=bed, status=BedStatus.RESERVED, note="for Mr X")
    assert str(refused.value) == (
        "Bed W1-2-1 is blocked for maintenance: it cannot be made reserved by hand."
    )
    assert snapshot() == before

    freed = services.bed_set_status(actor=admin, bed=bed, status=BedStatus.FREE)
    assert (refreshed(bed).status, freed.status_note) == (BedStatus.FREE, "")
    entry = entries(bed)[-1]
    assert (entry.before["status"], entry.after["status"]) == ("blocked", "free")
    assert entry.data["reason"] == "released"
    assert_sealed(bed)


def test_an_occupied_bed_cannot_be_changed_by_hand(admitted, nurse, beds):
    bed = beds["W1-1-1"]
    before = snapshot()
    for status, note in ((BedStatus.FREE, ""), (BedStatus.BLOCKED, "broken rail")):
        with pytest.raises(Conflict) as refused:
            services.bed_set_status(actor=nurse, bed=bed, status=status, note=note)
        made = BedStatus(status).label.lower()
        assert str(refused.value) == (
            f"Bed W1-1-1 is occupied: it cannot be made {made} by hand "
            "(it changes with admission and discharge)."
        )
    # Nor can a free bed be made occupied without an admission.
    with pytest.raises(Conflict, match="it cannot be made occupied by hand \\(it changes with"):
        services.bed_set_status(actor=nurse, bed=beds["W1-1-2"], status=BedStatus.OCCUPIED)
    with pytest.raises(ValidationFailed, match="Unknown bed status 'dirty'"):
        services.bed_set_status(actor=nurse, bed=bed, status="dirty")
    assert snapshot() == before
    assert refreshed(bed).status == BedStatus.OCCUPIED


def test_a_bed_being_cleaned_is_made_free_as_cleaned_and_ready(
    admitted, clock_at, doctor, nurse, beds
):
    clock_at(2026, 12, 2, 11, 0)
    factories.discharge(doctor, admitted)
    bed = refreshed(beds["W1-1-1"])
    assert bed.status == BedStatus.CLEANING
    clock_at(2026, 12, 2, 11, 40)
    services.bed_set_status(actor=nurse, bed=bed, status=BedStatus.FREE)
    bed.refresh_from_db()
    assert (bed.status, bed.status_since) == (
        BedStatus.FREE,
        dt.datetime(2026, 12, 2, 11, 40, tzinfo=IST),
    )
    entry = entries(bed)[-1]
    assert (entry.before["status"], entry.after["status"]) == ("cleaning", "free")
    assert entry.data["reason"] == "cleaned and ready"
    assert entry.actor_id == nurse.pk
    assert_sealed(bed)


@pytest.mark.parametrize(
    "role", [Role.REGISTRATION_CLERK, Role.DOCTOR, Role.BILLING_CLERK, Role.AUDITOR]
)
def test_roles_without_housekeeping_cannot_change_beds(monday_morning, make_user, beds, role):
    someone = make_user(role)
    before = snapshot()
    with pytest.raises(PermissionRefused, match="mark beds cleaned, reserved or blocked"):
        services.bed_set_status(
            actor=someone, bed=beds["W1-1-1"], status=BedStatus.BLOCKED, note="broken rail"
        )
    assert snapshot() == before


# -- admission ------------------------------------------------------------------------


def test_admission_writes_the_admission_an_open_stay_and_an_occupied_bed(
    clock_at, clerk, doctor, clinic, beds, patient
):
    now = clock_at(2026, 11, 30, 9, 0)
    bed = beds["W1-1-1"]
    admission = factories.admit(clerk, bed, doctor=doctor, unit=clinic, patient=patient)

    assert re.fullmatch(r"IP2026\d{7}", admission.number)
    admission = refreshed(admission)
    assert admission.status == AdmissionStatus.ADMITTED
    assert admission.source == AdmissionSource.DIRECT
    assert (admission.patient, admission.bed, admission.unit) == (patient, bed, clinic)
    assert (admission.admitted_by, admission.attending_doctor) == (clerk, doctor)
    assert (admission.admitted_at, admission.discharged_at, admission.version) == (now, None, 1)
    assert (admission.provisional_icd10, admission.provisional_diagnosis) == (
        "J18.9",
        "Pneumonia, unspecified",
    )
    [created] = entries(admission)
    assert (created.action, created.actor_id) == (LedgerAction.CREATE, clerk.pk)
    assert created.after["number"] == admission.number
    assert_sealed(admission)

    [stay] = BedStay.objects.filter(admission=admission)
    assert (stay.bed, stay.unit, stay.attending_doctor, stay.moved_by) == (
        bed,
        clinic,
        doctor,
        clerk,
    )
    assert (stay.started_at, stay.ended_at, stay.reason) == (now, None, "admitted")
    assert [e.action for e in entries(stay)] == [LedgerAction.CREATE]
    assert_sealed(stay)

    bed.refresh_from_db()
    assert (bed.status, bed.status_since, bed.version) == (BedStatus.OCCUPIED, now, 2)
    occupied = entries(bed)[-1]
    assert (occupied.before["status"], occupied.after["status"]) == ("free", "occupied")
    assert occupied.data["reason"] == f"admitted {admission.number}"
    assert_sealed(bed)

    # The next admission takes the next number.
    second = factories.admit(clerk, beds["W1-1-2"], doctor=doctor, unit=clinic, icd10="e119")
    assert int(second.number[6:]) == int(admission.number[6:]) + 1
    assert second.provisional_icd10 == "E11.9"


def test_the_ip_number_carries_the_year_of_admission_in_ist(clock_at, clerk, doctor, clinic, beds):
    clock_at(2027, 1, 1, 0, 20)  # still 31 December in UTC
    late = factories.admit(
        clerk,
        beds["W1-1-1"],
        doctor=doctor,
        unit=clinic,
        admitted_at=dt.datetime(2026, 12, 31, 23, 50, tzinfo=IST),
    )
    new_year = factories.admit(clerk, beds["W1-1-2"], doctor=doctor, unit=clinic)
    assert re.fullmatch(r"IP2026\d{7}", late.number)
    assert re.fullmatch(r"IP2027\d{7}", new_year.number)


def test_a_reserved_bed_can_be_admitted_into(monday_morning, nurse, clerk, doctor, clinic, beds):
    bed = beds["W1-2-1"]
    services.bed_set_status(actor=nurse, bed=bed, status=BedStatus.RESERVED, note="from OT")
    admission = factories.admit(clerk, bed, doctor=doctor, unit=clinic)
    assert refreshed(bed).status == BedStatus.OCCUPIED
    assert entries(bed)[-1].before["status"] == "reserved"
    assert admission.bed == bed


def test_admission_from_opd_advice_links_the_consultation(
    monday_morning, clerk, doctor, clinic, beds, patient
):
    consultation = admit_advised(clerk, doctor, clinic, patient)
    admission = factories.admit(
        clerk,
        beds["W1-1-1"],
        doctor=doctor,
        unit=clinic,
        patient=patient,
        source=AdmissionSource.EMERGENCY,
        consultation=consultation,
    )
    admission = refreshed(admission)
    assert admission.source == AdmissionSource.OPD
    assert admission.consultation == consultation
    assert entries(admission)[0].after["consultation_id"] == consultation.pk


def test_a_consultation_that_did_not_advise_admission_or_is_anothers_is_refused(
    monday_morning, clerk, doctor, clinic, beds, patient
):
    not_advised = opd.consult(doctor, opd.called(clerk, doctor, clinic, patient))
    stranger = PatientFactory(actor=clerk, name="Kavita Joshi")
    theirs = admit_advised(clerk, doctor, clinic, stranger)
    before = snapshot()
    for consultation in (not_advised, theirs):
        with pytest.raises(
            ValidationFailed, match="That consultation did not advise admitting this patient"
        ):
            factories.admit(
                clerk,
                beds["W1-1-1"],
                doctor=doctor,
                unit=clinic,
                patient=patient,
                consultation=consultation,
            )
    assert snapshot() == before


def test_a_patient_already_admitted_is_refused_naming_the_ip_number_and_bed(
    admitted, clerk, doctor, clinic, beds, patient
):
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        factories.admit(clerk, beds["W1-2-1"], doctor=doctor, unit=clinic, patient=patient)
    assert refused.value.code == "already_admitted"
    assert str(refused.value) == f"Mohan Das is already admitted ({admitted.number}, bed W1-1-1)."
    assert snapshot() == before
    assert refreshed(beds["W1-2-1"]).status == BedStatus.FREE


def test_an_occupied_or_blocked_bed_is_refused(admitted, nurse, clerk, doctor, clinic, beds):
    services.bed_set_status(
        actor=nurse, bed=beds["W1-2-1"], status=BedStatus.BLOCKED, note="ventilator service"
    )
    newcomer = PatientFactory(actor=clerk)
    before = snapshot()
    for label, status in (("W1-1-1", "occupied"), ("W1-2-1", "blocked for maintenance")):
        with pytest.raises(Conflict) as refused:
            factories.admit(clerk, beds[label], doctor=doctor, unit=clinic, patient=newcomer)
        assert refused.value.code == "bed_taken"
        assert str(refused.value) == f"Bed {label} is {status}: choose a free bed."
    assert snapshot() == before
    assert not Admission.objects.filter(patient=newcomer).exists()


def test_a_bed_being_cleaned_is_refused(admitted, clock_at, clerk, doctor, clinic, beds):
    clock_at(2026, 12, 1, 10, 0)
    factories.discharge(doctor, admitted)
    newcomer = PatientFactory(actor=clerk)
    before = snapshot()
    with pytest.raises(Conflict, match=r"^Bed W1-1-1 is cleaning: choose a free bed\.$"):
        factories.admit(clerk, beds["W1-1-1"], doctor=doctor, unit=clinic, patient=newcomer)
    assert snapshot() == before


def test_the_attending_doctor_must_be_an_active_doctor(
    monday_morning, clerk, nurse, make_user, clinic, beds, patient
):
    retired = make_user(Role.DOCTOR, username="dr-retired")
    retired.is_active = False  # as the account reads once deactivated
    before = snapshot()
    for not_a_doctor in (nurse, clerk, retired):
        with pytest.raises(ValidationFailed) as refused:
            factories.admit(
                clerk, beds["W1-1-1"], doctor=not_a_doctor, unit=clinic, patient=patient
            )
        assert refused.value.errors == {"attending_doctor": ["Choose an active doctor."]}
    assert snapshot() == before


@pytest.mark.parametrize("code", ["Z99.99", "J10-J18", ""])
def test_an_unknown_provisional_icd10_code_is_refused(
    monday_morning, clerk, doctor, clinic, beds, code
):
    patient = PatientFactory(actor=clerk)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.admit(
            clerk, beds["W1-1-1"], doctor=doctor, unit=clinic, patient=patient, icd10=code
        )
    [message] = refused.value.errors["provisional_icd10"]
    assert message.startswith("Unknown ICD-10 code") or "no code was given" in message
    assert snapshot() == before


def test_an_admission_time_in_the_future_is_refused(monday_morning, clerk, doctor, clinic, beds):
    patient = PatientFactory(actor=clerk)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.admit(
            clerk,
            beds["W1-1-1"],
            doctor=doctor,
            unit=clinic,
            patient=patient,
            admitted_at=monday_morning + dt.timedelta(hours=2),
        )
    assert refused.value.errors == {"admitted_at": ["That time is in the future."]}
    assert snapshot() == before


@pytest.mark.parametrize("role", [Role.NURSE, Role.BILLING_CLERK, Role.HOSPITAL_ADMIN])
def test_roles_that_do_not_admit_are_refused(monday_morning, make_user, doctor, clinic, beds, role):
    patient, someone = PatientFactory(), make_user(role)
    before = snapshot()
    with pytest.raises(PermissionRefused):
        factories.admit(someone, beds["W1-1-1"], doctor=doctor, unit=clinic, patient=patient)
    assert snapshot() == before


# -- transfers ------------------------------------------------------------------------


def test_a_transfer_to_a_free_bed_moves_the_patient(
    admitted, clock_at, nurse, doctor, clinic, beds
):
    moved_at = clock_at(2026, 12, 1, 14, 30)
    old_bed, new_bed = beds["W1-1-1"], beds["W1-2-1"]
    [old_stay] = BedStay.objects.filter(admission=admitted)

    moved = services.admission_transfer(
        actor=nurse, admission=admitted, to_bed=new_bed, reason="  needs  ICU monitoring "
    )

    assert moved.bed == new_bed
    admission = refreshed(admitted)
    assert (admission.bed, admission.unit, admission.attending_doctor, admission.version) == (
        new_bed,
        clinic,
        doctor,
        2,
    )
    changed = entries(admission)[-1]
    assert (changed.before["bed_id"], changed.after["bed_id"]) == (old_bed.pk, new_bed.pk)
    assert changed.data["reason"] == "needs ICU monitoring"
    assert changed.actor_id == nurse.pk
    assert_sealed(admission)

    old_stay.refresh_from_db()
    assert old_stay.ended_at == moved_at
    closed = entries(old_stay)[-1]
    assert (closed.before["ended_at"], closed.data["reason"]) == (
        None,
        "moved: needs ICU monitoring",
    )
    assert_sealed(old_stay)
    new_stay = BedStay.objects.get(admission=admitted, ended_at__isnull=True)
    assert (new_stay.bed, new_stay.started_at, new_stay.moved_by, new_stay.reason) == (
        new_bed,
        moved_at,
        nurse,
        "needs ICU monitoring",
    )
    assert_sealed(new_stay)

    assert refreshed(old_bed).status == BedStatus.CLEANING
    assert entries(old_bed)[-1].data["reason"] == f"{admitted.number} moved out"
    assert refreshed(new_bed).status == BedStatus.OCCUPIED
    assert entries(new_bed)[-1].data["reason"] == f"{admitted.number} moved in"
    assert_sealed(old_bed)
    assert_sealed(new_bed)


def test_a_transfer_to_an_occupied_or_blocked_bed_is_refused(
    admitted, clock_at, clerk, nurse, doctor, clinic, beds
):
    factories.admit(clerk, beds["W1-1-2"], doctor=doctor, unit=clinic)
    services.bed_set_status(
        actor=nurse, bed=beds["W1-2-1"], status=BedStatus.BLOCKED, note="ventilator service"
    )
    clock_at(2026, 11, 30, 12, 0)
    before = snapshot()
    for label in ("W1-1-2", "W1-2-1"):
        with pytest.raises(Conflict, match=f"Bed {label} is .*: choose a free bed") as refused:
            services.admission_transfer(
                actor=nurse, admission=admitted, to_bed=beds[label], reason="nearer the station"
            )
        assert refused.value.code == "bed_taken"
    assert snapshot() == before


def test_a_transfer_needs_a_reason_and_a_transferring_role(admitted, clerk, nurse, beds):
    before = snapshot()
    for reason in ("", "  ok  "):
        with pytest.raises(ValidationFailed) as refused:
            services.admission_transfer(
                actor=nurse, admission=admitted, to_bed=beds["W1-2-1"], reason=reason
            )
        assert refused.value.errors == {
            "reason": ["Say why the patient is moved (at least 5 letters)."]
        }
    with pytest.raises(PermissionRefused):
        services.admission_transfer(
            actor=clerk, admission=admitted, to_bed=beds["W1-2-1"], reason="needs ICU care"
        )
    with pytest.raises(ValidationFailed, match="Choose an active doctor"):
        services.admission_transfer(
            actor=nurse,
            admission=admitted,
            to_bed=beds["W1-2-1"],
            reason="needs ICU care",
            attending_doctor=clerk,
        )
    assert snapshot() == before


def test_a_change_of_unit_and_doctor_in_the_same_bed(
    admitted, clock_at, doctor, other_doctor, surgery, beds
):
    moved_at = clock_at(2026, 12, 1, 10, 0)
    bed = beds["W1-1-1"]
    bed_version = refreshed(bed).version

    services.admission_transfer(
        actor=doctor,
        admission=admitted,
        to_bed=bed,
        reason="taken over by surgery for laparotomy",
        unit=surgery,
        attending_doctor=other_doctor,
    )

    admission = refreshed(admitted)
    assert (admission.bed, admission.unit, admission.attending_doctor) == (
        bed,
        surgery,
        other_doctor,
    )
    assert entries(admission)[-1].data["reason"] == "taken over by surgery for laparotomy"
    first, second = BedStay.objects.filter(admission=admitted).order_by("started_at", "pk")
    assert (first.bed, first.ended_at, first.attending_doctor) == (bed, moved_at, doctor)
    assert (second.bed, second.ended_at, second.unit, second.attending_doctor) == (
        bed,
        None,
        surgery,
        other_doctor,
    )
    bed.refresh_from_db()
    assert (bed.status, bed.version) == (BedStatus.OCCUPIED, bed_version)  # not touched


def test_a_transfer_to_the_same_bed_with_nothing_else_changed_is_refused(admitted, doctor, beds):
    before = snapshot()
    with pytest.raises(ValidationFailed, match="already in that bed"):
        services.admission_transfer(
            actor=doctor, admission=admitted, to_bed=beds["W1-1-1"], reason="just because"
        )
    assert snapshot() == before


def test_a_discharged_admission_cannot_be_transferred(admitted, clock_at, doctor, beds):
    clock_at(2026, 12, 1, 10, 0)
    factories.discharge(doctor, admitted)
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        services.admission_transfer(
            actor=doctor, admission=admitted, to_bed=beds["W1-2-1"], reason="needs ICU care"
        )
    assert refused.value.code == "discharged"
    assert str(refused.value) == f"{admitted.number} is already discharged."
    assert snapshot() == before


# -- nursing chart --------------------------------------------------------------------


def test_an_observation_with_sane_values_is_charted(admitted, clock_at, nurse):
    clock_at(2026, 11, 30, 13, 0)
    at = dt.datetime(2026, 11, 30, 12, 45, tzinfo=IST)
    observation = services.observation_record(
        actor=nurse,
        admission=admitted,
        recorded_at=at,
        temperature_c="38.44",
        pulse_per_min=104,
        respiratory_rate="22",
        systolic_mmhg=118,
        diastolic_mmhg=76,
        spo2_percent=94,
    )
    observation = refreshed(observation)
    assert (observation.recorded_at, observation.recorded_by) == (at, nurse)
    assert observation.temperature_c == Decimal("38.4")
    assert (
        observation.pulse_per_min,
        observation.respiratory_rate,
        observation.systolic_mmhg,
        observation.diastolic_mmhg,
        observation.spo2_percent,
    ) == (104, 22, 118, 76, 94)
    [entry] = entries(observation)
    assert (entry.action, entry.actor_id) == (LedgerAction.CREATE, nurse.pk)
    assert entry.after["temperature_c"] == "38.4"
    assert_sealed(observation)
    # Unstated, the time is now.
    now_obs = services.observation_record(actor=nurse, admission=admitted, pulse_per_min=90)
    assert now_obs.recorded_at == dt.datetime(2026, 11, 30, 13, 0, tzinfo=IST)
    assert now_obs.temperature_c is None


def test_an_impossible_reading_is_refused_naming_the_range(admitted, nurse):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.observation_record(actor=nurse, admission=admitted, temperature_c=400)
    assert refused.value.errors == {
        "temperature_c": [
            "Temperature 400 °C is outside 25 to 45 °C: check the reading and the unit."
        ]
    }
    with pytest.raises(ValidationFailed, match="Diastolic 120 must be lower than systolic 110"):
        services.observation_record(
            actor=nurse, admission=admitted, systolic_mmhg=110, diastolic_mmhg=120
        )
    with pytest.raises(ValidationFailed, match="Enter at least one reading"):
        services.observation_record(actor=nurse, admission=admitted)
    assert snapshot() == before


def test_weight_is_not_a_ward_observation(admitted, nurse):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.observation_record(actor=nurse, admission=admitted, pulse_per_min=80, weight_kg=70)
    assert refused.value.errors == {"__all__": ["Not charted on the ward: weight_kg."]}
    assert snapshot() == before


def test_an_observation_before_the_admission_or_in_the_future_is_refused(admitted, clock_at, nurse):
    now = clock_at(2026, 11, 30, 12, 0)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.observation_record(
            actor=nurse,
            admission=admitted,
            recorded_at=dt.datetime(2026, 11, 30, 8, 30, tzinfo=IST),
            pulse_per_min=80,
        )
    assert refused.value.errors == {
        "recorded_at": ["That is before the admission (30-11-2026 09:00 IST)."]
    }
    with pytest.raises(ValidationFailed, match="That time is in the future"):
        services.observation_record(
            actor=nurse,
            admission=admitted,
            recorded_at=now + dt.timedelta(minutes=30),
            pulse_per_min=80,
        )
    assert snapshot() == before


def test_intake_and_output_are_charted(admitted, clock_at, nurse):
    clock_at(2026, 11, 30, 14, 0)
    intake = services.fluid_record(
        actor=nurse, admission=admitted, direction="intake", route="iv", volume_ml=500
    )
    output = services.fluid_record(
        actor=nurse,
        admission=admitted,
        direction="output",
        route="urine",
        volume_ml=350,
        note=" clear ",
    )
    assert [(f.direction, f.route, f.volume_ml, f.note) for f in admitted.fluids.all()] == [
        ("intake", "iv", 500, ""),
        ("output", "urine", 350, "clear"),
    ]
    for row in (intake, output):
        assert entries(row)[0].action == LedgerAction.CREATE
        assert_sealed(row)


@pytest.mark.parametrize(
    ("direction", "route", "volume", "field", "message"),
    [
        ("intake", "oral", 0, "volume_ml", "Volume 0 ml is outside 1 to 10,000 ml."),
        ("output", "urine", 20000, "volume_ml", "Volume 20000 ml is outside 1 to 10,000 ml."),
        ("intake", "nasal", 100, "route", "Unknown route 'nasal'."),
        ("sideways", "oral", 100, "direction", "Intake or output?"),
    ],
)
def test_impossible_intake_or_output_is_refused(
    admitted, nurse, direction, route, volume, field, message
):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.fluid_record(
            actor=nurse, admission=admitted, direction=direction, route=route, volume_ml=volume
        )
    assert refused.value.errors == {field: [message]}
    assert snapshot() == before


def test_a_nursing_note_is_charted_and_a_blank_one_refused(admitted, nurse):
    note = services.note_record(actor=nurse, admission=admitted, text="  Slept well.  ")
    assert (refreshed(note).text, note.recorded_by) == ("Slept well.", nurse)
    assert_sealed(note)
    before = snapshot()
    with pytest.raises(ValidationFailed, match="Write the note"):
        services.note_record(actor=nurse, admission=admitted, text="   ")
    assert snapshot() == before


def order_ceftriaxone(doctor, admission, **overrides):
    kwargs = {"drug": "Ceftriaxone", "dose": "1 g", "route": "iv", "frequency": "BD"}
    kwargs.update(overrides)
    return services.medication_order(actor=doctor, admission=admission, **kwargs)


def test_a_doctor_charts_medication_and_a_nurse_cannot(admitted, doctor, nurse):
    order = order_ceftriaxone(doctor, admitted, drug="  Ceftriaxone   sodium ")
    order = refreshed(order)
    assert (order.drug, order.dose, order.route, order.frequency) == (
        "Ceftriaxone sodium",
        "1 g",
        "iv",
        "BD",
    )
    assert (order.ordered_by, order.ordered_at, order.stopped_at) == (doctor, ADMITTED_AT, None)
    assert entries(order)[0].actor_id == doctor.pk
    assert_sealed(order)

    before = snapshot()
    with pytest.raises(PermissionRefused):
        order_ceftriaxone(nurse, admitted)
    with pytest.raises(ValidationFailed) as refused:
        order_ceftriaxone(doctor, admitted, drug=" ", dose="", route="iv drip", frequency="hourly")
    assert set(refused.value.errors) == {"drug", "dose", "route", "frequency"}
    assert snapshot() == before


def test_doses_given_held_and_refused(admitted, clock_at, doctor, nurse):
    order = order_ceftriaxone(doctor, admitted)
    clock_at(2026, 11, 30, 10, 0)
    given = services.dose_record(actor=nurse, order=order, outcome=DoseOutcome.GIVEN)
    assert (given.outcome, given.note, given.recorded_by) == ("given", "", nurse)
    assert_sealed(given)

    before = snapshot()
    for outcome, says in (("held", "held"), ("refused", "refused by the patient")):
        with pytest.raises(ValidationFailed) as refused:
            services.dose_record(actor=nurse, order=order, outcome=outcome, note=" ")
        assert refused.value.errors == {"note": [f"Say why the dose was {says}."]}
    with pytest.raises(ValidationFailed, match="Unknown outcome 'spilt'"):
        services.dose_record(actor=nurse, order=order, outcome="spilt")
    assert snapshot() == before

    held = services.dose_record(actor=nurse, order=order, outcome="held", note="NPO for scan")
    declined = services.dose_record(
        actor=nurse, order=order, outcome="refused", note="Vomited, refused"
    )
    assert [(d.outcome, d.note) for d in MedicationDose.objects.filter(order=order)] == [
        ("given", ""),
        ("held", "NPO for scan"),
        ("refused", "Vomited, refused"),
    ]
    for dose in (held, declined):
        assert entries(dose)[0].action == LedgerAction.CREATE
        assert_sealed(dose)


def test_a_dose_before_the_order_was_written_is_refused(admitted, clock_at, doctor, nurse):
    clock_at(2026, 11, 30, 11, 0)
    order = order_ceftriaxone(doctor, admitted)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.dose_record(
            actor=nurse,
            order=order,
            outcome="given",
            recorded_at=dt.datetime(2026, 11, 30, 10, 0, tzinfo=IST),
        )
    assert "recorded_at" in refused.value.errors
    assert snapshot() == before


def test_a_dose_before_the_order_says_it_is_before_the_order(admitted, clock_at, doctor, nurse):
    clock_at(2026, 11, 30, 11, 0)
    order = order_ceftriaxone(doctor, admitted)
    with pytest.raises(ValidationFailed) as refused:
        services.dose_record(
            actor=nurse,
            order=order,
            outcome="given",
            recorded_at=dt.datetime(2026, 11, 30, 10, 0, tzinfo=IST),
        )
    [message] = refused.value.errors["recorded_at"]
    assert "admission" not in message
    assert "30-11-2026 11:00" in message


def test_stopping_a_drug_needs_a_reason_and_no_dose_is_given_after(
    admitted, clock_at, doctor, nurse
):
    order = order_ceftriaxone(doctor, admitted)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.medication_stop(actor=doctor, order=order, reason="no")
    assert refused.value.errors == {"reason": ["Say why the drug is stopped (at least 5 letters)."]}
    with pytest.raises(PermissionRefused):
        services.medication_stop(actor=nurse, order=order, reason="rash after the first dose")
    assert snapshot() == before

    stopped_at = clock_at(2026, 11, 30, 12, 0)
    services.medication_stop(actor=doctor, order=order, reason="rash after the first dose")
    order = refreshed(order)
    assert (order.stopped_at, order.stopped_by) == (stopped_at, doctor)
    entry = entries(order)[-1]
    assert (entry.before["stopped_at"], entry.data["reason"]) == (None, "rash after the first dose")
    assert_sealed(order)

    before = snapshot()
    with pytest.raises(Conflict) as refused:
        services.dose_record(actor=nurse, order=order, outcome="given")
    assert refused.value.code == "stopped"
    assert str(refused.value) == "Ceftriaxone was stopped: no dose is due."
    with pytest.raises(Conflict, match="Ceftriaxone was already stopped"):
        services.medication_stop(actor=doctor, order=order, reason="rash after the first dose")
    assert snapshot() == before


def test_the_chart_is_closed_after_discharge(admitted, clock_at, doctor, nurse):
    order = order_ceftriaxone(doctor, admitted)
    clock_at(2026, 12, 2, 10, 0)
    factories.discharge(doctor, admitted)
    before = snapshot()
    writes = [
        lambda: services.observation_record(actor=nurse, admission=admitted, pulse_per_min=80),
        lambda: services.fluid_record(
            actor=nurse, admission=admitted, direction="intake", route="oral", volume_ml=200
        ),
        lambda: services.note_record(actor=nurse, admission=admitted, text="Comfortable."),
        lambda: order_ceftriaxone(doctor, admitted, drug="Paracetamol"),
        lambda: services.dose_record(actor=nurse, order=order, outcome="given"),
    ]
    for write in writes:
        with pytest.raises(Conflict) as refused:
            write()
        assert refused.value.code == "discharged"
        assert str(refused.value) == f"{admitted.number} is discharged: its chart is closed."
    assert snapshot() == before
    assert (Observation.objects.count(), IntakeOutput.objects.count()) == (0, 0)
    assert NursingNote.objects.count() == 0


def test_a_drug_on_a_closed_chart_cannot_be_stopped(admitted, clock_at, doctor):
    order = order_ceftriaxone(doctor, admitted)
    clock_at(2026, 12, 2, 10, 0)
    factories.discharge(doctor, admitted)
    before = snapshot()
    with pytest.raises(Conflict, match="its chart is closed"):
        services.medication_stop(actor=doctor, order=order, reason="course complete")
    assert snapshot() == before


# -- discharge ------------------------------------------------------------------------


def test_a_normal_discharge_writes_the_summary_and_frees_the_bed_for_cleaning(
    admitted, clock_at, doctor, beds
):
    at = clock_at(2026, 12, 3, 11, 30)
    bed = beds["W1-1-1"]
    discharge = factories.discharge(
        doctor,
        admitted,
        diagnoses=["j18.9", "E11.9"],
        follow_up=" Medicine OPD in 1 week ",
        medications="Amoxicillin 500 mg TDS x 5 days",
    )
    discharge = refreshed(discharge)
    assert (discharge.kind, discharge.discharged_at, discharge.discharged_by) == (
        DischargeType.NORMAL,
        at,
        doctor,
    )
    assert discharge.course == "Treated with IV antibiotics; afebrile for 48 hours."
    assert (discharge.condition, discharge.follow_up) == (
        "Stable, walking unaided",
        "Medicine OPD in 1 week",
    )
    assert (discharge.death_at, discharge.cause_underlying) == (None, "")
    assert_sealed(discharge)
    assert [
        (d.position, d.icd10_code, d.description)
        for d in DischargeDiagnosis.objects.filter(discharge=discharge)
    ] == [
        (1, "J18.9", "Pneumonia, unspecified"),
        (2, "E11.9", "Type 2 diabetes mellitus without complications"),
    ]
    for diagnosis in discharge.diagnoses.all():
        assert_sealed(diagnosis)

    [stay] = BedStay.objects.filter(admission=admitted)
    assert stay.ended_at == at
    assert entries(stay)[-1].data["reason"] == "discharged"
    bed.refresh_from_db()
    assert (bed.status, bed.status_since) == (BedStatus.CLEANING, at)
    assert entries(bed)[-1].data["reason"] == f"{admitted.number} discharged"
    admission = refreshed(admitted)
    assert (admission.status, admission.discharged_at, admission.version) == (
        AdmissionStatus.DISCHARGED,
        at,
        2,
    )
    closed = entries(admission)[-1]
    assert (closed.before["status"], closed.after["status"]) == ("admitted", "discharged")
    assert closed.data["reason"] == "discharged: discharged home"
    assert closed.actor_id == doctor.pk
    assert_sealed(admission)
    assert_sealed(bed)


def test_a_discharge_before_the_admission_or_in_the_future_is_refused(admitted, clock_at, doctor):
    now = clock_at(2026, 12, 1, 10, 0)
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(
            doctor, admitted, discharged_at=dt.datetime(2026, 11, 30, 8, 0, tzinfo=IST)
        )
    assert refused.value.errors == {
        "discharged_at": ["That is before the admission (30-11-2026 09:00 IST)."]
    }
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(doctor, admitted, discharged_at=now + dt.timedelta(hours=3))
    assert refused.value.errors == {"discharged_at": ["That time is in the future."]}
    assert snapshot() == before
    assert refreshed(admitted).status == AdmissionStatus.ADMITTED


def test_a_death_needs_its_time_immediate_cause_and_underlying_cause(admitted, doctor):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(doctor, admitted, kind="death", condition="Expired")
    assert set(refused.value.errors) == {"death_at", "cause_immediate", "cause_underlying_icd10"}
    assert refused.value.errors["death_at"] == ["Give the date and time of death."]
    assert refused.value.errors["cause_immediate"] == ["Give the immediate cause of death."]
    assert refused.value.errors["cause_underlying_icd10"] == [
        "Code the underlying cause in ICD-10."
    ]
    assert snapshot() == before


def test_a_death_with_its_facts_stores_the_underlying_causes_who_description(
    admitted, clock_at, doctor, beds
):
    at = clock_at(2026, 12, 1, 4, 0)
    died = dt.datetime(2026, 12, 1, 3, 40, tzinfo=IST)
    discharge = factories.discharge(
        doctor,
        admitted,
        kind="death",
        condition="Expired",
        death_at=died,
        cause_immediate="Septic shock",
        cause_antecedent="Pneumonia",
        cause_underlying_icd10="a41.9",
        manner_of_death="natural",
    )
    discharge = refreshed(discharge)
    assert (discharge.kind, discharge.death_at, discharge.discharged_at) == ("death", died, at)
    assert (discharge.cause_underlying_icd10, discharge.cause_underlying) == (
        "A41.9",
        "Sepsis, unspecified",
    )
    assert (discharge.cause_immediate, discharge.cause_antecedent) == ("Septic shock", "Pneumonia")
    assert entries(admitted)[-1].data["reason"] == "discharged: death"
    assert refreshed(beds["W1-1-1"]).status == BedStatus.CLEANING


def test_a_death_after_the_discharge_time_or_before_admission_is_refused(
    admitted, clock_at, doctor
):
    clock_at(2026, 12, 1, 4, 0)
    facts = {
        "kind": "death",
        "condition": "Expired",
        "cause_immediate": "Septic shock",
        "cause_underlying_icd10": "A41.9",
    }
    before = snapshot()
    with pytest.raises(ValidationFailed, match="Death cannot be after the discharge time"):
        factories.discharge(
            doctor,
            admitted,
            discharged_at=dt.datetime(2026, 12, 1, 3, 0, tzinfo=IST),
            death_at=dt.datetime(2026, 12, 1, 3, 40, tzinfo=IST),
            **facts,
        )
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(
            doctor, admitted, death_at=dt.datetime(2026, 11, 30, 8, 0, tzinfo=IST), **facts
        )
    assert refused.value.errors == {
        "death_at": ["That is before the admission (30-11-2026 09:00 IST)."]
    }
    assert snapshot() == before


def test_an_unknown_underlying_cause_of_death_is_refused(admitted, doctor):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(
            doctor,
            admitted,
            kind="death",
            condition="Expired",
            death_at=ADMITTED_AT + dt.timedelta(hours=1),
            cause_immediate="Septic shock",
            cause_underlying_icd10="X99.99",
        )
    assert list(refused.value.errors) == ["cause_underlying_icd10"]
    assert "Unknown ICD-10 code 'X99.99'" in refused.value.errors["cause_underlying_icd10"][0]
    assert snapshot() == before


def test_a_referral_names_the_hospital(admitted, doctor):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(doctor, admitted, kind="referred", referred_to="  ")
    assert refused.value.errors == {
        "referred_to": ["Name the hospital the patient is referred to."]
    }
    assert snapshot() == before


def test_a_referral_with_the_hospital_is_discharged(admitted, clock_at, doctor):
    clock_at(2026, 12, 1, 10, 0)
    discharge = factories.discharge(
        doctor, admitted, kind="referred", referred_to=" AIIMS New Delhi, cardiology "
    )
    assert refreshed(discharge).referred_to == "AIIMS New Delhi, cardiology"
    assert entries(admitted)[-1].data["reason"] == "discharged: referred to another hospital"


def test_a_second_discharge_is_refused(admitted, clock_at, doctor):
    clock_at(2026, 12, 1, 10, 0)
    factories.discharge(doctor, admitted)
    clock_at(2026, 12, 1, 10, 5)
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        factories.discharge(doctor, admitted, kind="lama")
    assert refused.value.code == "discharged"
    assert str(refused.value) == f"{admitted.number} is already discharged."
    assert snapshot() == before


def test_unknown_final_diagnoses_are_refused_and_nothing_is_written(admitted, doctor, nurse):
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(doctor, admitted, diagnoses=["J18.9", "Q99.99"])
    [message] = refused.value.errors["diagnoses"]
    assert "Unknown ICD-10 code 'Q99.99'" in message
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(doctor, admitted, diagnoses=[], course=" ", kind="holiday")
    assert refused.value.errors["diagnoses"] == ["Record the final diagnosis (ICD-10)."]
    assert set(refused.value.errors) == {"diagnoses", "course", "kind"}
    with pytest.raises(ValidationFailed, match="Unknown discharge fields: cost"):
        factories.discharge(doctor, admitted, cost="12000")
    with pytest.raises(PermissionRefused):
        factories.discharge(nurse, admitted)
    assert snapshot() == before
    assert refreshed(admitted).status == AdmissionStatus.ADMITTED


def test_investigations_come_from_registered_providers(admitted):
    assert services.investigations_for(admitted) == ""
    seen = []

    def laboratory(admission):
        seen.append(admission.number)
        return ["30-11 Hb 9.8 g/dL", "30-11 TLC 14,200 /µL"]

    hooks.register(laboratory)
    try:
        hooks.register(laboratory)  # registering twice adds it once
        assert services.investigations_for(admitted) == "30-11 Hb 9.8 g/dL\n30-11 TLC 14,200 /µL"
        assert seen == [admitted.number]
    finally:
        hooks.unregister(laboratory)
    assert services.investigations_for(admitted) == ""


def test_a_move_or_discharge_before_the_last_move_is_refused(
    admitted, clock_at, nurse, doctor, beds
):
    clock_at(2026, 12, 1, 10, 0)
    services.admission_transfer(
        actor=nurse, admission=admitted, to_bed=beds["W1-2-1"], reason="needs ICU monitoring"
    )
    clock_at(2026, 12, 1, 12, 0)
    earlier = dt.datetime(2026, 12, 1, 9, 0, tzinfo=IST)  # after admission, before the move
    before = snapshot()
    with pytest.raises(ValidationFailed) as refused:
        services.admission_transfer(
            actor=nurse,
            admission=admitted,
            to_bed=beds["W1-1-2"],
            reason="stepped down from ICU",
            moved_at=earlier,
        )
    assert refused.value.errors == {"moved_at": ["That is before the patient came to this bed."]}
    with pytest.raises(ValidationFailed) as refused:
        factories.discharge(doctor, admitted, discharged_at=earlier)
    assert refused.value.errors == {"discharged_at": ["That is before the patient's last move."]}
    assert snapshot() == before


def test_a_consultation_already_admitted_from_is_refused_as_such(
    monday_morning, clock_at, clerk, doctor, clinic, beds, patient
):
    consultation = admit_advised(clerk, doctor, clinic, patient)
    first = factories.admit(
        clerk,
        beds["W1-1-1"],
        doctor=doctor,
        unit=clinic,
        patient=patient,
        consultation=consultation,
    )
    clock_at(2026, 11, 30, 12, 0)
    factories.discharge(doctor, first)
    before = snapshot()
    with pytest.raises((ValidationFailed, Conflict)) as refused:
        factories.admit(
            clerk,
            beds["W1-1-2"],
            doctor=doctor,
            unit=clinic,
            patient=patient,
            consultation=consultation,
        )
    assert snapshot() == before
    assert refused.value.code != "bed_taken"
    assert first.number in str(refused.value)


def test_a_back_dated_admission_cannot_overlap_the_beds_previous_patient(
    clock_at, clerk, doctor, nurse, clinic, beds
):
    bed = beds["W1-1-1"]
    clock_at(2026, 11, 30, 8, 0)
    first = factories.admit(clerk, bed, doctor=doctor, unit=clinic)
    clock_at(2026, 11, 30, 12, 0)
    factories.discharge(doctor, first)  # the bed held the first patient 08:00-12:00
    services.bed_set_status(actor=nurse, bed=bed, status=BedStatus.FREE)
    clock_at(2026, 11, 30, 14, 0)
    newcomer = PatientFactory(actor=clerk)
    before = snapshot()
    with pytest.raises(ValidationFailed):
        factories.admit(
            clerk,
            bed,
            doctor=doctor,
            unit=clinic,
            patient=newcomer,
            admitted_at=dt.datetime(2026, 11, 30, 10, 0, tzinfo=IST),
        )
    assert snapshot() == before


def test_discharge_stops_the_drugs_still_running(monday_morning, clerk, doctor, clinic):
    from ajeya.ipd.models import MedicationOrder

    bed = factories.beds(factories.ward("W7", rooms={"1": ["general"]}))[0]
    admission = factories.admit(clerk, bed, doctor=doctor, unit=clinic)
    running = services.medication_order(
        actor=doctor,
        admission=admission,
        drug="Ceftriaxone",
        dose="1 g",
        route="iv",
        frequency="BD",
    )
    factories.discharge(doctor, admission)
    running = MedicationOrder.objects.get(pk=running.pk)
    assert running.stopped_at is not None
    assert running.stopped_by == doctor
    factories.assert_sealed(running)


def test_a_patient_whose_death_was_recorded_is_not_admitted_again(
    monday_morning, clerk, doctor, clinic, clock_at
):
    first, second = factories.beds(factories.ward("W8", rooms={"1": ["general", "general"]}))
    admission = factories.admit(clerk, first, doctor=doctor, unit=clinic)
    died = clock_at(2026, 11, 30, 11, 0)
    factories.discharge(
        doctor,
        admission,
        kind="death",
        death_at=died,
        cause_immediate="Cardiac arrest",
        cause_underlying_icd10="I21.9",
        condition="Deceased",
    )
    with pytest.raises(ValidationFailed, match="death was recorded on 30-11-2026"):
        factories.admit(clerk, second, doctor=doctor, unit=clinic, patient=admission.patient)
