"""Downtime kits and back-entry: reserving blocks of real numbers for paper, voiding the
ones spoiled, and entering the paper records against them once the system is back.

A back-entry writes the record through its own app's service (registration, lab order,
receipt) with the kit's number, and beside it a ledgered BackEntry naming the kit, the
form, the time written on paper and who typed it in; the record's own ledger entry
carries the same provenance as its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from ajeya.core import clock, identifiers
from ajeya.core.errors import Conflict, NotFound, ValidationFailed
from ajeya.core.models import Department
from ajeya.core.roles import Perm, require_perm
from ajeya.downtime import numbers
from ajeya.downtime.models import BackEntry, Kit, KitVoid, NumberKind
from ajeya.ledger import services as ledger

MAX_PER_KIND = 5000
REASON_LENGTH = 200


@dataclass(frozen=True)
class Paper:
    """Where a back-entered record came from: the form and when it was written."""

    form_number: str
    written_at: dt.datetime

    def reason(self, kit: Kit) -> str:
        when = clock.local(self.written_at).strftime("%d-%m-%Y %H:%M IST")
        return f"back-entry: downtime kit {kit.number}, form {self.form_number}, written {when}"


# -- kits -------------------------------------------------------------------------------


def _department(code: str | Department) -> Department:
    if isinstance(code, Department):
        return code
    found = Department.objects.filter(code__iexact=str(code).strip(), is_active=True).first()
    if found is None:
        raise NotFound(f"No active department with code {str(code).strip()!r}.")
    return found


def _counts(uhids: int, accessions: int, receipts: int) -> None:
    errors = {
        name: [f"Between 0 and {MAX_PER_KIND} {name} in one kit."]
        for name, n in (("uhids", uhids), ("accessions", accessions), ("receipts", receipts))
        if not 0 <= n <= MAX_PER_KIND
    }
    if not errors and uhids + accessions + receipts == 0:
        errors["__all__"] = ["A kit needs at least one UHID, accession or receipt number."]
    if errors:
        raise ValidationFailed(errors)


def _receipt_counter(department: Department):
    """The department's downtime receipt book is a cash counter of its own, so its
    numbers are a series the live counters never touch."""
    from ajeya.billing.models import Counter
    from ajeya.billing.tariff import counter_create

    code = f"DT-{department.code}"[:12].upper()
    return Counter.objects.filter(code=code).first() or counter_create(
        actor=None, code=code, name=f"{department.name} downtime receipt book", system=True
    )


def kit_create(
    *, actor, department: str | Department, uhids: int = 0, accessions: int = 0,
    receipts: int = 0, system: bool = False,
) -> Kit:  # fmt: skip
    """Reserve the blocks: each counter moves past its block in this transaction, so the
    live system never issues these numbers."""
    from ajeya.billing.numbers import financial_year

    if not system:
        require_perm(actor, Perm.DOWNTIME_KITS)
    _counts(uhids, accessions, receipts)
    department = _department(department)
    today = clock.today()
    counter = _receipt_counter(department) if receipts else None
    with transaction.atomic():
        kit = Kit(department=department, made_at=clock.now(), made_by=actor)
        kit.number = f"K{today.year % 100:02d}{identifiers.allocate('downtime-kit'):05d}"
        if uhids:
            kit.uhid_first = identifiers.allocate(identifiers.UHID_SEQUENCE, uhids)
            kit.uhid_count = uhids
            if kit.uhid_first + uhids > 10**identifiers.UHID_SERIAL_DIGITS:
                raise Conflict("The UHID series is exhausted: no room for this kit.")
        if accessions:
            kit.accession_year = today.year
            kit.accession_first = identifiers.allocate(f"accession:{today.year}", accessions)
            kit.accession_count = accessions
        if receipts:
            kit.counter = counter
            kit.receipt_year = financial_year(today)
            kit.receipt_first = identifiers.allocate(f"r:{counter.code}:{kit.receipt_year}",
                                                     receipts)  # fmt: skip
            kit.receipt_count = receipts
        ledger.create_sealed(kit, actor=actor, reason=f"downtime kit for {department.name}")
    return kit


def _claimable(kind: str, text: str) -> tuple[str, Kit]:
    """The number, normalised, and its kit: refused when it is in no kit, voided, or
    already entered."""
    value = numbers.normalise(kind, text)
    kit = numbers.kit_of(kind, value)
    label = NumberKind(kind).label
    if kit is None:
        raise ValidationFailed(
            {kind: [f"{label} {value} is not in any downtime kit: check the form's number."]}
        )
    void = KitVoid.objects.filter(kind=kind, value=value).select_related("voided_by").first()
    if void is not None:
        raise Conflict(
            f"{label} {value} was voided on {clock.local(void.voided_at):%d-%m-%Y} by "
            f"{void.voided_by.full_name}: {void.reason}"
        )
    used = BackEntry.objects.filter(kind=kind, value=value).select_related("entered_by").first()
    if used is not None:
        raise Conflict(
            f"{label} {value} is already entered (form {used.form_number}, on "
            f"{clock.local(used.entered_at):%d-%m-%Y %H:%M} by {used.entered_by.full_name})."
        )
    return value, kit


def number_void(*, actor, kind: str, value: str, reason: str) -> KitVoid:
    require_perm(actor, Perm.DOWNTIME_KITS)
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_LENGTH:
        raise ValidationFailed({"reason": [f"Say why (at most {REASON_LENGTH} characters)."]})
    with transaction.atomic():
        value, kit = _claimable(kind, value)
        void = KitVoid(kit=kit, kind=kind, value=value, reason=reason, voided_at=clock.now(),
                       voided_by=actor)  # fmt: skip
        ledger.create_sealed(void, actor=actor, reason=reason)
    return void


# -- back-entry ---------------------------------------------------------------------------


def _paper(kit: Kit, form_number: str, written_at: dt.datetime | None) -> Paper:
    form_number = " ".join((form_number or "").split())
    errors = {}
    if not form_number or len(form_number) > 30:
        errors["form_number"] = ["The form's own number, as printed or written (30 at most)."]
    if written_at is None:
        errors["written_at"] = ["When it was written on paper (date and time)."]
    elif written_at > clock.now():
        errors["written_at"] = ["The time on paper cannot be in the future."]
    elif written_at < kit.made_at:
        errors["written_at"] = [
            f"Kit {kit.number} was made {clock.local(kit.made_at):%d-%m-%Y %H:%M}: a form "
            "from it cannot be older. Check the date."
        ]
    if errors:
        raise ValidationFailed(errors)
    return Paper(form_number, written_at)


def _record(kit: Kit, kind: str, value: str, paper: Paper, *, actor, subject) -> BackEntry:
    from ajeya.ledger import registry

    ledgered = registry.for_model(type(subject))
    entry = BackEntry(
        kit=kit, kind=kind, value=value, form_number=paper.form_number,
        written_at=paper.written_at, entered_at=clock.now(), entered_by=actor,
        subject_type=ledgered.subject_type, subject_id=ledgered.subject_id(subject),
    )  # fmt: skip
    try:
        with transaction.atomic():
            ledger.create_sealed(entry, actor=actor, reason=paper.reason(kit))
    except IntegrityError:  # another clerk entered the same form a moment ago
        raise Conflict(
            f"{NumberKind(kind).label} {value} was entered just now by someone else."
        ) from None
    return entry


def backentry_register(
    *, actor, uhid: str, form_number: str, written_at: dt.datetime | None, details: dict
) -> BackEntry:
    """A paper registration form: the patient gets the form's UHID and the time on paper."""
    from ajeya.patients.services import patient_register

    require_perm(actor, Perm.PATIENT_REGISTER)
    with transaction.atomic():
        value, kit = _claimable(NumberKind.UHID, uhid)
        paper = _paper(kit, form_number, written_at)
        patient = patient_register(
            actor=actor, **details, preallocated_uhid=value, registered_at=paper.written_at,
            reason=paper.reason(kit),
        )  # fmt: skip
        return _record(kit, NumberKind.UHID, value, paper, actor=actor, subject=patient)


def backentry_sample(
    *, actor, accession: str, form_number: str, written_at: dt.datetime | None, patient,
    tests: list[str], priority: str, doctor_name: str, clinical_notes: str = "",
) -> BackEntry:  # fmt: skip
    """A paper requisition whose pre-printed label went on one tube: the order and its
    sample under that accession, collected at the time on paper."""
    from ajeya.lab.models import OrderSource
    from ajeya.lab.services import order_create, sample_collect

    with transaction.atomic():
        value, kit = _claimable(NumberKind.ACCESSION, accession)
        paper = _paper(kit, form_number, written_at)
        order = order_create(
            actor=actor, patient=patient, tests=tests, source=OrderSource.WALK_IN,
            priority=priority, referring_doctor=doctor_name, clinical_notes=clinical_notes,
            preallocated_accession=value, ordered_at=paper.written_at, reason=paper.reason(kit),
        )  # fmt: skip
        sample = order.samples.get()
        sample_collect(actor=actor, sample=sample, collected_at=paper.written_at)
        return _record(kit, NumberKind.ACCESSION, value, paper, actor=actor, subject=sample)


def backentry_receipt(
    *, actor, receipt: str, form_number: str, written_at: dt.datetime | None, patient,
    amount, mode: str, reference: str = "", purpose: str,
) -> BackEntry:  # fmt: skip
    """A paper receipt: the money is on the patient's account as an advance deposit under
    the receipt's printed number (charges for what it paid are posted as usual)."""
    from ajeya.billing.models import PaymentKind
    from ajeya.billing.services import account_for, payment_receive

    purpose = " ".join((purpose or "").split())
    if not purpose or len(purpose) > 120:
        raise ValidationFailed({"purpose": ["What the money was for, as on the receipt."]})
    with transaction.atomic():
        value, kit = _claimable(NumberKind.RECEIPT, receipt)
        paper = _paper(kit, form_number, written_at)
        payment = payment_receive(
            actor=actor, account=account_for(patient=patient, actor=actor), counter=kit.counter,
            amount=amount, mode=mode, kind=PaymentKind.DEPOSIT, reference=reference,
            preallocated_number=value, paid_at=paper.written_at,
            reason=f"{paper.reason(kit)}: {purpose}",
        )  # fmt: skip
        return _record(kit, NumberKind.RECEIPT, value, paper, actor=actor, subject=payment)
