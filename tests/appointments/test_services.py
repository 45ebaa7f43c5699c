"""Schedules, closures and bookings through the services: what they allow and refuse."""

from __future__ import annotations

import datetime as dt

import pytest

from ajeya.appointments import selectors, services
from ajeya.appointments.models import Appointment, AppointmentStatus, BookingChannel
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.ledger.models import LedgerAction, LedgerEntry
from tests.appointments import factories
from tests.patients.factories import PatientFactory

MONDAY = dt.date(2026, 11, 30)
NINE = dt.time(9, 0)


@pytest.fixture
def session(clinic):
    return factories.session(clinic)  # Mondays 09:00-10:00, 15-minute slots of 2


def book(clerk, session, patient=None, *, day=MONDAY, at=NINE, **kw):
    return services.appointment_book(
        actor=clerk,
        patient=patient or PatientFactory(actor=clerk),
        session=session,
        date=day,
        slot_time=at,
        **kw,
    )


# -- templates ------------------------------------------------------------------------


def test_a_session_has_slots_and_capacity(session):
    assert session.slot_times() == [dt.time(9, 0), dt.time(9, 15), dt.time(9, 30), dt.time(9, 45)]
    assert session.capacity == 8
    entry = LedgerEntry.objects.filter(subject_type="appointments.session").get()
    assert entry.action == LedgerAction.CREATE


@pytest.mark.parametrize(
    ("start", "end", "weekday", "doctor_same", "overlaps"),
    [
        ("09:30", "11:00", 0, True, True),  # same clinic, same day, overlapping hours
        ("10:00", "11:00", 0, True, False),  # starts as the other ends
        ("09:30", "11:00", 1, True, False),  # another weekday
    ],
)
def test_overlapping_templates_are_refused(
    clinic, session, start, end, weekday, doctor_same, overlaps
):
    call = lambda: factories.session(clinic, start=start, end=end, weekday=weekday)  # noqa: E731
    if overlaps:
        with pytest.raises(ValidationFailed, match="Overlaps the existing session MED-1 Monday"):
            call()
    else:
        call()


def test_a_doctor_cannot_sit_in_two_clinics_at_once(make_user, clinic):
    doctor = make_user(Role.DOCTOR, full_name="Dr. Two Places")
    factories.session(clinic, doctor=doctor)
    other = factories.clinic("SURG-1", dept="SURG")
    with pytest.raises(ValidationFailed, match="Overlaps the existing session MED-1"):
        factories.session(other, doctor=doctor, start="09:45", end="11:00")


def test_validity_ranges_that_do_not_meet_do_not_overlap(clinic):
    factories.session(clinic, valid_until=dt.date(2026, 6, 30))
    factories.session(clinic, valid_from=dt.date(2026, 7, 1))


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"per_slot": 0}, "per_slot", "at least 1 patient per slot, not 0"),
        ({"per_slot": -3}, "per_slot", "not -3"),
        ({"start": "10:00", "end": "09:00"}, "end_time", "must end after it starts"),
        ({"slot_minutes": 2}, "slot_minutes", "5 to 240 minutes"),
        (
            {"start": "09:00", "end": "09:10", "slot_minutes": 15},
            "slot_minutes",
            "shorter than one slot",
        ),
        ({"weekday": 9}, "weekday", "day of the week"),
    ],
)
def test_bad_templates_are_refused_and_nothing_is_written(clinic, kwargs, field, message):
    before = LedgerEntry.objects.count()
    with pytest.raises(ValidationFailed) as info:
        factories.session(clinic, **kwargs)
    assert message in " ".join(info.value.errors[field])
    assert LedgerEntry.objects.count() == before


def test_only_a_doctor_can_hold_a_session(clinic, clerk):
    with pytest.raises(ValidationFailed, match="is not a doctor"):
        factories.session(clinic, doctor=clerk)


def test_staff_without_the_permission_cannot_make_schedules(clinic, clerk):
    with pytest.raises(PermissionRefused):
        services.session_create(
            actor=clerk,
            clinic=clinic,
            weekday=0,
            start_time=NINE,
            end_time=dt.time(10),
            slot_minutes=15,
            per_slot=2,
            valid_from=MONDAY,
        )


# -- booking --------------------------------------------------------------------------


def test_booking_takes_a_seat_and_is_ledgered(monday_morning, clerk, session):
    appointment = book(clerk, session)
    assert appointment.number.startswith("A")
    assert appointment.seat == 1
    assert appointment.status == AppointmentStatus.BOOKED
    entry = LedgerEntry.objects.get(subject_type="appointments.appointment")
    assert entry.subject_id == appointment.number
    assert entry.actor_id == clerk.pk
    slot = selectors.clinic_day(session.clinic, MONDAY)[0].slots[0]
    assert (slot.capacity, slot.booked, slot.free) == (2, 1, 1)


def test_capacity_is_never_exceeded(monday_morning, clerk, session):
    book(clerk, session)
    book(clerk, session)
    with pytest.raises(Conflict, match="09:00 slot on 30-11-2026 is full"):
        book(clerk, session)
    assert Appointment.objects.count() == 2


def test_a_cancelled_booking_frees_its_seat(monday_morning, clerk, session):
    first = book(clerk, session)
    book(clerk, session)
    services.appointment_cancel(actor=clerk, appointment=first, reason="patient phoned to cancel")
    third = book(clerk, session)
    assert third.seat == first.seat
    cancel = LedgerEntry.objects.filter(action=LedgerAction.CANCEL).get()
    assert cancel.data["reason"] == "patient phoned to cancel"


def test_cancelling_needs_a_reason(monday_morning, clerk, session):
    appointment = book(clerk, session)
    with pytest.raises(ValidationFailed, match="Say why the appointment is cancelled"):
        services.appointment_cancel(actor=clerk, appointment=appointment, reason=" ")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_no_booking_in_the_past(clock_at, clerk, session):
    clock_at(2026, 11, 30, 9, 20)
    with pytest.raises(ValidationFailed, match="in the past"):
        book(clerk, session, at=NINE)
    book(clerk, session, at=dt.time(9, 30))  # a later slot of the same morning is fine
    with pytest.raises(ValidationFailed, match="in the past"):
        book(clerk, session, day=MONDAY - dt.timedelta(days=7))


def test_no_booking_on_a_day_without_that_session(monday_morning, clerk, session):
    with pytest.raises(ValidationFailed, match="has no such session on 01-12-2026"):
        book(clerk, session, day=dt.date(2026, 12, 1))
    with pytest.raises(ValidationFailed, match="10:05 is not a slot"):
        book(clerk, session, at=dt.time(10, 5))


def test_a_holiday_blocks_booking_and_lists_what_it_affects(
    monday_morning, clerk, make_user, session
):
    admin = make_user(Role.HOSPITAL_ADMIN)
    booked = book(clerk, session, day=MONDAY + dt.timedelta(days=7))
    closure, affected = services.closure_create(
        actor=admin,
        kind="holiday",
        start_date=MONDAY + dt.timedelta(days=7),
        end_date=MONDAY + dt.timedelta(days=7),
        reason="Guru Nanak Jayanti",
    )
    assert [a.number for a in affected] == [booked.number]
    with pytest.raises(ValidationFailed, match=r"hospital holiday \(Guru Nanak Jayanti\)"):
        book(clerk, session, day=MONDAY + dt.timedelta(days=7), at=dt.time(9, 15))
    day = selectors.clinic_day(session.clinic, MONDAY + dt.timedelta(days=7))[0]
    assert day.closure == closure
    assert day.slots == []


def test_a_doctors_leave_blocks_only_that_doctors_sessions(
    monday_morning, clerk, make_user, clinic
):
    doctor = make_user(Role.DOCTOR)
    admin = make_user(Role.HOSPITAL_ADMIN)
    theirs = factories.session(clinic, doctor=doctor)
    others = factories.session(clinic, start="10:00", end="11:00")
    services.closure_create(
        actor=admin,
        kind="leave",
        doctor=doctor,
        start_date=MONDAY,
        end_date=MONDAY,
        reason="conference",
    )
    with pytest.raises(ValidationFailed, match="doctor on leave"):
        book(clerk, theirs)
    book(clerk, others, at=dt.time(10, 0))


def test_closure_input_is_checked(make_user, clinic):
    admin = make_user(Role.HOSPITAL_ADMIN)
    with pytest.raises(ValidationFailed) as info:
        services.closure_create(
            actor=admin,
            kind="leave",
            start_date=MONDAY,
            end_date=MONDAY - dt.timedelta(days=1),
            reason="",
        )
    assert set(info.value.errors) == {"end_date", "doctor", "reason"}


def test_one_active_booking_per_patient_clinic_and_day(monday_morning, clerk, session):
    patient = PatientFactory(actor=clerk)
    first = book(clerk, session, patient)
    with pytest.raises(Conflict, match=f"already has appointment {first.number}"):
        book(clerk, session, patient, at=dt.time(9, 30))


def test_reschedule_moves_the_booking_and_keeps_the_before(monday_morning, clerk, session):
    appointment = book(clerk, session)
    moved = services.appointment_reschedule(
        actor=clerk,
        appointment=appointment,
        session=session,
        date=MONDAY + dt.timedelta(days=7),
        slot_time=dt.time(9, 45),
        reason="patient asked for next week",
    )
    assert (moved.date, moved.slot_time, moved.version) == (
        MONDAY + dt.timedelta(days=7),
        dt.time(9, 45),
        2,
    )
    entry = LedgerEntry.objects.filter(subject_id=appointment.number).order_by("-seq").first()
    assert entry.before["date"] == "2026-11-30"
    assert entry.after["date"] == "2026-12-07"


def test_no_show_only_after_the_slot(clock_at, clerk, session):
    clock_at(2026, 11, 30, 8, 0)
    appointment = book(clerk, session)
    with pytest.raises(ValidationFailed, match="has not passed yet"):
        services.appointment_mark_no_show(actor=clerk, appointment=appointment)
    clock_at(2026, 11, 30, 13, 0)
    done = services.appointment_mark_no_show(actor=clerk, appointment=appointment)
    assert done.status == AppointmentStatus.NO_SHOW
    with pytest.raises(Conflict, match="already did not come"):
        services.appointment_cancel(actor=clerk, appointment=done, reason="too late now")


def test_a_doctor_cannot_book_at_the_counter(monday_morning, make_user, clerk, session):
    doctor = make_user(Role.DOCTOR)
    with pytest.raises(PermissionRefused):
        book(doctor, session, PatientFactory(actor=clerk))


# -- self-booking ---------------------------------------------------------------------


@pytest.fixture
def outbox(settings):
    from ajeya.core import messaging

    settings.AJEYA_MESSAGE_BACKEND = "memory"
    messaging.outbox.clear()
    return messaging.outbox


def _code(outbox) -> str:
    return outbox[-1][1].split()[0]


def test_a_patient_books_online_with_a_code_sent_to_their_phone(
    monday_morning, outbox, clerk, session
):
    patient = PatientFactory(actor=clerk, phone="9811122233")
    verification = services.otp_send(phone="98111 22233", ip="203.0.113.9")
    assert outbox[-1][0] == "9811122233"
    assert len(_code(outbox)) == 6
    services.otp_verify(verification_id=verification.pk, code=_code(outbox))
    verification.refresh_from_db()
    appointment = services.appointment_book(
        actor=None,
        patient=patient,
        session=session,
        date=MONDAY,
        slot_time=NINE,
        channel=BookingChannel.ONLINE,
        verification=verification,
    )
    assert appointment.booked_by is None
    assert appointment.channel == BookingChannel.ONLINE
    entry = LedgerEntry.objects.get(subject_id=appointment.number)
    assert entry.actor_id is None
    assert entry.after["contact_phone"] == "9811122233"


def test_wrong_codes_count_and_run_out(outbox, clerk):
    PatientFactory(actor=clerk, phone="9811122233")
    verification = services.otp_send(phone="9811122233")
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(ValidationFailed, match=f"not right \\({left} tries left\\)"):
            services.otp_verify(
                verification_id=verification.pk,
                code="000000" if _code(outbox) != "000000" else "111111",
            )
    with pytest.raises(ValidationFailed, match="Too many wrong tries"):
        services.otp_verify(verification_id=verification.pk, code=_code(outbox))


def test_codes_expire_and_are_spent_once(clock_at, outbox, clerk):
    clock_at(2026, 11, 30, 8, 0)
    PatientFactory(actor=clerk, phone="9811122233")
    verification = services.otp_send(phone="9811122233")
    code = _code(outbox)
    clock_at(2026, 11, 30, 8, 11)
    with pytest.raises(ValidationFailed, match="expired"):
        services.otp_verify(verification_id=verification.pk, code=code)
    fresh = services.otp_send(phone="9811122233")
    services.otp_verify(verification_id=fresh.pk, code=_code(outbox))
    with pytest.raises(ValidationFailed, match="no longer valid"):
        services.otp_verify(verification_id=fresh.pk, code=_code(outbox))


def test_codes_are_rate_limited_per_phone(outbox, clerk):
    PatientFactory(actor=clerk, phone="9811122233")
    for _ in range(3):
        services.otp_send(phone="9811122233")
    with pytest.raises(Conflict, match="Too many codes"):
        services.otp_send(phone="9811122233")
    assert len(outbox) == 3


def test_an_unknown_phone_gets_the_same_answer_but_no_message(outbox, db):
    services.otp_send(phone="9899999999")
    assert outbox == []


def test_a_bad_phone_number_is_named(db):
    with pytest.raises(ValidationFailed, match="10-digit mobile number"):
        services.otp_send(phone="12345")


def test_online_booking_is_only_for_the_verified_phones_patients(clock_at, outbox, clerk, session):
    clock_at(2026, 11, 30, 8, 0)
    patient = PatientFactory(actor=clerk, phone="9811122233")
    PatientFactory(actor=clerk, phone="9800000000")
    other = services.otp_send(phone="9800000000")
    services.otp_verify(verification_id=other.pk, code=_code(outbox))
    other.refresh_from_db()
    book = lambda **kw: services.appointment_book(  # noqa: E731
        actor=None, patient=patient, session=session, date=MONDAY, slot_time=NINE, **kw
    )
    with pytest.raises(PermissionRefused, match="not registered with this phone"):
        book(channel=BookingChannel.ONLINE, verification=other)
    with pytest.raises(PermissionRefused, match="verified in the last few minutes"):
        book()
    unverified = services.otp_send(phone="9811122233")
    with pytest.raises(PermissionRefused, match="verified in the last few minutes"):
        book(channel=BookingChannel.ONLINE, verification=unverified)
    clock_at(2026, 11, 30, 8, 16)  # the entered code no longer lets the phone book
    with pytest.raises(PermissionRefused, match="verified in the last few minutes"):
        book(channel=BookingChannel.ONLINE, verification=other)
    assert Appointment.objects.count() == 0


def test_one_phone_holds_a_limited_number_of_online_bookings(clock_at, outbox, make_user):
    clock_at(2026, 11, 30, 8, 0)
    clerk = make_user(username="limit-clerk")
    session = factories.session(factories.clinic(), per_slot=20, end="12:00")
    family = [PatientFactory(actor=clerk, phone="9811122233") for _ in range(7)]
    verification = services.otp_send(phone="9811122233")
    services.otp_verify(verification_id=verification.pk, code=_code(outbox))
    verification.refresh_from_db()
    for patient in family[: services.ONLINE_BOOKINGS_PER_PHONE]:
        services.appointment_book(
            actor=None,
            patient=patient,
            session=session,
            date=MONDAY,
            slot_time=NINE,
            channel=BookingChannel.ONLINE,
            verification=verification,
        )
    with pytest.raises(Conflict, match="already holds 6 online bookings"):
        services.appointment_book(
            actor=None,
            patient=family[-1],
            session=session,
            date=MONDAY,
            slot_time=NINE,
            channel=BookingChannel.ONLINE,
            verification=verification,
        )


def test_codes_are_rate_limited_per_address(settings, outbox, clerk):
    settings.AJEYA_OTP_PER_IP_PER_HOUR = 2
    for n in range(2):
        services.otp_send(phone=f"981112223{n}", ip="203.0.113.50")
    with pytest.raises(Conflict, match="from this network"):
        services.otp_send(phone="9811122239", ip="203.0.113.50")
    services.otp_send(phone="9811122239", ip="203.0.113.51")


def test_a_phone_typed_with_the_country_code_gets_its_code(outbox, clerk):
    PatientFactory(actor=clerk, phone="9811122233")
    services.otp_send(phone="+91 98111 22233")
    assert outbox[-1][0] == "9811122233"


def test_an_empty_phone_is_refused(db):
    with pytest.raises(ValidationFailed, match="10-digit mobile number"):
        services.otp_send(phone="   ")


def test_the_console_backend_masks_the_number(caplog):
    from ajeya.core import messaging

    messaging.ConsoleBackend().send("9811122233", "123456 is your code")
    assert "98******33: 123456 is your code" in caplog.text
    assert "9811122233" not in caplog.text
