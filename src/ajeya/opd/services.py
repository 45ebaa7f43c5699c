"""Every write in the outpatient department: check-in and tokens, the doctor's calls,
transfers, vital signs and consultations — each on the ledger, each all or nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from ajeya.appointments import selectors as appointment_selectors
from ajeya.appointments import services as appointments
from ajeya.appointments.models import Appointment, BookingChannel, Clinic
from ajeya.core import clock, identifiers
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.ledger import services as ledger
from ajeya.ledger.registry import state_of
from ajeya.opd import icd10, orders
from ajeya.opd.models import (
    OPEN_STATUSES,
    ClinicalOrder,
    Consultation,
    Diagnosis,
    Frequency,
    OrderKind,
    Prescription,
    Route,
    Visit,
    VisitStatus,
    Vitals,
)
from ajeya.patients.models import Patient

MAX_DIAGNOSES = 10
MAX_PRESCRIPTIONS = 20
MAX_ORDERS = 20


# -- the queue ------------------------------------------------------------------------


def _token(clinic: Clinic, day: dt.date) -> int:
    return identifiers.allocate(f"token:{clinic.code}:{day.isoformat()}")


def _open_visit(patient: Patient, clinic: Clinic, day: dt.date) -> Visit | None:
    return Visit.objects.filter(
        patient=patient, clinic=clinic, date=day, status__in=OPEN_STATUSES
    ).first()


def _reserve_token(patient: Patient, clinic: Clinic) -> int:
    """The clinic's next token today, refused if the patient is already in its queue.
    Taken before the transaction's first ledger entry (see core.locking)."""
    day = clock.today()
    if (open_visit := _open_visit(patient, clinic, day)) is not None:
        raise Conflict(
            f"{patient.name} is already in the {clinic.name} queue today "
            f"(token {open_visit.token}).",
            code="already_queued",
        )
    return _token(clinic, day)


def _create_visit(*, actor, patient: Patient, clinic: Clinic, token: int, **extra: Any) -> Visit:
    visit = Visit(
        patient=patient,
        clinic=clinic,
        date=clock.today(),
        token=token,
        arrived_at=clock.now(),
        checked_in_by=actor,
        **extra,
    )
    try:
        with transaction.atomic():
            ledger.create_sealed(visit, actor=actor)
    except IntegrityError:
        raise Conflict(
            f"{patient.name} was just added to the {clinic.name} queue by someone else.",
            code="already_queued",
        ) from None
    return visit


def visit_check_in(
    *, actor, patient: Patient, clinic: Clinic | None = None, appointment: Appointment | None = None
) -> Visit:
    """A patient arrives: with today's appointment, or as a walk-in to a clinic. Returns
    the visit with its token number."""
    require_perm(actor, Perm.QUEUE_CHECK_IN)
    if appointment is not None:
        if appointment.patient_id != patient.pk:
            raise ValidationFailed(f"Appointment {appointment.number} is not {patient.name}'s.")
        clinic = appointment.clinic
    if clinic is None:
        raise ValidationFailed({"clinic": ["Choose the clinic the patient is going to."]})
    if not clinic.is_active:
        raise ValidationFailed({"clinic": [f"{clinic.name} is not seeing patients."]})
    if appointment is None:
        days = appointment_selectors.clinic_day(clinic, clock.today())
        if days and all(d.closure is not None for d in days):
            raise ValidationFailed(
                {"clinic": [f"{clinic.name} is closed today ({days[0].closure.reason})."]}
            )
    with transaction.atomic():
        token = _reserve_token(patient, clinic)
        if appointment is not None:
            appointments.appointment_mark_arrived(actor=actor, appointment=appointment)
        return _create_visit(
            actor=actor, patient=patient, clinic=clinic, token=token, appointment=appointment
        )


def _locked(visit: Visit) -> Visit:
    return locked(Visit.objects).select_related("clinic", "patient").get(pk=visit.pk)


def _update(visit: Visit, *, actor, before: dict, reason: str) -> Visit:
    """Save a status change; `reason` says what happened (the ledger keeps it)."""
    visit.version += 1
    ledger.save_sealed(visit, actor=actor, before=before, reason=reason)
    return visit


def _require_today(visit: Visit) -> None:
    if visit.date != clock.today():
        raise ValidationFailed(f"Token {visit.token} was for {visit.date:%d-%m-%Y}, not today.")


def _calling(actor, visit: Visit) -> Visit:
    """Call one token to the room: refused if it is already called or finished."""
    _require_today(visit)
    current = _locked(visit)
    if current.status == VisitStatus.IN_CONSULTATION:
        by = current.called_by.full_name if current.called_by else "someone"
        at = clock.local(current.called_at).strftime("%H:%M") if current.called_at else ""
        raise Conflict(
            f"Token {current.token} is already called (by {by} at {at}).", code="already_called"
        )
    if current.status != VisitStatus.WAITING:
        raise Conflict(
            f"Token {current.token} cannot be called ({current.get_status_display().lower()}).",
            code="not_waiting",
        )
    busy = (
        Visit.objects.filter(
            clinic=current.clinic,
            date=current.date,
            status=VisitStatus.IN_CONSULTATION,
            called_by=actor,
        )
        .exclude(pk=current.pk)
        .first()
    )
    if busy is not None:
        raise Conflict(
            f"Finish, skip or transfer token {busy.token} before calling another.",
            code="busy",
        )
    before = state_of(current)
    current.status = VisitStatus.IN_CONSULTATION
    current.called_at = clock.now()
    current.called_by = actor
    current.calls += 1
    current.skipped = False
    return _update(
        current, actor=actor, before=before, reason=f"called to room {current.clinic.room}"
    )


def visit_call_next(*, actor, clinic: Clinic) -> Visit:
    """Call the lowest waiting token that has not been skipped."""
    require_perm(actor, Perm.QUEUE_MANAGE)
    with transaction.atomic():
        locked(Clinic.objects).get(pk=clinic.pk)  # one caller per clinic at once
        waiting = (
            Visit.objects.filter(
                clinic=clinic, date=clock.today(), status=VisitStatus.WAITING, skipped=False
            )
            .order_by("token")
            .first()
        )
        if waiting is None:
            raise Conflict(f"No one is waiting in {clinic.name}.", code="queue_empty")
        return _calling(actor, waiting)


def visit_call(*, actor, visit: Visit) -> Visit:
    """Call a particular token: a recall of a skipped one, or out of turn."""
    require_perm(actor, Perm.QUEUE_MANAGE)
    with transaction.atomic():
        return _calling(actor, visit)


def visit_skip(*, actor, visit: Visit) -> Visit:
    """The called patient did not come in: back to the queue, set aside until recalled."""
    require_perm(actor, Perm.QUEUE_MANAGE)
    with transaction.atomic():
        current = _locked(visit)
        if current.status != VisitStatus.IN_CONSULTATION:
            raise Conflict(f"Token {current.token} is not called, so it cannot be skipped.")
        before = state_of(current)
        current.status = VisitStatus.WAITING
        current.skipped = True
        return _update(current, actor=actor, before=before, reason="not present when called")


def visit_mark_no_show(*, actor, visit: Visit) -> Visit:
    require_perm(actor, Perm.QUEUE_MANAGE)
    with transaction.atomic():
        current = _locked(visit)
        if not (current.status == VisitStatus.WAITING and current.skipped):
            raise Conflict(
                f"Only a skipped token can be marked as not answering; token {current.token} "
                f"is {current.get_status_display().lower()}."
            )
        before = state_of(current)
        current.status = VisitStatus.NO_SHOW
        current.finished_at = clock.now()
        return _update(current, actor=actor, before=before, reason="did not answer the call")


def visit_transfer(*, actor, visit: Visit, to_clinic: Clinic, reason: str) -> Visit:
    """Send the patient on to another clinic today; returns the new visit (new token)."""
    require_perm(actor, Perm.QUEUE_MANAGE)
    reason = require_reason(reason, why="Say why the patient is sent on")
    with transaction.atomic():
        current = _locked(visit)
        _require_today(current)
        if current.status not in OPEN_STATUSES:
            raise Conflict(
                f"Token {current.token} is {current.get_status_display().lower()}: "
                "only a waiting or called patient can be transferred."
            )
        if to_clinic.pk == current.clinic_id:
            raise ValidationFailed({"to_clinic": ["Choose another clinic."]})
        if not to_clinic.is_active:
            raise ValidationFailed({"to_clinic": [f"{to_clinic.name} is not seeing patients."]})
        token = _reserve_token(current.patient, to_clinic)
        before = state_of(current)
        current.status = VisitStatus.REFERRED
        current.finished_at = clock.now()
        _update(current, actor=actor, before=before, reason=reason)
        return _create_visit(
            actor=actor,
            patient=current.patient,
            clinic=to_clinic,
            token=token,
            transferred_from=current,
            note=f"from {current.clinic.code}: {reason}"[:200],
        )


# -- vital signs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    label: str
    unit: str
    low: Decimal
    high: Decimal
    whole: bool = True  # a count, not a measurement with decimals


VITAL_RANGES: dict[str, Range] = {
    "temperature_c": Range("Temperature", "°C", Decimal(25), Decimal(45), whole=False),
    "pulse_per_min": Range("Pulse", "/min", Decimal(20), Decimal(250)),
    "respiratory_rate": Range("Respiratory rate", "/min", Decimal(4), Decimal(80)),
    "systolic_mmhg": Range("Systolic BP", "mmHg", Decimal(50), Decimal(300)),
    "diastolic_mmhg": Range("Diastolic BP", "mmHg", Decimal(20), Decimal(200)),
    "spo2_percent": Range("SpO₂", "%", Decimal(50), Decimal(100)),
    "weight_kg": Range("Weight", "kg", Decimal("0.3"), Decimal(350), whole=False),
    "height_cm": Range("Height", "cm", Decimal(20), Decimal(250), whole=False),
}


def clean_vitals(values: dict[str, Any]) -> dict[str, Any]:
    """Each value within a range a living patient can have, in the stated unit."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        rule = VITAL_RANGES.get(name)
        if rule is None:
            errors.setdefault("__all__", []).append(f"Unknown vital sign {name!r}.")
            continue
        if value is None or value == "":
            cleaned[name] = None
            continue
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            errors[name] = [f"{rule.label} must be a number, not {value!r}."]
            continue
        if not number.is_finite() or not rule.low <= number <= rule.high:
            errors[name] = [
                f"{rule.label} {value} {rule.unit} is outside {rule.low} to {rule.high} "
                f"{rule.unit}: check the reading and the unit."
            ]
            continue
        if rule.whole and number != number.to_integral_value():
            errors[name] = [f"{rule.label} is a whole number ({rule.unit})."]
            continue
        cleaned[name] = int(number) if rule.whole else number.quantize(Decimal("0.1"))
    systolic, diastolic = cleaned.get("systolic_mmhg"), cleaned.get("diastolic_mmhg")
    if (systolic is None) != (diastolic is None) and not errors:
        errors["diastolic_mmhg"] = ["Blood pressure needs both systolic and diastolic."]
    elif systolic is not None and diastolic is not None and diastolic >= systolic:
        errors["diastolic_mmhg"] = [
            f"Diastolic {diastolic} must be lower than systolic {systolic}."
        ]
    if not errors and all(v is None for v in cleaned.values()):
        errors["__all__"] = ["Enter at least one reading."]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def vitals_record(*, actor, visit: Visit, **values: Any) -> Vitals:
    require_perm(actor, Perm.VITALS_RECORD)
    cleaned = clean_vitals(values)
    with transaction.atomic():
        current = _locked(visit)
        _require_today(current)
        if current.status not in OPEN_STATUSES:
            raise Conflict(
                f"Token {current.token} is {current.get_status_display().lower()}: "
                "vitals are recorded while the patient is in the queue."
            )
        vitals = Vitals(visit=current, recorded_at=clock.now(), recorded_by=actor, **cleaned)
        ledger.create_sealed(vitals, actor=actor)
    return vitals


# -- consultation ---------------------------------------------------------------------


@dataclass(frozen=True)
class PrescriptionLine:
    drug: str
    dose: str
    route: str
    frequency: str
    duration_days: int
    instructions: str = ""


@dataclass(frozen=True)
class OrderLine:
    test: str
    kind: str = OrderKind.LAB
    note: str = ""


def _clean_lines(
    diagnoses: list[str], prescriptions: list[PrescriptionLine], order_lines: list[OrderLine]
) -> tuple[list[icd10.Diagnosis], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    coded: list[icd10.Diagnosis] = []
    for code in diagnoses:
        try:
            found = icd10.lookup(code)
        except ValidationFailed as exc:
            errors.setdefault("diagnoses", []).extend(exc.errors.get("icd10_code", [exc.message]))
            continue
        if found.code in {d.code for d in coded}:
            errors.setdefault("diagnoses", []).append(f"{found.code} is entered twice.")
        coded.append(found)
    if len(coded) > MAX_DIAGNOSES:
        errors.setdefault("diagnoses", []).append(f"At most {MAX_DIAGNOSES} diagnoses.")
    if len(prescriptions) > MAX_PRESCRIPTIONS:
        errors.setdefault("prescriptions", []).append(f"At most {MAX_PRESCRIPTIONS} drugs.")
    for n, line in enumerate(prescriptions, start=1):
        problems = []
        if not line.drug.strip():
            problems.append("name the drug")
        elif len(" ".join(line.drug.split())) > 120:
            problems.append("the drug's name is longer than 120 characters")
        if len(line.dose.strip()) > 40:
            problems.append("the dose is longer than 40 characters")
        if not line.dose.strip():
            problems.append("give the dose (e.g. 500 mg)")
        if line.route not in Route.values:
            problems.append(f"unknown route {line.route!r}")
        if line.frequency not in Frequency.values:
            problems.append(f"unknown frequency {line.frequency!r}")
        if not isinstance(line.duration_days, int) or not 1 <= line.duration_days <= 365:
            problems.append("duration is 1 to 365 days")
        if problems:
            errors.setdefault("prescriptions", []).append(
                f"Drug {n} ({line.drug.strip() or 'unnamed'}): {'; '.join(problems)}."
            )
    if len(order_lines) > MAX_ORDERS:
        errors.setdefault("orders", []).append(f"At most {MAX_ORDERS} orders.")
    for n, line in enumerate(order_lines, start=1):
        if line.kind not in OrderKind.values:
            errors.setdefault("orders", []).append(f"Order {n}: unknown kind {line.kind!r}.")
        if not line.test.strip():
            errors.setdefault("orders", []).append(f"Order {n}: name the test.")
        elif len(" ".join(line.test.split())) > 120:
            errors.setdefault("orders", []).append(
                f"Order {n}: a test name is at most 120 characters (one test per line)."
            )
        elif (problem := orders.check(line.kind, " ".join(line.test.split()))) is not None:
            errors.setdefault("orders", []).append(f"Order {n}: {problem}")
    return coded, errors


def consultation_save(
    *,
    actor,
    visit: Visit,
    complaints: str,
    examination: str = "",
    advice: str = "",
    diagnoses: list[str] | None = None,
    prescriptions: list[PrescriptionLine] | None = None,
    order_lines: list[OrderLine] | None = None,
    admit_advised: bool = False,
    admit_note: str = "",
    follow_up_on: dt.date | None = None,
) -> Consultation:
    """The doctor's record of a called patient: everything is checked before anything
    is written, and all of it is written in one transaction, or none of it."""
    require_perm(actor, Perm.CONSULT)
    prescriptions, order_lines = prescriptions or [], order_lines or []
    coded, errors = _clean_lines(diagnoses or [], prescriptions, order_lines)
    if not complaints.strip():
        errors["complaints"] = ["Write the presenting complaints."]
    if not coded:
        errors.setdefault("diagnoses", []).append(
            "Record at least one diagnosis (ICD-10; a symptom code from chapter R will do)."
        )
    if admit_advised and not admit_note.strip():
        errors["admit_note"] = ["Say why admission is advised and to which ward."]
    if follow_up_on is not None and follow_up_on <= clock.today():
        errors["follow_up_on"] = ["A follow-up is on a later day."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        current = _locked(visit)
        if current.status != VisitStatus.IN_CONSULTATION or current.date != clock.today():
            raise Conflict(
                f"{current.patient.name} is not in consultation in {current.clinic.name} "
                f"(token {current.token} is {current.get_status_display().lower()}): "
                "call the token before writing the consultation.",
                code="not_in_consultation",
            )
        if Consultation.objects.filter(visit=current).exists():
            raise Conflict(f"Token {current.token} already has a consultation.")
        consultation = Consultation(
            visit=current,
            doctor=actor,
            completed_at=clock.now(),
            complaints=complaints.strip(),
            examination=examination.strip(),
            advice=advice.strip(),
            admit_advised=admit_advised,
            admit_note=admit_note.strip()[:200] if admit_advised else "",
            follow_up_on=follow_up_on,
        )
        ledger.create_sealed(consultation, actor=actor)
        for position, found in enumerate(coded, start=1):
            ledger.create_sealed(
                Diagnosis(
                    consultation=consultation,
                    position=position,
                    icd10_code=found.code,
                    description=found.description[:250],
                ),
                actor=actor,
            )
        for position, line in enumerate(prescriptions, start=1):
            ledger.create_sealed(
                Prescription(
                    consultation=consultation,
                    position=position,
                    drug=" ".join(line.drug.split()),
                    dose=line.dose.strip(),
                    route=line.route,
                    frequency=line.frequency,
                    duration_days=line.duration_days,
                    instructions=line.instructions.strip()[:200],
                ),
                actor=actor,
            )
        for line in order_lines:
            order = ClinicalOrder(
                consultation=consultation,
                kind=line.kind,
                test=" ".join(line.test.split()),
                note=line.note.strip()[:200],
            )
            ledger.create_sealed(orders.dispatch(order, actor=actor), actor=actor)
        before = state_of(current)
        current.status = VisitStatus.DONE
        current.finished_at = clock.now()
        _update(current, actor=actor, before=before, reason="consultation completed")
    return consultation


def follow_up_book(
    *, actor, consultation: Consultation, session, date: dt.date, slot_time: dt.time
) -> Appointment:
    """The doctor books the follow-up the consultation asked for, in the same clinic."""
    require_perm(actor, Perm.CONSULT)
    visit = consultation.visit
    if session.clinic_id != visit.clinic_id:
        raise ValidationFailed({"session": ["A follow-up is booked in the same clinic."]})
    if consultation.follow_up_on is None or date != consultation.follow_up_on:
        raise ValidationFailed(
            {"date": ["Book the follow-up on the day the consultation asked for."]}
        )
    return appointments.appointment_book(
        actor=actor,
        patient=visit.patient,
        session=session,
        date=date,
        slot_time=slot_time,
        channel=BookingChannel.FOLLOW_UP,
        note=f"follow-up of token {visit.token} on {visit.date:%d-%m-%Y}",
    )
