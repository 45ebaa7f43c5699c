"""Every write in the wards: beds, admission, transfers, nursing charts, medication,
discharge and housekeeping — each on the ledger, each all or nothing.

A bed is held three ways: its row is locked while it is allocated, its status says
occupied, and the database refuses a second admitted patient on it (a partial unique
index) and a second open stay in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from ajeya.appointments.models import Clinic
from ajeya.core import clock, identifiers
from ajeya.core.errors import Conflict, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.models import Department
from ajeya.core.roles import Perm, Role, require_perm
from ajeya.core.validation import require_reason
from ajeya.ipd import hooks
from ajeya.ipd.models import (
    Admission,
    AdmissionSource,
    AdmissionStatus,
    Bed,
    BedCategory,
    BedStatus,
    BedStay,
    Discharge,
    DischargeDiagnosis,
    DischargeType,
    DoseOutcome,
    FluidDirection,
    FluidRoute,
    IntakeOutput,
    MannerOfDeath,
    MedicationDose,
    MedicationOrder,
    NursingNote,
    Observation,
    Room,
    Ward,
)
from ajeya.ledger import services as ledger
from ajeya.ledger.registry import state_of
from ajeya.opd import icd10
from ajeya.opd.models import Consultation, Frequency, Route
from ajeya.opd.services import clean_vitals
from ajeya.patients.models import Patient

ADMISSION_SEQUENCE = "admission"
OBSERVATION_FIELDS = (
    "temperature_c",
    "pulse_per_min",
    "respiratory_rate",
    "systolic_mmhg",
    "diastolic_mmhg",
    "spo2_percent",
)
# What staff may set by hand; occupied comes and goes with admissions only.
MANUAL_STATUS_CHANGES = {
    BedStatus.FREE: {BedStatus.RESERVED, BedStatus.BLOCKED},
    BedStatus.RESERVED: {BedStatus.FREE, BedStatus.BLOCKED},
    BedStatus.CLEANING: {BedStatus.FREE, BedStatus.BLOCKED},
    BedStatus.BLOCKED: {BedStatus.FREE},
}
ALLOCATABLE = (BedStatus.FREE, BedStatus.RESERVED)


# -- wards, rooms, beds ---------------------------------------------------------------


def ward_create(*, actor, code: str, name: str, department: Department, floor: str = "") -> Ward:
    if actor is not None:
        require_perm(actor, Perm.WARD_MANAGE)
    code = code.strip().upper()
    if not code or not name.strip():
        raise ValidationFailed({"code": ["A ward needs a code and a name."]})
    try:
        with transaction.atomic():
            ward = Ward(code=code, name=" ".join(name.split()), department=department, floor=floor)
            ledger.create_sealed(ward, actor=actor)
    except IntegrityError:
        raise ValidationFailed({"code": [f"A ward with code {code} exists."]}) from None
    return ward


def room_create(*, actor, ward: Ward, number: str, isolation: bool = False) -> Room:
    if actor is not None:
        require_perm(actor, Perm.WARD_MANAGE)
    try:
        with transaction.atomic():
            room = Room(ward=ward, number=number.strip(), isolation=isolation)
            ledger.create_sealed(room, actor=actor)
    except IntegrityError:
        raise ValidationFailed({"number": [f"{ward.code} already has room {number}."]}) from None
    return room


def bed_create(*, actor, room: Room, label: str, category: str) -> Bed:
    if actor is not None:
        require_perm(actor, Perm.WARD_MANAGE)
    if category not in BedCategory.values:
        raise ValidationFailed({"category": [f"Unknown bed category {category!r}."]})
    label = label.strip().upper()
    try:
        with transaction.atomic():
            bed = Bed(
                label=label, room=room, ward=room.ward, category=category, status_since=clock.now()
            )
            ledger.create_sealed(bed, actor=actor)
    except IntegrityError:
        raise ValidationFailed({"label": [f"A bed labelled {label} exists."]}) from None
    return bed


def room_with_beds(
    *,
    actor,
    ward: Ward,
    room: str,
    category: str,
    beds: int,
    first_number: int,
    isolation: bool = False,
) -> list[Bed]:
    """A room and its beds, labelled <ward>-<n> from `first_number`, all or none."""
    require_perm(actor, Perm.WARD_MANAGE)
    with transaction.atomic():
        made = room_create(actor=actor, ward=ward, number=room, isolation=isolation)
        return [
            bed_create(actor=actor, room=made, label=f"{ward.code}-{n}", category=category)
            for n in range(first_number, first_number + beds)
        ]


def _lock_beds(*beds: Bed) -> list[Bed]:
    """Lock beds in id order (so two transfers crossing each other cannot deadlock)."""
    ids = sorted({b.pk for b in beds})
    rows = {b.pk: b for b in locked(Bed.objects.filter(pk__in=ids)).order_by("pk")}
    return [rows[b.pk] for b in beds]


def _set_bed(bed: Bed, status: str, *, actor, reason: str, note: str = "") -> Bed:
    """Inside the caller's transaction, with the bed locked."""
    before = state_of(bed)
    bed.status, bed.status_note, bed.status_since = status, note[:200], clock.now()
    bed.version += 1
    ledger.save_sealed(bed, actor=actor, before=before, reason=reason)
    return bed


def bed_set_status(*, actor, bed: Bed, status: str, note: str = "") -> Bed:
    """Housekeeping and the ward sister: cleaned (free), reserved, blocked, unblocked."""
    require_perm(actor, Perm.BED_HOUSEKEEPING)
    if status not in BedStatus.values:
        raise ValidationFailed({"status": [f"Unknown bed status {status!r}."]})
    if status in (BedStatus.BLOCKED, BedStatus.RESERVED) and not note.strip():
        raise ValidationFailed({"note": ["Say why (and for whom, for a reservation)."]})
    with transaction.atomic():
        (current,) = _lock_beds(bed)
        allowed = MANUAL_STATUS_CHANGES.get(current.status, set())
        if status not in allowed:
            raise Conflict(
                f"Bed {current.label} is {current.get_status_display().lower()}: it cannot be "
                f"made {BedStatus(status).label.lower()} by hand"
                + (
                    " (it changes with admission and discharge)."
                    if current.status == BedStatus.OCCUPIED or status == BedStatus.OCCUPIED
                    else "."
                )
            )
        reason = {
            BedStatus.FREE: "cleaned and ready"
            if current.status == BedStatus.CLEANING
            else "released",
            BedStatus.RESERVED: f"reserved: {note.strip()}",
            BedStatus.BLOCKED: f"blocked: {note.strip()}",
        }[BedStatus(status)]
        return _set_bed(current, status, actor=actor, reason=reason, note=note.strip())


# -- admission and transfers ----------------------------------------------------------


def _diagnosis(code: str, field: str) -> icd10.Diagnosis:
    try:
        return icd10.lookup(code)
    except ValidationFailed as exc:
        raise ValidationFailed({field: exc.errors.get("icd10_code", [exc.message])}) from None


def _when(
    value: dt.datetime | None,
    *,
    field: str,
    not_before: dt.datetime | None = None,
    what: str = "the admission",
) -> dt.datetime:
    now = clock.now()
    when = value or now
    if when > now + dt.timedelta(minutes=1):
        raise ValidationFailed({field: ["That time is in the future."]})
    if not_before is not None and when < not_before:
        at = clock.local(not_before).strftime("%d-%m-%Y %H:%M")
        raise ValidationFailed({field: [f"That is before {what} ({at} IST)."]})
    return when


def _after_last_stay(bed: Bed, when: dt.datetime, *, field: str) -> None:
    """A backdated move or admission cannot overlap the bed's previous patient."""
    last = (
        BedStay.objects.filter(bed=bed, ended_at__isnull=False)
        .order_by("-ended_at")
        .values_list("ended_at", flat=True)
        .first()
    )
    if last is not None and when < last:
        at = clock.local(last).strftime("%d-%m-%Y %H:%M")
        raise ValidationFailed(
            {field: [f"Bed {bed.label} had another patient until {at} IST: give a later time."]}
        )


def _require_doctor(user, field: str = "attending_doctor") -> None:
    if user is None or user.role != Role.DOCTOR or not user.is_active:
        raise ValidationFailed({field: ["Choose an active doctor."]})


def admission_create(
    *,
    actor,
    patient: Patient,
    bed: Bed,
    attending_doctor,
    unit: Clinic,
    provisional_icd10: str,
    source: str = AdmissionSource.DIRECT,
    consultation: Consultation | None = None,
    admitted_at: dt.datetime | None = None,
) -> Admission:
    """Admit a patient into a bed. Refused: a patient already admitted, a bed that is
    not free (or reserved), a time in the future."""
    require_perm(actor, Perm.ADMIT)
    if source not in AdmissionSource.values:
        raise ValidationFailed({"source": [f"Unknown source {source!r}."]})
    if consultation is not None:
        source = AdmissionSource.OPD
        if consultation.visit.patient_id != patient.pk or not consultation.admit_advised:
            raise ValidationFailed("That consultation did not advise admitting this patient.")
    _require_doctor(attending_doctor)
    diagnosis = _diagnosis(provisional_icd10, "provisional_icd10")
    when = _when(admitted_at, field="admitted_at")
    try:
        with transaction.atomic():
            (current,) = _lock_beds(bed)
            if current.status not in ALLOCATABLE:
                raise Conflict(
                    f"Bed {current.label} is {current.get_status_display().lower()}: "
                    "choose a free bed.",
                    code="bed_taken",
                )
            _after_last_stay(current, when, field="admitted_at")
            death = (
                Discharge.objects.filter(admission__patient=patient, kind=DischargeType.DEATH)
                .select_related("admission")
                .first()
            )
            if death is not None:
                raise ValidationFailed(
                    f"{patient.name}'s death was recorded on "
                    f"{clock.local(death.death_at or death.discharged_at):%d-%m-%Y} "
                    f"({death.admission.number}): check the UHID."
                )
            if consultation is not None and (
                earlier := Admission.objects.filter(consultation=consultation).first()
            ):
                raise Conflict(
                    f"That OPD advice already led to admission {earlier.number}.",
                    code="advice_used",
                )
            already = Admission.objects.filter(
                patient=patient, status=AdmissionStatus.ADMITTED
            ).first()
            if already is not None:
                raise Conflict(
                    f"{patient.name} is already admitted ({already.number}, bed "
                    f"{already.bed.label if already.bed else '—'}).",
                    code="already_admitted",
                )
            admission = Admission(
                number=f"IP{clock.local(when):%Y}{identifiers.allocate(ADMISSION_SEQUENCE):07d}",
                patient=patient,
                source=source,
                consultation=consultation,
                admitted_at=when,
                admitted_by=actor,
                attending_doctor=attending_doctor,
                unit=unit,
                provisional_icd10=diagnosis.code,
                provisional_diagnosis=diagnosis.description[:250],
                bed=current,
            )
            ledger.create_sealed(admission, actor=actor)
            ledger.create_sealed(
                BedStay(
                    admission=admission,
                    bed=current,
                    unit=unit,
                    attending_doctor=attending_doctor,
                    started_at=when,
                    moved_by=actor,
                    reason="admitted",
                ),
                actor=actor,
            )
            _set_bed(
                current, BedStatus.OCCUPIED, actor=actor, reason=f"admitted {admission.number}"
            )
    except IntegrityError:
        # The database's partial unique indexes: someone took the bed or admitted the
        # patient between our check and our insert.
        raise Conflict(
            f"Bed {bed.label} or {patient.name} was just taken by another admission.",
            code="bed_taken",
        ) from None
    return admission


def _locked_admission(admission: Admission) -> Admission:
    current = (
        locked(Admission.objects).select_related("patient", "bed", "unit").get(pk=admission.pk)
    )
    if current.status != AdmissionStatus.ADMITTED:
        raise Conflict(f"{current.number} is already discharged.", code="discharged")
    return current


def admission_transfer(
    *,
    actor,
    admission: Admission,
    to_bed: Bed,
    reason: str,
    unit: Clinic | None = None,
    attending_doctor=None,
    moved_at: dt.datetime | None = None,
) -> Admission:
    """Move an inpatient to another bed (and ward), and/or to another unit or doctor."""
    require_perm(actor, Perm.BED_TRANSFER)
    reason = require_reason(reason, why="Say why the patient is moved")
    if attending_doctor is not None:
        _require_doctor(attending_doctor)
    with transaction.atomic():
        current = _locked_admission(admission)
        when = _when(moved_at, field="moved_at", not_before=current.admitted_at)
        if to_bed.pk == current.bed_id and unit is None and attending_doctor is None:
            raise ValidationFailed({"to_bed": ["The patient is already in that bed."]})
        old_bed, new_bed = _lock_beds(current.bed, to_bed)
        if new_bed.pk != old_bed.pk and new_bed.status not in ALLOCATABLE:
            raise Conflict(
                f"Bed {new_bed.label} is {new_bed.get_status_display().lower()}: "
                "choose a free bed.",
                code="bed_taken",
            )
        stay = locked(BedStay.objects).get(admission=current, ended_at__isnull=True)
        if when < stay.started_at:
            raise ValidationFailed({"moved_at": ["That is before the patient came to this bed."]})
        if new_bed.pk != old_bed.pk:
            _after_last_stay(new_bed, when, field="moved_at")
        before_stay = state_of(stay)
        stay.ended_at = when
        ledger.save_sealed(stay, actor=actor, before=before_stay, reason=f"moved: {reason}")
        unit = unit or current.unit
        doctor = attending_doctor or current.attending_doctor
        if new_bed.pk != old_bed.pk:
            _set_bed(old_bed, BedStatus.CLEANING, actor=actor, reason=f"{current.number} moved out")
        ledger.create_sealed(
            BedStay(
                admission=current,
                bed=new_bed,
                unit=unit,
                attending_doctor=doctor,
                started_at=when,
                moved_by=actor,
                reason=reason,
            ),
            actor=actor,
        )
        if new_bed.pk != old_bed.pk:
            _set_bed(new_bed, BedStatus.OCCUPIED, actor=actor, reason=f"{current.number} moved in")
        before = state_of(current)
        current.bed, current.unit, current.attending_doctor = new_bed, unit, doctor
        current.version += 1
        ledger.save_sealed(current, actor=actor, before=before, reason=reason)
    return current


# -- nursing --------------------------------------------------------------------------


def _open_admission(admission: Admission | int) -> Admission:
    """The admission, locked: a discharge at the same moment waits for this chart write,
    or this write sees the discharge and is refused."""
    pk = admission if isinstance(admission, int) else admission.pk
    current = locked(Admission.objects).select_related("patient").get(pk=pk)
    if current.status != AdmissionStatus.ADMITTED:
        raise Conflict(f"{current.number} is discharged: its chart is closed.", code="discharged")
    return current


def observation_record(
    *, actor, admission: Admission, recorded_at: dt.datetime | None = None, **values: Any
) -> Observation:
    require_perm(actor, Perm.NURSING_CHART)
    unknown = set(values) - set(OBSERVATION_FIELDS)
    if unknown:
        raise ValidationFailed(f"Not charted on the ward: {', '.join(sorted(unknown))}.")
    cleaned = clean_vitals(values)
    with transaction.atomic():
        current = _open_admission(admission)
        when = _when(recorded_at, field="recorded_at", not_before=current.admitted_at)
        observation = Observation(admission=current, recorded_at=when, recorded_by=actor, **cleaned)
        ledger.create_sealed(observation, actor=actor)
    return observation


def fluid_record(
    *,
    actor,
    admission: Admission,
    direction: str,
    route: str,
    volume_ml: int,
    note: str = "",
    recorded_at: dt.datetime | None = None,
) -> IntakeOutput:
    require_perm(actor, Perm.NURSING_CHART)
    errors: dict[str, list[str]] = {}
    if direction not in FluidDirection.values:
        errors["direction"] = ["Intake or output?"]
    if route not in FluidRoute.values:
        errors["route"] = [f"Unknown route {route!r}."]
    if type(volume_ml) is not int or not 1 <= volume_ml <= 10000:
        errors["volume_ml"] = [f"Volume {volume_ml} ml is outside 1 to 10,000 ml."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        current = _open_admission(admission)
        when = _when(recorded_at, field="recorded_at", not_before=current.admitted_at)
        entry = IntakeOutput(
            admission=current,
            recorded_at=when,
            recorded_by=actor,
            direction=direction,
            route=route,
            volume_ml=volume_ml,
            note=note.strip()[:200],
        )
        ledger.create_sealed(entry, actor=actor)
    return entry


def note_record(*, actor, admission: Admission, text: str) -> NursingNote:
    require_perm(actor, Perm.NURSING_CHART)
    if not text.strip():
        raise ValidationFailed({"text": ["Write the note."]})
    with transaction.atomic():
        current = _open_admission(admission)
        note = NursingNote(
            admission=current, recorded_at=clock.now(), recorded_by=actor, text=text.strip()
        )
        ledger.create_sealed(note, actor=actor)
    return note


def medication_order(
    *,
    actor,
    admission: Admission,
    drug: str,
    dose: str,
    route: str,
    frequency: str,
    instructions: str = "",
) -> MedicationOrder:
    require_perm(actor, Perm.MEDICATION_ORDER)
    errors: dict[str, list[str]] = {}
    if not drug.strip():
        errors["drug"] = ["Name the drug."]
    if not dose.strip():
        errors["dose"] = ["Give the dose (e.g. 1 g)."]
    if route not in Route.values:
        errors["route"] = [f"Unknown route {route!r}."]
    if frequency not in Frequency.values:
        errors["frequency"] = [f"Unknown frequency {frequency!r}."]
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        current = _open_admission(admission)
        order = MedicationOrder(
            admission=current,
            drug=" ".join(drug.split()),
            dose=dose.strip(),
            route=route,
            frequency=frequency,
            instructions=instructions.strip()[:200],
            ordered_at=clock.now(),
            ordered_by=actor,
        )
        ledger.create_sealed(order, actor=actor)
    return order


def medication_stop(*, actor, order: MedicationOrder, reason: str) -> MedicationOrder:
    require_perm(actor, Perm.MEDICATION_ORDER)
    reason = require_reason(reason, why="Say why the drug is stopped")
    with transaction.atomic():
        _open_admission(order.admission_id)  # the admission first, then the order: one order
        current = locked(MedicationOrder.objects).get(pk=order.pk)
        if current.stopped_at is not None:
            raise Conflict(f"{current.drug} was already stopped.")
        before = state_of(current)
        current.stopped_at, current.stopped_by = clock.now(), actor
        ledger.save_sealed(current, actor=actor, before=before, reason=reason)
    return current


def dose_record(
    *,
    actor,
    order: MedicationOrder,
    outcome: str,
    note: str = "",
    recorded_at: dt.datetime | None = None,
) -> MedicationDose:
    """The nurse records a dose: given, held (say why) or refused (say what happened)."""
    require_perm(actor, Perm.NURSING_CHART)
    if outcome not in DoseOutcome.values:
        raise ValidationFailed({"outcome": [f"Unknown outcome {outcome!r}."]})
    if outcome != DoseOutcome.GIVEN and not note.strip():
        raise ValidationFailed(
            {"note": [f"Say why the dose was {DoseOutcome(outcome).label.lower()}."]}
        )
    with transaction.atomic():
        _open_admission(order.admission_id)
        current = locked(MedicationOrder.objects).select_related("admission").get(pk=order.pk)
        if current.stopped_at is not None:
            raise Conflict(f"{current.drug} was stopped: no dose is due.", code="stopped")
        when = _when(
            recorded_at, field="recorded_at", not_before=current.ordered_at, what="the order"
        )
        dose = MedicationDose(
            order=current,
            recorded_at=when,
            recorded_by=actor,
            outcome=outcome,
            note=note.strip()[:200],
        )
        ledger.create_sealed(dose, actor=actor)
    return dose


# -- discharge ------------------------------------------------------------------------


def _discharge_problems(kind: str, fields: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind not in DischargeType.values:
        errors["kind"] = [f"Unknown discharge type {kind!r}."]
    if not (fields.get("course") or "").strip():
        errors["course"] = ["Write the course in hospital."]
    if not (fields.get("condition") or "").strip():
        errors["condition"] = ["Describe the condition at discharge."]
    if kind == DischargeType.REFERRED and not (fields.get("referred_to") or "").strip():
        errors["referred_to"] = ["Name the hospital the patient is referred to."]
    if (manner := fields.get("manner_of_death") or "") and manner not in MannerOfDeath.values:
        errors["manner_of_death"] = [f"Unknown manner of death {manner!r}."]
    if kind == DischargeType.DEATH:
        if fields.get("death_at") is None:
            errors["death_at"] = ["Give the date and time of death."]
        if not (fields.get("cause_immediate") or "").strip():
            errors["cause_immediate"] = ["Give the immediate cause of death."]
        if not (fields.get("cause_underlying_icd10") or "").strip():
            errors["cause_underlying_icd10"] = ["Code the underlying cause in ICD-10."]
    return errors


DEATH_ONLY = frozenset({"cause_immediate", "cause_antecedent", "manner_of_death"})
DISCHARGE_TEXT_FIELDS = (
    "procedures",
    "course",
    "investigations",
    "condition",
    "medications",
    "follow_up",
    "referred_to",
    "cause_immediate",
    "cause_antecedent",
    "manner_of_death",
)


def discharge_create(
    *,
    actor,
    admission: Admission,
    kind: str,
    diagnoses: list[str],
    discharged_at: dt.datetime | None = None,
    death_at: dt.datetime | None = None,
    cause_underlying_icd10: str = "",
    medico_legal: bool = False,
    **texts: str,
) -> Discharge:
    """Discharge: the summary, the final diagnoses, the bed to cleaning. For a death, the
    facts the death record needs. Everything is checked before anything is written."""
    require_perm(actor, Perm.DISCHARGE)
    unknown = set(texts) - set(DISCHARGE_TEXT_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown discharge fields: {', '.join(sorted(unknown))}.")
    errors = _discharge_problems(
        kind, {**texts, "death_at": death_at, "cause_underlying_icd10": cause_underlying_icd10}
    )
    coded: list[icd10.Diagnosis] = []
    for code in diagnoses:
        try:
            coded.append(icd10.lookup(code))
        except ValidationFailed as exc:
            errors.setdefault("diagnoses", []).extend(exc.errors.get("icd10_code", [exc.message]))
    if not coded and "diagnoses" not in errors:
        errors["diagnoses"] = ["Record the final diagnosis (ICD-10)."]
    underlying = None
    if kind == DischargeType.DEATH and cause_underlying_icd10.strip():
        try:
            underlying = icd10.lookup(cause_underlying_icd10)
        except ValidationFailed as exc:
            errors["cause_underlying_icd10"] = exc.errors.get("icd10_code", [exc.message])
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        current = _locked_admission(admission)
        # Every lock before the first ledger entry (core.locking).
        stay = locked(BedStay.objects).get(admission=current, ended_at__isnull=True)
        (bed,) = _lock_beds(current.bed)
        running = list(
            locked(MedicationOrder.objects.filter(admission=current, stopped_at__isnull=True))
        )
        when = _when(discharged_at, field="discharged_at", not_before=current.admitted_at)
        if when < stay.started_at:
            raise ValidationFailed({"discharged_at": ["That is before the patient's last move."]})
        if kind == DischargeType.DEATH:
            _when(death_at, field="death_at", not_before=current.admitted_at)
            if death_at > when:
                raise ValidationFailed({"death_at": ["Death cannot be after the discharge time."]})
        died = kind == DischargeType.DEATH
        kept = {
            k: (v or "").strip()
            for k, v in texts.items()
            if died
            or (k not in DEATH_ONLY and (k != "referred_to" or kind == DischargeType.REFERRED))
        }
        discharge = Discharge(
            admission=current,
            kind=kind,
            discharged_at=when,
            discharged_by=actor,
            death_at=death_at if kind == DischargeType.DEATH else None,
            cause_underlying_icd10=underlying.code if underlying else "",
            cause_underlying=underlying.description[:250] if underlying else "",
            medico_legal=medico_legal and died,
            **kept,
        )
        ledger.create_sealed(discharge, actor=actor)
        for position, found in enumerate(coded, start=1):
            ledger.create_sealed(
                DischargeDiagnosis(
                    discharge=discharge,
                    position=position,
                    icd10_code=found.code,
                    description=found.description[:250],
                ),
                actor=actor,
            )
        before_stay = state_of(stay)
        stay.ended_at = when
        ledger.save_sealed(stay, actor=actor, before=before_stay, reason="discharged")
        for order in running:  # nothing stays "active" on a closed chart
            before_order = state_of(order)
            order.stopped_at, order.stopped_by = when, actor
            ledger.save_sealed(
                order, actor=actor, before=before_order, reason="stopped at discharge"
            )
        _set_bed(bed, BedStatus.CLEANING, actor=actor, reason=f"{current.number} discharged")
        before = state_of(current)
        current.status = AdmissionStatus.DISCHARGED
        current.discharged_at = when
        current.version += 1
        ledger.save_sealed(
            current,
            actor=actor,
            before=before,
            reason=f"discharged: {DischargeType(kind).label.lower()}",
        )
    return discharge


def investigations_for(admission: Admission) -> str:
    """Text for the summary's investigations, from whichever departments provide it."""
    return hooks.investigations(admission)
