"""Every write to clinics, sessions, closures and appointments, each on the ledger.

Capacity is kept twice: the booking locks its session template row and counts (so
two clerks taking the last seat are served one after the other), and the database
refuses a second active booking on the same seat of a slot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from ajeya.appointments import selectors
from ajeya.appointments.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    BookingChannel,
    Clinic,
    ClinicSession,
    Closure,
    ClosureKind,
    PhoneVerification,
)
from ajeya.core import clock, identifiers, messaging
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.models import Department
from ajeya.core.roles import Perm, Role, require_perm
from ajeya.core.validation import require_reason
from ajeya.ledger import services as ledger
from ajeya.ledger.models import LedgerAction
from ajeya.ledger.registry import state_of
from ajeya.patients.models import Patient
from ajeya.patients.validators import normalise_phone, validate_phone

APPOINTMENT_SEQUENCE = "appointment"
OTP_MAX_ATTEMPTS = 5
SELF_BOOKING_MINUTES = 15  # how long an entered code lets its phone book
ONLINE_BOOKINGS_PER_PHONE = 6  # active online bookings one phone may hold


# -- clinics and sessions -------------------------------------------------------------


def clinic_create(*, actor, code: str, name: str, department: Department, room: str) -> Clinic:
    """Open an OPD clinic (a unit of a department, in one room)."""
    if actor is not None:
        require_perm(actor, Perm.SCHEDULE_MANAGE)
    code, name, room = code.strip().upper(), " ".join(name.split()), room.strip()
    errors = {}
    if not code or len(code) > 16 or not code.replace("-", "").isalnum():
        errors["code"] = ["A clinic code is 1-16 letters, digits or hyphens (e.g. MED-1)."]
    if not name:
        errors["name"] = ["Give the clinic a name."]
    if not room:
        errors["room"] = ["Say which room the clinic sits in: the queue display shows it."]
    if errors:
        raise ValidationFailed(errors)
    try:
        with transaction.atomic():
            clinic = Clinic(code=code, name=name, department=department, room=room)
            ledger.create_sealed(clinic, actor=actor)
    except IntegrityError:
        raise ValidationFailed({"code": [f"A clinic with code {code} exists."]}) from None
    return clinic


def _session_problems(
    *, start: dt.time, end: dt.time, slot_minutes: int, per_slot: int, weekday: int
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if weekday not in range(7):
        errors["weekday"] = ["Choose a day of the week."]
    if end <= start:
        errors["end_time"] = ["The session must end after it starts."]
    if not 5 <= slot_minutes <= 240:
        errors["slot_minutes"] = ["A slot is 5 to 240 minutes long."]
    elif end > start:
        length = dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)
        if length < dt.timedelta(minutes=slot_minutes):
            errors["slot_minutes"] = ["The session is shorter than one slot."]
    if per_slot < 1:
        errors["per_slot"] = [f"Capacity must be at least 1 patient per slot, not {per_slot}."]
    elif per_slot > 200:
        errors["per_slot"] = ["More than 200 patients in one slot is not a schedule."]
    return errors


def session_create(
    *,
    actor,
    clinic: Clinic,
    weekday: int,
    start_time: dt.time,
    end_time: dt.time,
    slot_minutes: int,
    per_slot: int,
    valid_from: dt.date,
    valid_until: dt.date | None = None,
    doctor=None,
) -> ClinicSession:
    """Add a weekly session template. Refused if it overlaps another session of the same
    clinic and doctor, or the same doctor's session in another clinic."""
    if actor is not None:
        require_perm(actor, Perm.SCHEDULE_MANAGE)
    errors = _session_problems(
        start=start_time,
        end=end_time,
        slot_minutes=slot_minutes,
        per_slot=per_slot,
        weekday=weekday,
    )
    if valid_until is not None and valid_until < valid_from:
        errors["valid_until"] = ["The template cannot end before it starts."]
    if doctor is not None and doctor.role != Role.DOCTOR:
        errors["doctor"] = [f"{doctor.full_name or doctor.username} is not a doctor."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        locked(Clinic.objects).get(pk=clinic.pk)  # one template change at a time
        clash = selectors.overlapping_session(
            clinic=clinic,
            doctor=doctor,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        if clash is not None:
            raise ValidationFailed(
                {
                    "start_time": [
                        f"Overlaps the existing session {clash} "
                        f"({selectors.describe_validity(clash)})."
                    ]
                },
                code="overlap",
            )
        session = ClinicSession(
            clinic=clinic,
            doctor=doctor,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            slot_minutes=slot_minutes,
            per_slot=per_slot,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        ledger.create_sealed(session, actor=actor)
    return session


def session_end(*, actor, session: ClinicSession, last_day: dt.date, reason: str) -> list:
    """Stop a template after `last_day`. Returns the active bookings after that day, which
    the clerks must move (they are not cancelled silently)."""
    require_perm(actor, Perm.SCHEDULE_MANAGE)
    reason = require_reason(reason, why="Say why the session ends")
    with transaction.atomic():
        current = locked(ClinicSession.objects).get(pk=session.pk)
        if last_day < current.valid_from - dt.timedelta(days=1):
            raise ValidationFailed({"valid_until": ["That is before the session started."]})
        before = state_of(current)
        current.valid_until = last_day
        ledger.save_sealed(current, actor=actor, before=before, reason=reason)
    return list(
        Appointment.objects.filter(
            session=current, date__gt=last_day, status__in=ACTIVE_STATUSES
        ).select_related("patient", "clinic")
    )


def closure_create(
    *,
    actor,
    kind: str,
    start_date: dt.date,
    end_date: dt.date,
    reason: str,
    clinic: Clinic | None = None,
    doctor=None,
) -> tuple[Closure, list[Appointment]]:
    """Block days (holiday, clinic closed, doctor's leave). Returns the closure and the
    active bookings it affects, for the clerks to move or cancel with the patients."""
    if actor is not None:
        require_perm(actor, Perm.SCHEDULE_MANAGE)
    errors: dict[str, list[str]] = {}
    if kind not in ClosureKind.values:
        errors["kind"] = [f"Unknown kind of closure {kind!r}."]
    if end_date < start_date:
        errors["end_date"] = ["The last day cannot be before the first."]
    if kind == ClosureKind.CLINIC and clinic is None:
        errors["clinic"] = ["Choose the clinic that is closed."]
    if kind == ClosureKind.LEAVE and doctor is None:
        errors["doctor"] = ["Choose the doctor who is on leave."]
    if doctor is not None and doctor.role != Role.DOCTOR:
        errors["doctor"] = [f"{doctor.full_name or doctor.username} is not a doctor."]
    if not " ".join((reason or "").split()):
        errors["reason"] = ["Say why (it is shown to the clerks who move the bookings)."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        closure = Closure(
            kind=kind,
            clinic=clinic if kind == ClosureKind.CLINIC else None,
            doctor=doctor if kind == ClosureKind.LEAVE else None,
            start_date=start_date,
            end_date=end_date,
            reason=" ".join(reason.split()),
            created_at=clock.now(),
            created_by=actor,
        )
        ledger.create_sealed(closure, actor=actor)
    return closure, list(selectors.bookings_affected_by(closure))


# -- bookings -------------------------------------------------------------------------


def _bookable(session: ClinicSession, day: dt.date, slot_time: dt.time) -> None:
    """Refuse a day or slot that cannot be booked, naming why."""
    now = clock.local(clock.now())
    if not session.runs_on(day):
        raise ValidationFailed(
            {"date": [f"{session.clinic.name} has no such session on {day:%d-%m-%Y}."]}
        )
    if slot_time not in session.slot_times():
        raise ValidationFailed({"slot_time": [f"{slot_time:%H:%M} is not a slot of {session}."]})
    if day < now.date() or (day == now.date() and slot_time < now.time()):
        raise ValidationFailed({"date": ["That slot is in the past."]})
    if day > now.date() + dt.timedelta(days=settings.AJEYA_BOOKING_DAYS_AHEAD):
        raise ValidationFailed(
            {"date": [f"Bookings open {settings.AJEYA_BOOKING_DAYS_AHEAD} days ahead."]}
        )
    closure = selectors.closure_on(session, day)
    if closure is not None:
        raise ValidationFailed(
            {
                "date": [
                    f"No bookings on {day:%d-%m-%Y}: {closure.get_kind_display().lower()} "
                    f"({closure.reason})."
                ]
            },
            code="closed",
        )


def _take_seat(session: ClinicSession, day: dt.date, slot_time: dt.time) -> int:
    """Under the session's row lock: the lowest free seat of the slot, or a refusal."""
    locked(ClinicSession.objects).get(pk=session.pk)
    taken = set(
        Appointment.objects.filter(
            session=session, date=day, slot_time=slot_time, status__in=ACTIVE_STATUSES
        ).values_list("seat", flat=True)
    )
    free = [seat for seat in range(1, session.per_slot + 1) if seat not in taken]
    if not free:
        raise Conflict(
            f"The {slot_time:%H:%M} slot on {day:%d-%m-%Y} is full. Choose another slot.",
            code="slot_full",
        )
    return free[0]


def _already_booked(patient: Patient, clinic: Clinic, day: dt.date, exclude=None) -> None:
    existing = Appointment.objects.filter(
        patient=patient, clinic=clinic, date=day, status__in=ACTIVE_STATUSES
    )
    if exclude is not None:
        existing = existing.exclude(pk=exclude.pk)
    if (found := existing.first()) is not None:
        raise Conflict(
            f"{patient.name} already has appointment {found.number} in {clinic.name} "
            f"on {day:%d-%m-%Y} at {found.slot_time:%H:%M}.",
            code="already_booked",
        )


def appointment_book(
    *,
    actor,
    patient: Patient,
    session: ClinicSession,
    date: dt.date,
    slot_time: dt.time,
    channel: str = BookingChannel.COUNTER,
    verification: PhoneVerification | None = None,
    note: str = "",
) -> Appointment:
    """Book a slot. Staff book with APPOINTMENT_BOOK (doctors book follow-ups with
    CONSULT); `actor=None` is a patient booking online with a `verification` whose code
    was entered in the last SELF_BOOKING_MINUTES, for a patient registered with that
    phone, within ONLINE_BOOKINGS_PER_PHONE active online bookings."""
    contact_phone = ""
    if actor is None:
        contact_phone = _verified_phone(verification, channel)
        if patient.phone != contact_phone:
            raise PermissionRefused("That patient is not registered with this phone number.")
        active = Appointment.objects.filter(
            contact_phone=contact_phone,
            channel=BookingChannel.ONLINE,
            status=AppointmentStatus.BOOKED,
            date__gte=clock.today(),
        ).count()
        if active >= ONLINE_BOOKINGS_PER_PHONE:
            raise Conflict(
                f"This number already holds {active} online bookings: book more at the "
                "registration counter.",
                code="online_limit",
            )
    elif channel == BookingChannel.FOLLOW_UP:
        require_perm(actor, Perm.CONSULT)
    else:
        require_perm(actor, Perm.APPOINTMENT_BOOK)
        if channel not in (BookingChannel.COUNTER, BookingChannel.PHONE):
            raise ValidationFailed({"channel": [f"Staff cannot book by channel {channel!r}."]})
    if not session.clinic.is_active:
        raise ValidationFailed({"clinic": [f"{session.clinic.name} is closed for bookings."]})
    _bookable(session, date, slot_time)
    try:
        with transaction.atomic():
            _already_booked(patient, session.clinic, date)
            seat = _take_seat(session, date, slot_time)
            appointment = Appointment(
                number=_next_number(),
                patient=patient,
                clinic=session.clinic,
                session=session,
                date=date,
                slot_time=slot_time,
                seat=seat,
                channel=channel,
                contact_phone=contact_phone,
                booked_at=clock.now(),
                booked_by=actor,
                note=" ".join(note.split())[:200],
            )
            ledger.create_sealed(appointment, actor=actor)
    except IntegrityError as exc:
        if "appointment_one_per_patient_clinic_day" in str(exc):
            raise Conflict(
                f"{patient.name} was booked in {session.clinic.name} on {date:%d-%m-%Y} "
                "by someone else at the same moment.",
                code="already_booked",
            ) from None
        # Another booking took the seat between our count and our insert.
        raise Conflict(
            f"The {slot_time:%H:%M} slot was taken at the same moment. Choose another slot.",
            code="slot_full",
        ) from None
    return appointment


def _verified_phone(verification: PhoneVerification | None, channel: str) -> str:
    if (
        channel != BookingChannel.ONLINE
        or verification is None
        or verification.verified_at is None
        or clock.now() - verification.verified_at > dt.timedelta(minutes=SELF_BOOKING_MINUTES)
    ):
        raise PermissionRefused("Only a phone verified in the last few minutes may book online.")
    return verification.phone


def _next_number() -> str:
    serial = identifiers.allocate(APPOINTMENT_SEQUENCE)
    return f"A{serial:08d}"


def _locked(appointment: Appointment) -> Appointment:
    return locked(Appointment.objects).select_related("session__clinic").get(pk=appointment.pk)


def _require_staff_change(actor) -> None:
    require_perm(actor, Perm.APPOINTMENT_BOOK)


def appointment_reschedule(
    *,
    actor,
    appointment: Appointment,
    session: ClinicSession,
    date: dt.date,
    slot_time: dt.time,
    reason: str,
) -> Appointment:
    """Move a booking to another slot (of the same or another session of its clinic)."""
    _require_staff_change(actor)
    reason = require_reason(reason, why="Say why the appointment is moved")
    if session.clinic_id != appointment.clinic_id:
        raise ValidationFailed({"session": ["Move within the same clinic; book anew for another."]})
    _bookable(session, date, slot_time)
    try:
        with transaction.atomic():
            current = _locked(appointment)
            if current.status != AppointmentStatus.BOOKED:
                raise Conflict(
                    f"Appointment {current.number} is {current.get_status_display().lower()}: "
                    "only a booked appointment can be moved."
                )
            _already_booked(current.patient, current.clinic, date, exclude=current)
            before = state_of(current)
            seat = _take_seat(session, date, slot_time)
            current.session, current.date, current.slot_time, current.seat = (
                session,
                date,
                slot_time,
                seat,
            )
            current.version += 1
            ledger.save_sealed(current, actor=actor, before=before, reason=reason)
    except IntegrityError:
        raise Conflict("That slot was taken at the same moment. Choose another slot.") from None
    return current


def _set_status(
    appointment: Appointment, status: str, *, actor, reason: str, action
) -> Appointment:
    with transaction.atomic():
        current = _locked(appointment)
        if current.status != AppointmentStatus.BOOKED:
            raise Conflict(
                f"Appointment {current.number} is already {current.get_status_display().lower()}."
            )
        before = state_of(current)
        current.status = status
        current.version += 1
        ledger.save_sealed(current, actor=actor, before=before, reason=reason, action=action)
    return current


def appointment_cancel(*, actor, appointment: Appointment, reason: str) -> Appointment:
    _require_staff_change(actor)
    reason = require_reason(reason, why="Say why the appointment is cancelled")
    return _set_status(
        appointment,
        AppointmentStatus.CANCELLED,
        actor=actor,
        reason=reason,
        action=LedgerAction.CANCEL,
    )


def appointment_mark_no_show(*, actor, appointment: Appointment) -> Appointment:
    """Only once the slot has passed: a patient may still walk in late."""
    _require_staff_change(actor)
    now = clock.local(clock.now())
    slot_end = dt.datetime.combine(appointment.date, appointment.slot_time) + dt.timedelta(
        minutes=appointment.session.slot_minutes
    )
    if slot_end > now.replace(tzinfo=None):
        raise ValidationFailed(
            f"The {appointment.slot_time:%H:%M} slot has not passed yet (it ends at "
            f"{slot_end:%H:%M}): wait before marking the patient as not come."
        )
    return _set_status(
        appointment,
        AppointmentStatus.NO_SHOW,
        actor=actor,
        reason="did not come",
        action=LedgerAction.UPDATE,
    )


def appointment_mark_arrived(*, actor, appointment: Appointment) -> Appointment:
    """Called by the OPD check-in (opd.services.visit_check_in) in its transaction."""
    require_perm(actor, Perm.QUEUE_CHECK_IN)
    if appointment.date != clock.today():
        raise ValidationFailed(
            f"Appointment {appointment.number} is for {appointment.date:%d-%m-%Y}, not today."
        )
    return _set_status(
        appointment,
        AppointmentStatus.ARRIVED,
        actor=actor,
        reason="arrived: checked in at the OPD counter",
        action=LedgerAction.UPDATE,
    )


# -- self-booking by phone ------------------------------------------------------------


def _code_hash(verification_salt: str, code: str) -> str:
    return hashlib.sha256(f"{verification_salt}:{code}".encode()).hexdigest()


def otp_send(*, phone: str, ip: str = "") -> PhoneVerification:
    """Send a 6-digit code to `phone` for self-booking. Rate-limited per phone, and a
    phone no patient is registered with gets no code (and the same answer)."""
    phone = normalise_phone(phone)
    try:
        if not phone:
            raise ValueError(phone)
        validate_phone(phone)
    except (ValueError, DjangoValidationError):
        raise ValidationFailed(
            {"phone": ["Enter the 10-digit mobile number you registered with."]}
        ) from None
    now = clock.now()
    recent = PhoneVerification.objects.filter(
        phone=phone, created_at__gte=now - dt.timedelta(hours=1)
    ).count()
    from_ip = (
        PhoneVerification.objects.filter(ip=ip, created_at__gte=now - dt.timedelta(hours=1)).count()
        if ip
        else 0
    )
    if from_ip >= settings.AJEYA_OTP_PER_IP_PER_HOUR:
        raise Conflict(
            "Too many codes were asked for from this network in the last hour. Try again "
            "later or book at the registration counter.",
            code="rate_limited",
        )
    if recent >= settings.AJEYA_OTP_PER_PHONE_PER_HOUR:
        raise Conflict(
            "Too many codes were sent to this number in the last hour. Try again later "
            "or book at the registration counter.",
            code="rate_limited",
        )
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(8)
    verification = PhoneVerification.objects.create(
        phone=phone,
        code_hash=f"{salt}${_code_hash(salt, code)}",
        created_at=now,
        expires_at=now + dt.timedelta(minutes=settings.AJEYA_OTP_MINUTES),
        ip=ip,
    )
    if Patient.objects.filter(phone=phone).exists():
        messaging.send(
            phone,
            f"{code} is your {settings.AJEYA_HOSPITAL_NAME} appointment code. It expires in "
            f"{settings.AJEYA_OTP_MINUTES} minutes. Do not share it.",
        )
    return verification


def verification_in_force(verification_id) -> PhoneVerification | None:
    """A verification whose code was entered in the last SELF_BOOKING_MINUTES."""
    if not verification_id:
        return None
    return PhoneVerification.objects.filter(
        pk=verification_id,
        verified_at__gte=clock.now() - dt.timedelta(minutes=SELF_BOOKING_MINUTES),
    ).first()


def otp_verify(*, verification_id: int, code: str) -> str:
    """Check a code; returns the verified phone. Five wrong tries spend the code."""
    code = "".join((code or "").split())
    problem = ""
    with transaction.atomic():
        verification = locked(PhoneVerification.objects.filter(pk=verification_id)).first()
        if verification is None or verification.verified_at is not None:
            problem = "This code is no longer valid. Ask for a new one."
        elif clock.now() > verification.expires_at:
            problem = "The code has expired. Ask for a new one."
        elif verification.attempts >= OTP_MAX_ATTEMPTS:
            problem = "Too many wrong tries. Ask for a new code."
        else:
            salt, _, expected = verification.code_hash.partition("$")
            if hmac.compare_digest(_code_hash(salt, code), expected):
                verification.verified_at = clock.now()
                verification.save(update_fields=["verified_at"])
            else:
                # Kept: the try counts even though the caller is refused.
                verification.attempts += 1
                verification.save(update_fields=["attempts"])
                left = OTP_MAX_ATTEMPTS - verification.attempts
                problem = f"That code is not right ({left} tries left)."
    if problem:
        raise ValidationFailed({"code": [problem]})
    return verification.phone
