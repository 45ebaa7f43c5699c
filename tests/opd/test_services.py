"""The outpatient department through its services: tokens, the doctor's queue, vital
signs and consultations — what they write, what they refuse, and that a refusal
writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ajeya.appointments import services as appointments
from ajeya.appointments.models import Appointment, AppointmentStatus, BookingChannel
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.ledger import verification
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.ledger.registry import for_model, state_of
from ajeya.opd import orders, selectors, services
from ajeya.opd.models import (
    ClinicalOrder,
    Consultation,
    Diagnosis,
    OrderStatus,
    Prescription,
    Visit,
    VisitStatus,
    Vitals,
)
from ajeya.opd.services import OrderLine, clean_vitals
from tests.appointments import factories as schedule
from tests.opd import factories
from tests.patients.factories import PatientFactory

MONDAY = dt.date(2026, 11, 30)
NEXT_MONDAY = MONDAY + dt.timedelta(days=7)
NINE = dt.time(9, 0)


@pytest.fixture
def other_doctor(make_user):
    return make_user(Role.DOCTOR, username="dr-vikram", full_name="Dr. Vikram Sen")


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE, username="nurse-lata", full_name="Lata Menon")


@pytest.fixture
def admin(make_user):
    return make_user(Role.HOSPITAL_ADMIN, username="admin-1")


@pytest.fixture
def lab_handler():
    placed = []

    def handler(*, order, actor):
        placed.append((order.test, actor.username))
        return f"LAB-{len(placed):04d}"

    orders.register("lab", handler)
    try:
        yield placed
    finally:
        orders.unregister("lab")


def entries(row) -> list[LedgerEntry]:
    ledgered = for_model(type(row))
    return list(
        LedgerEntry.objects.filter(
            subject_type=ledgered.subject_type, subject_id=ledgered.subject_id(row)
        ).order_by("seq")
    )


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Visit,
            Vitals,
            Consultation,
            Diagnosis,
            Prescription,
            ClinicalOrder,
            Appointment,
            LedgerEntry,
        )
    }


def assert_sealed(row) -> None:
    """The row as the database holds it carries the hash of its state, and its newest
    ledger entry recorded that same state."""
    row = type(row)._base_manager.get(pk=row.pk)
    digest = state_hash(state_of(row))
    assert row.seal == digest
    assert entries(row)[-1].state_hash == digest


def refreshed(row):
    row.refresh_from_db()
    return row


def book(clerk, session, patient, *, day=MONDAY, at=NINE) -> Appointment:
    return appointments.appointment_book(
        actor=clerk, patient=patient, session=session, date=day, slot_time=at
    )


# -- check-in -------------------------------------------------------------------------


def test_walk_ins_get_tokens_one_two_three_per_clinic_and_day(clock_at, clerk, clinic, surgery):
    clock_at(2026, 11, 30, 8, 0)
    medicine = [factories.checked_in(clerk, clinic) for _ in range(3)]
    surgical = factories.checked_in(clerk, surgery)
    assert [v.token for v in medicine] == [1, 2, 3]
    assert surgical.token == 1
    for visit in [*medicine, surgical]:
        assert refreshed(visit).status == VisitStatus.WAITING
        assert (visit.date, visit.checked_in_by, visit.appointment) == (MONDAY, clerk, None)
        [entry] = entries(visit)
        assert entry.action == LedgerAction.CREATE
        assert entry.actor_id == clerk.pk
        assert entry.after["status"] == "waiting"
        assert entry.after["token"] == visit.token
        assert_sealed(visit)

    clock_at(2026, 12, 1, 8, 0)  # Tuesday: the counters start again
    tuesday = factories.checked_in(clerk, clinic)
    assert (tuesday.date, tuesday.token) == (dt.date(2026, 12, 1), 1)
    assert factories.checked_in(clerk, clinic).token == 2


def test_check_in_with_todays_appointment_marks_it_arrived(monday_morning, clerk, clinic):
    session = schedule.session(clinic)
    patient = PatientFactory(actor=clerk)
    appointment = book(clerk, session, patient)

    visit = services.visit_check_in(actor=clerk, patient=patient, appointment=appointment)

    assert (visit.token, visit.clinic, visit.status) == (1, clinic, VisitStatus.WAITING)
    assert refreshed(visit).appointment == appointment
    assert refreshed(appointment).status == AppointmentStatus.ARRIVED
    arrived = entries(appointment)[-1]
    assert arrived.action == LedgerAction.UPDATE
    assert (arrived.before["status"], arrived.after["status"]) == ("booked", "arrived")
    assert arrived.reason  # every update says why
    assert entries(visit)[0].after["appointment_id"] == appointment.pk


def test_another_patients_appointment_is_refused(monday_morning, clerk, clinic):
    session = schedule.session(clinic)
    owner = PatientFactory(actor=clerk)
    stranger = PatientFactory(actor=clerk, name="Kavita Joshi")
    appointment = book(clerk, session, owner)
    before = counts()
    with pytest.raises(ValidationFailed, match=f"{appointment.number} is not Kavita Joshi's"):
        services.visit_check_in(actor=clerk, patient=stranger, appointment=appointment)
    assert counts() == before
    assert refreshed(appointment).status == AppointmentStatus.BOOKED


def test_an_appointment_for_another_day_is_refused(monday_morning, clerk, clinic):
    session = schedule.session(clinic)
    patient = PatientFactory(actor=clerk)
    appointment = book(clerk, session, patient, day=NEXT_MONDAY)
    before = counts()
    with pytest.raises(ValidationFailed, match="is for 07-12-2026, not today"):
        services.visit_check_in(actor=clerk, patient=patient, appointment=appointment)
    assert counts() == before
    assert refreshed(appointment).status == AppointmentStatus.BOOKED


def test_a_patient_already_waiting_is_refused_naming_the_token(
    monday_morning, clerk, clinic, surgery
):
    factories.checked_in(clerk, clinic)
    patient = PatientFactory(actor=clerk, name="Mohan Das")
    waiting = factories.checked_in(clerk, clinic, patient)
    before = counts()
    with pytest.raises(Conflict) as refused:
        factories.checked_in(clerk, clinic, patient)
    assert refused.value.code == "already_queued"
    assert "Mohan Das is already in the Clinic MED-1 queue today (token 2)" in str(refused.value)
    assert counts() == before
    # Another clinic the same day is another queue; the refusal used up no token.
    assert factories.checked_in(clerk, surgery, patient).token == 1
    assert factories.checked_in(clerk, clinic).token == waiting.token + 1


def test_an_appointment_cannot_queue_a_patient_twice(monday_morning, clerk, clinic):
    session = schedule.session(clinic)
    patient = PatientFactory(actor=clerk)
    factories.checked_in(clerk, clinic, patient)  # came early as a walk-in
    appointment = book(clerk, session, patient)
    before = counts()
    with pytest.raises(Conflict, match=r"already in the Clinic MED-1 queue today \(token 1\)"):
        services.visit_check_in(actor=clerk, patient=patient, appointment=appointment)
    assert counts() == before
    assert refreshed(appointment).status == AppointmentStatus.BOOKED  # not half-arrived


def test_a_clinic_closed_all_day_refuses_walk_ins(monday_morning, clerk, admin, clinic):
    schedule.session(clinic, start="09:00", end="10:00")
    schedule.session(clinic, start="10:00", end="11:00")
    appointments.closure_create(
        actor=admin,
        kind="clinic",
        clinic=clinic,
        start_date=MONDAY,
        end_date=MONDAY,
        reason="pest control",
    )
    patient = PatientFactory(actor=clerk)
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        factories.checked_in(clerk, clinic, patient)
    assert refused.value.errors["clinic"] == ["Clinic MED-1 is closed today (pest control)."]
    assert counts() == before


def test_a_clinic_with_one_session_still_running_takes_walk_ins(
    monday_morning, clerk, admin, make_user, clinic
):
    on_leave = make_user(Role.DOCTOR)
    schedule.session(clinic, doctor=on_leave, start="09:00", end="10:00")
    schedule.session(clinic, start="10:00", end="11:00")
    appointments.closure_create(
        actor=admin,
        kind="leave",
        doctor=on_leave,
        start_date=MONDAY,
        end_date=MONDAY,
        reason="conference",
    )
    assert factories.checked_in(clerk, clinic).token == 1


def test_a_doctor_cannot_check_patients_in(monday_morning, clerk, doctor, clinic):
    patient = PatientFactory(actor=clerk)
    before = counts()
    with pytest.raises(PermissionRefused):
        services.visit_check_in(actor=doctor, patient=patient, clinic=clinic)
    assert counts() == before


# -- the doctor's queue ---------------------------------------------------------------


def test_call_next_takes_the_lowest_waiting_token(monday_morning, clerk, doctor, clinic):
    first, second, _ = (factories.checked_in(clerk, clinic) for _ in range(3))
    called = services.visit_call_next(actor=doctor, clinic=clinic)
    assert called.pk == first.pk
    first.refresh_from_db()
    assert first.status == VisitStatus.IN_CONSULTATION
    assert (first.called_by, first.called_at, first.calls) == (doctor, monday_morning, 1)
    assert refreshed(second).status == VisitStatus.WAITING
    entry = entries(first)[-1]
    assert entry.action == LedgerAction.UPDATE
    assert entry.actor_id == doctor.pk
    assert (entry.before["status"], entry.after["status"]) == ("waiting", "in_consultation")
    assert (entry.before["version"], entry.after["version"]) == (1, 2)
    assert entry.reason
    assert_sealed(first)


def test_a_token_called_twice_is_refused(clock_at, clerk, doctor, other_doctor, clinic):
    clock_at(2026, 11, 30, 8, 0)
    visit = factories.checked_in(clerk, clinic)
    services.visit_call(actor=doctor, visit=visit)
    clock_at(2026, 11, 30, 8, 5)
    before = counts()
    for caller in (other_doctor, doctor):
        with pytest.raises(Conflict) as refused:
            services.visit_call(actor=caller, visit=visit)
        assert refused.value.code == "already_called"
        assert str(refused.value) == "Token 1 is already called (by Dr. Asha Rao at 08:00)."
    assert counts() == before
    visit.refresh_from_db()
    assert (visit.called_by, visit.calls) == (doctor, 1)


def test_a_doctor_with_a_patient_inside_must_finish_first(
    monday_morning, clerk, doctor, other_doctor, clinic
):
    first, second = factories.checked_in(clerk, clinic), factories.checked_in(clerk, clinic)
    services.visit_call_next(actor=doctor, clinic=clinic)
    before = counts()
    with pytest.raises(Conflict) as refused:
        services.visit_call_next(actor=doctor, clinic=clinic)
    assert refused.value.code == "busy"
    assert str(refused.value) == "Finish, skip or transfer token 1 before calling another."
    with pytest.raises(Conflict, match="token 1 before calling another"):
        services.visit_call(actor=doctor, visit=second)
    assert counts() == before
    assert refreshed(second).status == VisitStatus.WAITING
    # The doctor in the next room is not held up.
    assert services.visit_call_next(actor=other_doctor, clinic=clinic).pk == second.pk
    assert refreshed(first).called_by == doctor


def test_a_skipped_token_is_passed_over_and_can_be_recalled(monday_morning, clerk, doctor, clinic):
    first, second = factories.checked_in(clerk, clinic), factories.checked_in(clerk, clinic)
    services.visit_call_next(actor=doctor, clinic=clinic)
    skipped = services.visit_skip(actor=doctor, visit=first)
    assert (skipped.status, skipped.skipped) == (VisitStatus.WAITING, True)
    entry = entries(first)[-1]
    assert (entry.before["status"], entry.after["status"]) == ("in_consultation", "waiting")
    assert (entry.before["skipped"], entry.after["skipped"]) == (False, True)
    assert entry.reason
    queue = selectors.queue(clinic)
    assert [v.token for v in queue.skipped] == [1]
    assert [v.token for v in queue.waiting] == [2]

    assert services.visit_call_next(actor=doctor, clinic=clinic).pk == second.pk
    factories.consult(doctor, second)
    with pytest.raises(Conflict, match="No one is waiting"):
        services.visit_call_next(actor=doctor, clinic=clinic)  # only the skipped one is left

    recalled = services.visit_call(actor=doctor, visit=first)
    assert (recalled.status, recalled.skipped, recalled.calls) == (
        VisitStatus.IN_CONSULTATION,
        False,
        2,
    )
    assert_sealed(first)


def test_only_a_skipped_token_can_be_marked_as_not_answering(monday_morning, clerk, doctor, clinic):
    visit = factories.checked_in(clerk, clinic)
    with pytest.raises(Conflict, match=r"Only a skipped token .* token 1 is waiting"):
        services.visit_mark_no_show(actor=doctor, visit=visit)
    services.visit_call(actor=doctor, visit=visit)
    with pytest.raises(Conflict, match="token 1 is in consultation"):
        services.visit_mark_no_show(actor=doctor, visit=visit)
    services.visit_skip(actor=doctor, visit=visit)

    gone = services.visit_mark_no_show(actor=doctor, visit=visit)

    assert (gone.status, gone.finished_at) == (VisitStatus.NO_SHOW, monday_morning)
    entry = entries(visit)[-1]
    assert entry.reason == "did not answer the call"
    assert (entry.before["status"], entry.after["status"]) == ("waiting", "no_show")
    with pytest.raises(Conflict, match="cannot be called"):
        services.visit_call(actor=doctor, visit=visit)


def test_an_empty_queue_says_so(monday_morning, doctor, clinic):
    with pytest.raises(Conflict) as refused:
        services.visit_call_next(actor=doctor, clinic=clinic)
    assert refused.value.code == "queue_empty"
    assert str(refused.value) == "No one is waiting in Clinic MED-1."


def test_only_a_called_token_can_be_skipped(monday_morning, clerk, doctor, clinic):
    visit = factories.checked_in(clerk, clinic)
    with pytest.raises(Conflict, match="Token 1 is not called, so it cannot be skipped"):
        services.visit_skip(actor=doctor, visit=visit)
    assert refreshed(visit).skipped is False


def test_transfer_refers_the_visit_and_queues_the_patient_in_the_other_clinic(
    monday_morning, clerk, doctor, clinic, surgery
):
    factories.checked_in(clerk, surgery)  # surgery already has token 1
    visit = factories.called(clerk, doctor, clinic)

    moved = services.visit_transfer(
        actor=doctor, visit=visit, to_clinic=surgery, reason="needs a surgical opinion"
    )

    visit.refresh_from_db()
    assert (visit.status, visit.finished_at) == (VisitStatus.REFERRED, monday_morning)
    referred = entries(visit)[-1]
    assert referred.reason == "needs a surgical opinion"
    assert (referred.before["status"], referred.after["status"]) == (
        "in_consultation",
        "referred",
    )
    moved.refresh_from_db()
    assert (moved.clinic, moved.token, moved.status) == (surgery, 2, VisitStatus.WAITING)
    assert (moved.patient, moved.transferred_from) == (visit.patient, visit)
    assert moved.note == "from MED-1: needs a surgical opinion"
    [created] = entries(moved)
    assert created.action == LedgerAction.CREATE
    assert created.after["transferred_from_id"] == visit.pk
    assert_sealed(visit)
    assert_sealed(moved)
    assert [v.token for v in selectors.queue(surgery).waiting] == [1, 2]


def test_transfer_to_the_same_clinic_or_without_a_reason_is_refused(
    monday_morning, clerk, doctor, clinic, surgery
):
    visit = factories.called(clerk, doctor, clinic)
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        services.visit_transfer(
            actor=doctor, visit=visit, to_clinic=clinic, reason="needs another look"
        )
    assert refused.value.errors == {"to_clinic": ["Choose another clinic."]}
    for reason in ("", "   ", "eye"):
        with pytest.raises(ValidationFailed) as refused:
            services.visit_transfer(actor=doctor, visit=visit, to_clinic=surgery, reason=reason)
        assert "Say why the patient is sent on" in refused.value.errors["reason"][0]
    assert counts() == before
    assert refreshed(visit).status == VisitStatus.IN_CONSULTATION


def test_transfer_to_a_clinic_the_patient_is_already_queued_in_writes_nothing(
    monday_morning, clerk, doctor, clinic, surgery
):
    patient = PatientFactory(actor=clerk)
    factories.checked_in(clerk, surgery, patient)
    visit = factories.called(clerk, doctor, clinic, patient)
    before = counts()
    with pytest.raises(Conflict, match=r"already in the Clinic SURG-1 queue today \(token 1\)"):
        services.visit_transfer(
            actor=doctor, visit=visit, to_clinic=surgery, reason="needs a surgical opinion"
        )
    assert counts() == before
    assert refreshed(visit).status == VisitStatus.IN_CONSULTATION  # not left referred


# -- vital signs ----------------------------------------------------------------------


def test_vitals_are_recorded_for_a_waiting_patient(monday_morning, clerk, nurse, clinic):
    visit = factories.checked_in(clerk, clinic)
    vitals = services.vitals_record(
        actor=nurse,
        visit=visit,
        temperature_c="37.8",
        pulse_per_min=88,
        respiratory_rate="18",
        systolic_mmhg=130,
        diastolic_mmhg=85,
        spo2_percent=97,
        height_cm="170",
    )
    vitals = Vitals.objects.get(pk=vitals.pk)
    assert vitals.visit == visit
    assert (vitals.recorded_by, vitals.recorded_at) == (nurse, monday_morning)
    assert vitals.temperature_c == Decimal("37.8")
    assert (vitals.pulse_per_min, vitals.respiratory_rate) == (88, 18)
    assert (vitals.systolic_mmhg, vitals.diastolic_mmhg, vitals.spo2_percent) == (130, 85, 97)
    assert vitals.weight_kg is None
    [entry] = entries(vitals)
    assert entry.action == LedgerAction.CREATE
    assert entry.actor_id == nurse.pk
    assert entry.after["temperature_c"] == "37.8"
    assert_sealed(vitals)
    assert refreshed(visit).status == VisitStatus.WAITING


def test_a_recorded_weight_keeps_its_seal(monday_morning, clerk, nurse, clinic):
    visit = factories.checked_in(clerk, clinic)
    vitals = services.vitals_record(actor=nurse, visit=visit, weight_kg="70.5", height_cm="170")
    assert Vitals.objects.get(pk=vitals.pk).bmi == Decimal("24.4")
    assert_sealed(vitals)
    assert verification.verify(use_checkpoint_dir=False).findings == []


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        (
            {"temperature_c": 400},
            "temperature_c",
            "Temperature 400 °C is outside 25 to 45 °C: check the reading and the unit.",
        ),
        ({"temperature_c": "24.9"}, "temperature_c", "Temperature 24.9 °C is outside 25 to 45"),
        ({"pulse_per_min": 300}, "pulse_per_min", "Pulse 300 /min is outside 20 to 250 /min"),
        ({"spo2_percent": 101}, "spo2_percent", "SpO₂ 101 % is outside 50 to 100 %"),
        ({"weight_kg": "7000"}, "weight_kg", "Weight 7000 kg is outside 0.3 to 350 kg"),
        ({"pulse_per_min": "72.5"}, "pulse_per_min", "Pulse is a whole number (/min)."),
        (
            {"systolic_mmhg": 80, "diastolic_mmhg": 120},
            "diastolic_mmhg",
            "Diastolic 120 must be lower than systolic 80.",
        ),
        (
            {"systolic_mmhg": 120, "diastolic_mmhg": 120},
            "diastolic_mmhg",
            "Diastolic 120 must be lower than systolic 120.",
        ),
        (
            {"systolic_mmhg": 120},
            "diastolic_mmhg",
            "Blood pressure needs both systolic and diastolic.",
        ),
        ({"pulse_per_min": "fast"}, "pulse_per_min", "Pulse must be a number, not 'fast'."),
        ({"temperature_c": "nan"}, "temperature_c", "Temperature nan °C is outside 25 to 45"),
        ({"temperature_c": "", "pulse_per_min": None}, "__all__", "Enter at least one reading."),
        ({"blood_sugar": 120}, "__all__", "Unknown vital sign 'blood_sugar'."),
    ],
)
def test_absurd_vitals_are_refused_and_nothing_is_written(
    monday_morning, clerk, nurse, clinic, values, field, message
):
    visit = factories.checked_in(clerk, clinic)
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        services.vitals_record(actor=nurse, visit=visit, **values)
    assert message in " ".join(refused.value.errors[field])
    assert counts() == before


def test_a_finished_visit_takes_no_vitals(clock_at, clerk, doctor, nurse, clinic):
    clock_at(2026, 11, 30, 8, 0)
    visit = factories.called(clerk, doctor, clinic)
    services.vitals_record(actor=nurse, visit=visit, pulse_per_min=80)  # while inside: fine
    factories.consult(doctor, visit)
    waiting = factories.checked_in(clerk, clinic)
    before = counts()
    with pytest.raises(Conflict, match="Token 1 is done: vitals are recorded while the patient"):
        services.vitals_record(actor=nurse, visit=visit, pulse_per_min=80)
    clock_at(2026, 12, 1, 8, 0)
    with pytest.raises(ValidationFailed, match="Token 2 was for 30-11-2026, not today"):
        services.vitals_record(actor=nurse, visit=waiting, pulse_per_min=80)
    assert counts() == before


def test_a_clerk_cannot_record_vitals(monday_morning, clerk, clinic):
    visit = factories.checked_in(clerk, clinic)
    with pytest.raises(PermissionRefused):
        services.vitals_record(actor=clerk, visit=visit, pulse_per_min=80)
    assert Vitals.objects.count() == 0


_TENTHS = st.integers(min_value=-10_000, max_value=10_000).map(lambda n: Decimal(n) / 10)


@given(_TENTHS)
def test_any_temperature_with_one_decimal_in_range_is_accepted_and_none_outside(value):
    if Decimal(25) <= value <= Decimal(45):
        for typed in (value, str(value)):
            assert clean_vitals({"temperature_c": typed}) == {"temperature_c": value}
    else:
        with pytest.raises(ValidationFailed) as refused:
            clean_vitals({"temperature_c": str(value)})
        [message] = refused.value.errors["temperature_c"]
        assert message.startswith(f"Temperature {value} °C is outside 25 to 45 °C")


# -- consultation ---------------------------------------------------------------------


def _consultation_rows(consultation):
    return [
        consultation,
        *consultation.diagnoses.all(),
        *consultation.prescriptions.all(),
        *consultation.orders.all(),
    ]


def test_a_consultation_writes_everything_each_row_sealed(monday_morning, clerk, doctor, clinic):
    visit = factories.called(clerk, doctor, clinic)
    before = counts()

    consultation = factories.consult(doctor, visit)

    consultation = selectors.consultation_for(visit)
    assert (consultation.doctor, consultation.completed_at) == (doctor, monday_morning)
    assert consultation.complaints == "Fever and cough for 3 days"
    assert [(d.position, d.icd10_code, d.description) for d in consultation.diagnoses.all()] == [
        (1, "J18.9", "Pneumonia, unspecified"),
        (2, "E11.9", "Type 2 diabetes mellitus without complications"),
    ]
    assert [
        (p.position, p.drug, p.dose, p.route, p.frequency, p.duration_days)
        for p in consultation.prescriptions.all()
    ] == [
        (1, "Paracetamol", "500 mg", "oral", "TDS", 5),
        (2, "Amoxicillin", "500 mg", "oral", "BD", 7),
    ]
    lab = list(consultation.orders.all())
    assert [(o.kind, o.test, o.status, o.reference) for o in lab] == [
        ("lab", "Complete blood count", OrderStatus.REQUESTED, ""),
        ("lab", "HbA1c", OrderStatus.REQUESTED, ""),
    ]
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {
        "Visit": 0,
        "Vitals": 0,
        "Consultation": 1,
        "Diagnosis": 2,
        "Prescription": 2,
        "ClinicalOrder": 2,
        "Appointment": 0,
        "LedgerEntry": 8,  # 7 rows created + the visit's update
    }
    for row in _consultation_rows(consultation):
        [entry] = entries(row)
        assert (entry.action, entry.actor_id) == (LedgerAction.CREATE, doctor.pk)
        assert_sealed(row)

    visit.refresh_from_db()
    assert (visit.status, visit.finished_at) == (VisitStatus.DONE, monday_morning)
    done = entries(visit)[-1]
    assert (done.before["status"], done.after["status"]) == ("in_consultation", "done")
    assert done.reason
    assert_sealed(visit)
    assert {o.pk for o in orders.pending()} == {o.pk for o in lab}
    assert list(orders.pending("other")) == []


def test_a_consultation_for_a_patient_not_called_is_refused(monday_morning, clerk, doctor, clinic):
    visit = factories.checked_in(clerk, clinic, PatientFactory(actor=clerk, name="Ravi Shankar"))
    before = counts()
    with pytest.raises(Conflict) as refused:
        factories.consult(doctor, visit)
    assert refused.value.code == "not_in_consultation"
    assert "Ravi Shankar is not in consultation in Clinic MED-1 (token 1 is waiting)" in str(
        refused.value
    )
    assert counts() == before
    assert refreshed(visit).status == VisitStatus.WAITING


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"diagnoses": ["J18.9", "X99.99"]},
            "diagnoses",
            "Unknown ICD-10 code 'X99.99': it is not in WHO ICD-10",
        ),
        ({"diagnoses": ["J18"]}, None, None),  # a category is a diagnosis: accepted
        ({"diagnoses": ["J09-J18"]}, "diagnoses", "a heading and not a diagnosis"),
        ({"diagnoses": ["J18.9", "j189"]}, "diagnoses", "J18.9 is entered twice."),
        ({"diagnoses": []}, "diagnoses", "Record at least one diagnosis"),
        (
            {
                "prescriptions": [
                    factories.paracetamol(),
                    factories.paracetamol(drug="Ibuprofen", route="by mouth", duration_days=0),
                ]
            },
            "prescriptions",
            "Drug 2 (Ibuprofen): unknown route 'by mouth'; duration is 1 to 365 days.",
        ),
        (
            {"prescriptions": [factories.paracetamol(frequency="thrice", dose=" ")]},
            "prescriptions",
            "Drug 1 (Paracetamol): give the dose (e.g. 500 mg); unknown frequency 'thrice'.",
        ),
        ({"order_lines": [OrderLine(test=" ")]}, "orders", "Order 1: name the test."),
        ({"order_lines": [OrderLine(test="MRI", kind="scan")]}, "orders", "unknown kind 'scan'"),
        ({"complaints": "  "}, "complaints", "Write the presenting complaints."),
        ({"admit_advised": True}, "admit_note", "Say why admission is advised"),
        ({"follow_up_on": MONDAY}, "follow_up_on", "A follow-up is on a later day."),
    ],
)
def test_a_bad_consultation_is_refused_and_nothing_is_written(
    monday_morning, clerk, doctor, clinic, overrides, field, message
):
    visit = factories.called(clerk, doctor, clinic)
    before = counts()
    if field is None:
        factories.consult(doctor, visit, **overrides)
        assert refreshed(visit).status == VisitStatus.DONE
        return
    with pytest.raises(ValidationFailed) as refused:
        factories.consult(doctor, visit, **overrides)
    assert message in " ".join(refused.value.errors[field])
    assert counts() == before
    assert refreshed(visit).status == VisitStatus.IN_CONSULTATION


def test_a_second_consultation_for_the_visit_is_refused(monday_morning, clerk, doctor, clinic):
    visit = factories.called(clerk, doctor, clinic)
    factories.consult(doctor, visit)
    before = counts()
    with pytest.raises(Conflict):
        factories.consult(doctor, visit, complaints="written again")
    assert counts() == before
    assert Consultation.objects.get(visit=visit).complaints == "Fever and cough for 3 days"


def test_a_nurse_cannot_write_a_consultation(monday_morning, clerk, doctor, nurse, clinic):
    visit = factories.called(clerk, doctor, clinic)
    with pytest.raises(PermissionRefused):
        factories.consult(nurse, visit)
    assert Consultation.objects.count() == 0


def test_admission_advice_is_listed_for_the_wards(monday_morning, clerk, doctor, clinic):
    plain = factories.called(clerk, doctor, clinic)
    factories.consult(doctor, plain)
    admit = factories.called(clerk, doctor, clinic)
    consultation = factories.consult(
        doctor, admit, admit_advised=True, admit_note="  medical ward, IV antibiotics "
    )
    assert consultation.admit_note == "medical ward, IV antibiotics"
    assert list(selectors.admission_advices()) == [consultation]
    assert list(selectors.admission_advices(since=MONDAY)) == [consultation]
    assert list(selectors.admission_advices(since=NEXT_MONDAY)) == []


def test_an_order_with_a_department_to_take_it_is_placed(
    monday_morning, clerk, doctor, clinic, lab_handler
):
    visit = factories.called(clerk, doctor, clinic)
    consultation = factories.consult(doctor, visit)
    placed = list(consultation.orders.all())
    assert [(o.status, o.reference) for o in placed] == [
        (OrderStatus.PLACED, "LAB-0001"),
        (OrderStatus.PLACED, "LAB-0002"),
    ]
    assert lab_handler == [("Complete blood count", "dr-asha"), ("HbA1c", "dr-asha")]
    assert entries(placed[0])[0].after["reference"] == "LAB-0001"
    for order in placed:
        assert_sealed(order)
    assert list(orders.pending()) == []


def test_a_department_refusing_an_order_undoes_the_whole_consultation(
    monday_morning, clerk, doctor, clinic
):
    def refuse(*, order, actor):
        raise ValidationFailed({"test": [f"The laboratory does not do {order.test}."]})

    visit = factories.called(clerk, doctor, clinic)
    before = counts()
    orders.register("lab", refuse)
    try:
        with pytest.raises(ValidationFailed, match="does not do Complete blood count"):
            factories.consult(doctor, visit)
    finally:
        orders.unregister("lab")
    assert counts() == before
    assert refreshed(visit).status == VisitStatus.IN_CONSULTATION


# -- follow-up ------------------------------------------------------------------------


def test_the_doctor_books_the_follow_up_in_the_same_clinic(monday_morning, clerk, doctor, clinic):
    session = schedule.session(clinic)
    visit = factories.called(clerk, doctor, clinic)
    consultation = factories.consult(doctor, visit, follow_up_on=NEXT_MONDAY)

    appointment = services.follow_up_book(
        actor=doctor,
        consultation=consultation,
        session=session,
        date=NEXT_MONDAY,
        slot_time=dt.time(9, 30),
    )

    appointment.refresh_from_db()
    assert (appointment.patient, appointment.clinic) == (visit.patient, clinic)
    assert (appointment.date, appointment.slot_time) == (NEXT_MONDAY, dt.time(9, 30))
    assert appointment.channel == BookingChannel.FOLLOW_UP
    assert (appointment.booked_by, appointment.status) == (doctor, AppointmentStatus.BOOKED)
    assert appointment.note == "follow-up of token 1 on 30-11-2026"
    [entry] = entries(appointment)
    assert (entry.action, entry.actor_id) == (LedgerAction.CREATE, doctor.pk)


def test_a_follow_up_in_another_clinic_is_refused(monday_morning, clerk, doctor, clinic, surgery):
    elsewhere = schedule.session(surgery)
    visit = factories.called(clerk, doctor, clinic)
    consultation = factories.consult(doctor, visit)
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        services.follow_up_book(
            actor=doctor,
            consultation=consultation,
            session=elsewhere,
            date=NEXT_MONDAY,
            slot_time=NINE,
        )
    assert refused.value.errors == {"session": ["A follow-up is booked in the same clinic."]}
    assert counts() == before


# -- the waiting-hall display ---------------------------------------------------------


def test_the_display_shows_tokens_and_rooms_never_names(
    monday_morning, clerk, doctor, clinic, surgery
):
    names = ["Meera Iyer", "Arjun Nair", "Fatima Sheikh", "Gurpreet Singh", "Anil Kapoor"]
    patients = [PatientFactory(actor=clerk, name=name) for name in names]
    visits = [factories.checked_in(clerk, clinic, p) for p in patients[:4]]
    factories.checked_in(clerk, surgery, patients[4])
    services.visit_call_next(actor=doctor, clinic=clinic)
    services.visit_skip(actor=doctor, visit=visits[0])  # token 1 set aside
    services.visit_call_next(actor=doctor, clinic=clinic)  # token 2 called in

    [row] = selectors.display(["med-1"])

    assert (row.clinic_code, row.clinic_name, row.room) == ("MED-1", "Clinic MED-1", "12")
    assert row.now_calling == [2]
    assert row.next_tokens == [3, 4]
    assert row.waiting == 2
    rows = selectors.display([])
    assert [(r.clinic_code, r.room, r.now_calling, r.next_tokens) for r in rows] == [
        ("MED-1", "12", [2], [3, 4]),
        ("SURG-1", "7", [], [1]),
    ]
    shown = repr(rows)
    for patient in patients:
        assert patient.name not in shown
        assert patient.uhid not in shown


def test_the_display_shows_at_most_five_next_tokens(monday_morning, clerk, clinic):
    for _ in range(7):
        factories.checked_in(clerk, clinic)
    [row] = selectors.display(["MED-1"])
    assert (row.now_calling, row.next_tokens, row.waiting) == ([], [1, 2, 3, 4, 5], 7)


def test_an_overlong_test_or_drug_name_is_refused_before_anything_is_written(
    monday_morning, clerk, doctor, clinic
):
    visit = factories.called(clerk, doctor, clinic)
    with pytest.raises(ValidationFailed) as info:
        factories.consult(
            doctor,
            visit,
            order_lines=[OrderLine(test="Complete blood count " * 10)],
            prescriptions=[factories.paracetamol(drug="Paracetamol " * 12)],
        )
    assert "at most 120 characters" in " ".join(info.value.errors["orders"])
    assert "longer than 120 characters" in " ".join(info.value.errors["prescriptions"])
    assert Consultation.objects.count() == 0
